#include "fake_tree.hpp"

#include "fixture.hpp"
#include "ptlab/lines.hpp"
#include "ptlab/process.hpp"

#include <gtest/gtest.h>

#include <cstdlib>
#include <fstream>
#include <stdexcept>
#include <unistd.h>

namespace ptlab::testing {

namespace fs = std::filesystem;

namespace {

const char *fake_makefile = R"MK(# A fake kernel: each target in milliseconds.
O ?= .
tinyconfig:
	@mkdir -p $(O) && echo '# tinyconfig' > $(O)/.config
olddefconfig:
	@true
Image:
	@test ! -e $(CURDIR)/broken || { echo 'fake: this commit does not build' >&2; exit 2; }
	@mkdir -p $(O)/arch/arm64/boot
	@{ cat $(O)/.config; echo "fake-console=$$(cat $(CURDIR)/console)"; } > $(O)/arch/arm64/boot/Image
	@touch $(O)/vmlinux
modules:
	@if [ -n "$(M)" ]; then echo fake > $(M)/ptlab_audit.ko; fi
headers_install:
	@mkdir -p $(O)/usr/include/linux && echo '/* fake uapi */' > $(O)/usr/include/linux/fake.h
.PHONY: tinyconfig olddefconfig Image modules headers_install
)MK";

// The selftests: vm builds one test, and only for the machine and headers it is told (6.1's
// vm/Makefile takes the machine from uname -m); kvm builds one, unless the tree has a file
// tools/testing/selftests/kvm/broken.
const char *fake_vm_makefile = R"MK(all:
	@test "$(MACHINE)" = arm64 || { echo "fake vm: MACHINE=$(MACHINE)" >&2; exit 2; }
	@test -d "$(lastword $(KHDR_INCLUDES))" || { echo "fake vm: no uapi headers" >&2; exit 2; }
	@printf '#!/bin/sh\necho fake vm test\n' > $(OUTPUT)/fake_vm_test && chmod +x $(OUTPUT)/fake_vm_test
	@touch $(OUTPUT)/fake_vm_test.o
)MK";

const char *fake_kvm_makefile = R"MK(all:
	@test ! -e $(CURDIR)/broken || { echo 'fake kvm: does not build' >&2; exit 2; }
	@mkdir -p $(OUTPUT)/aarch64
	@printf '#!/bin/sh\necho fake kvm test\n' > $(OUTPUT)/aarch64/fake_kvm_test && chmod +x $(OUTPUT)/aarch64/fake_kvm_test
)MK";

// merge_config.sh -m -O DIR BASE FRAGMENT...: the last word on each symbol wins.
const char *fake_merge_config = R"SH(#!/bin/sh
shift; shift; dir=$1; shift
cat "$@" | awk '{ if (match($0, /CONFIG_[A-Za-z0-9_]+/)) { k = substr($0, RSTART, RLENGTH);
  if (!(k in v)) order[n++] = k; v[k] = $0 } }
  END { for (i = 0; i < n; i++) print v[order[i]] }' > "$dir/.config.new"
mv "$dir/.config.new" "$dir/.config"
)SH";

void write(const fs::path &path, const std::string &text, bool executable = false) {
    fs::create_directories(path.parent_path());
    std::ofstream(path, std::ios::trunc) << text;
    if (executable) {
        fs::permissions(path, fs::perms::owner_all | fs::perms::group_read | fs::perms::group_exec |
                                  fs::perms::others_read | fs::perms::others_exec);
    }
}

void git(const Layout &layout, const std::vector<std::string> &args) {
    std::vector<std::string> argv = {"git",
                                     "-C",
                                     layout.src().string(),
                                     "-c",
                                     "user.name=Fake Author",
                                     "-c",
                                     "user.email=fake@example.org"};
    argv.insert(argv.end(), args.begin(), args.end());
    ProcessOptions quiet;
    quiet.log = "/dev/null";
    quiet.stdout_file = "/dev/null";
    if (run_process(argv, quiet) != 0) {
        throw std::runtime_error("fake tree: git failed");
    }
}

} // namespace

FakeLab::FakeLab() {
    root_ = fs::temp_directory_path() /
            ("ptlab-lab-" + std::to_string(getpid()) + "-" +
             ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(root_);
    const fs::path top = root_ / "lab";
    fs::create_directories(top);
    const fs::path real = fs::path(PTLAB_GEOMETRY_DIR).parent_path().parent_path();
    fs::create_directory_symlink(real / "configs", top / "configs");
    fs::create_directory_symlink(real / "rootfs", top / "rootfs");
    write(top / "module/fake.c", "/* the lab's module, faked */\n");
    layout_ = Layout::at(top);

    write(layout_.src() / "Makefile", fake_makefile);
    write(layout_.src() / "scripts/kconfig/merge_config.sh", fake_merge_config, true);
    write(layout_.src() / "console", fixture_path("real-4k48-head-boot.log").string() + "\n");
    write_selftests();
    git(layout_, {"init", "-q"});
    git(layout_, {"add", "-A"});
    git(layout_, {"commit", "-q", "-m", "fake: pristine"});
    git(layout_, {"tag", "pristine"});
    git(layout_, {"checkout", "-q", "--detach"});

    // The guest's user space is the lab's glue scripts' job: here, already built.
    write(top / "scripts/stress.sh", "#!/bin/sh\nexit 0\n", true);
    write(top / "scripts/rootfs.sh", "#!/bin/sh\necho \"$0\" ran >&2\n", true);
    // What make rootfs would have made.
    write(layout_.base_initramfs(), "base-archive");
    write(layout_.gen_init_cpio(), "#!/bin/sh\ncat \"$3\"\n", true);
    std::string text = read_text_file(fixture_path("machine-fake.json"));
    std::string binary = "\"";
    binary.append(FAKE_QEMU).append("\"");
    text.replace(text.find("\"fake-qemu\""), 11, binary);
    write(machine(), text);
}

FakeLab::~FakeLab() {
    if (!std::getenv("PTLAB_KEEP_LAB"))
        fs::remove_all(root_);
}

std::string FakeLab::commit(const std::string &subject, const std::string &fixture, bool broken) {
    write(layout_.src() / "console", fixture_path(fixture).string() + "\n");
    if (broken) {
        write(layout_.src() / "broken", "\n");
    } else {
        fs::remove(layout_.src() / "broken");
    }
    git(layout_, {"add", "-A"});
    git(layout_, {"commit", "-q", "--allow-empty", "-m", subject});
    return tree().head();
}

void FakeLab::write_selftests() const {
    const fs::path src = layout_.src();
    write(src / "tools/testing/selftests/vm/Makefile", fake_vm_makefile);
    write(src / "tools/testing/selftests/kvm/Makefile", fake_kvm_makefile);
    // The rest of what a selftest build is named after.
    for (const char *path :
         {"tools/testing/selftests/lib.mk", "tools/testing/selftests/kselftest.h",
          "tools/include/fake.h", "tools/arch/arm64/fake.h", "tools/lib/fake.c",
          "include/uapi/fake.h", "arch/arm64/include/uapi/fake.h", "scripts/headers_install.sh"}) {
        write(src / path, "/* fake */\n");
    }
}

void FakeLab::tag(const std::string &name) const { git(layout_, {"tag", "-f", name}); }

} // namespace ptlab::testing
