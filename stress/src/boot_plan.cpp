// ptlab-stress boot: the boot self-test. What every plan relies on (KVM at EL2, EFI runtime
// services, THP) as checks, and the page-table geometry the running kernel has as one
// "ptlab-fact boot" line that the host judges against what the config at this step
// promises: the guest reports, the host decides.

#include "guest_facts.hpp"
#include "procfs.hpp"
#include "workload.hpp"

#include <filesystem>
#include <iostream>

#include <sys/mman.h>
#include <unistd.h>

namespace ptlab {

namespace {

/// The first message of log holding needle, without its level and timestamp, or empty.
std::string log_line(const std::string &log, const std::string &needle) {
    const auto at = log.find(needle);
    if (at == std::string::npos) {
        return {};
    }
    const auto newline = log.rfind('\n', at);
    std::string line = log.substr(newline == std::string::npos ? 0 : newline + 1);
    line = line.substr(0, line.find('\n'));
    if (const auto stamp = line.find("] "); line.starts_with("<") && stamp != std::string::npos) {
        line.erase(0, stamp + 2); // "<6>[    1.994484] "
    }
    return line;
}

std::size_t entries_in(const std::string &dir) {
    std::error_code ec;
    std::size_t n = 0;
    for (auto it = std::filesystem::directory_iterator(dir, ec);
         !ec && it != std::filesystem::directory_iterator(); it.increment(ec)) {
        ++n;
    }
    return n;
}

/// The widest user address: the stack's top, or a mapping asked for at a 52-bit address
/// (map_high(): granted only when the kernel's VA size is 52 bits and the CPU has FEAT_LVA).
unsigned user_va_bits() {
    std::uint64_t highest = reinterpret_cast<std::uintptr_t>(&highest);
    for (const auto &entry : parse_smaps(read_file("/proc/self/maps"))) {
        if (entry.name == "[stack]") {
            highest = entry.end - 1;
        }
    }
    try {
        const Mapping high = map_high(page_size(), page_size(), PROT_READ, MAP_PRIVATE);
        if (high.get() != nullptr) {
            highest = std::max<std::uint64_t>(
                highest, reinterpret_cast<std::uintptr_t>(high.bytes()) + high.size() - 1);
        }
    } catch (const SysError &) {
        // No address space for a hint: the stack's top answers.
    }
    return address_bits(highest);
}

BootFacts boot_facts() {
    BootFacts facts;
    facts.page_size = page_size();
    facts.pmd_size = read_u64_file("/sys/kernel/mm/transparent_hugepage/hpage_pmd_size");
    facts.va_bits = user_va_bits();
    const auto config = kconfig_values(running_kernel_config());
    if (const auto it = config.find("PGTABLE_LEVELS"); it != config.end()) {
        facts.levels = it->second;
        facts.split_pmd = split_pmd_lock(config);
    }
    return facts;
}

TestNode efi_runtime(const std::string &log) {
    const bool remapped = !log_line(log, "Remapping and enabling EFI services").empty();
    const std::size_t variables = entries_in("/sys/firmware/efi/efivars");
    const std::string rtc = trim(try_read_file("/sys/class/rtc/rtc0/name").value_or(""));
    TestNode t("efi_runtime");
    const bool ok = remapped && variables > 0 && rtc.rfind("rtc-efi", 0) == 0;
    t.result = ok ? Result::Pass : Result::Fail;
    t.diag(ok ? std::to_string(variables) + " variables, rtc0 is rtc-efi"
              : "remap: " + std::string(remapped ? "yes" : "no") +
                    ", efivars: " + std::to_string(variables) + ", rtc0: " + rtc);
    return t;
}

} // namespace

int run_boot() {
    const std::string log = read_kernel_log();
    TestNode boot("boot");
    const bool kvm_device = ::access("/dev/kvm", F_OK) == 0;
    boot.check("kvm_present", kvm_device, kvm_device ? "" : "/dev/kvm missing");
    const std::string el = log_line(log, "CPU(s) started at");
    const bool at_el2 = el.find("All CPU(s) started at EL2") != std::string::npos;
    boot.check("cpu_at_el2", at_el2,
               at_el2       ? ""
               : el.empty() ? "no \"CPU(s) started at\" line"
                            : el);
    const std::string kvm = log_line(log, "mode initialized successfully");
    boot.check("kvm_initialized", !kvm.empty(),
               kvm.empty() ? "no 'mode initialized successfully' from kvm" : kvm);
    boot.children.push_back(efi_runtime(log));
    const std::string thp =
        trim(try_read_file("/sys/kernel/mm/transparent_hugepage/enabled").value_or("missing"));
    boot.check("thp_enabled",
               thp.find("[madvise]") != std::string::npos ||
                   thp.find("[always]") != std::string::npos,
               "transparent_hugepage/enabled: " + thp);
    const BootFacts facts = boot_facts();
    const std::string line = fact_line(facts);
    boot.check("geometry_reported", facts.pmd_size != 0 && !facts.levels.empty(),
               facts.pmd_size != 0 && !facts.levels.empty()
                   ? line
                   : "PMD size or /proc/config.gz missing: " + line);
    write_ktap(std::cout, boot.children, {"ptlab-fact boot " + line});
    return exit_code_for(boot.children);
}

} // namespace ptlab
