// A lab in a temporary folder with a fake kernel tree in the spirit of tuxmake's
// test/fakelinux: build/linux is a real git repository whose Makefile answers tinyconfig,
// olddefconfig, Image, modules and M=... modules in milliseconds. Its Image names the console
// the fake QEMU replays for it ("fake-console=<path>", from the tree's file `console`), so
// a commit can be made to boot clean, panic or hang; a file `broken` makes it fail to build.
// Its selftests build one test per suite (vm, kvm) the same way. configs/ and rootfs/ are the
// lab's own; module/ is a stand-in.
#pragma once

#include "ptlab/layout.hpp"
#include "ptlab/tree.hpp"

#include <filesystem>
#include <string>

namespace ptlab::testing {

class FakeLab {
public:
    FakeLab();
    ~FakeLab();
    FakeLab(const FakeLab &) = delete;
    FakeLab &operator=(const FakeLab &) = delete;

    [[nodiscard]] const Layout &layout() const { return layout_; }
    [[nodiscard]] Tree tree() const { return Tree(layout_.src()); }
    /// A commit on HEAD whose kernel boots to the fixture console `fixture`; broken: it
    /// does not build. Returns its sha.
    std::string commit(const std::string &subject, const std::string &fixture, bool broken = false);
    void tag(const std::string &name) const;
    /// A machine description whose binary is the fake QEMU.
    [[nodiscard]] std::filesystem::path machine() const { return root_ / "machine.json"; }
    [[nodiscard]] const std::filesystem::path &root() const { return root_; }

private:
    void write_selftests() const;

    std::filesystem::path root_;
    Layout layout_;
};

} // namespace ptlab::testing
