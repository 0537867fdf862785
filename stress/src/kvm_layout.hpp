// Guest-physical layout of the kvm workload's VMs (pure functions, unit-tested on the host).
//
// The guest runs with its stage-1 MMU off, so its addresses are IPAs. Everything sits below
// 4 GiB so that the smallest IPA size (32 bits) fits; moved slots go near the top of the IPA
// space when it is larger, so that the stage-2 walk uses other table entries at every level.
//   0x3000_0000            exit address: in no memslot, a store there is KVM_EXIT_MMIO
//   0x4000_0000            code slot (one 64 KiB or larger page): program + parameter block
//   0x6000_0000            small-page slot (MADV_NOHUGEPAGE memory)
//   0x8000_0000            THP slot (PMD-aligned, MADV_HUGEPAGE memory)
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace ptlab::kvmlayout {

constexpr std::uint64_t kExitGpa = 0x30000000;
constexpr std::uint64_t kCodeGpa = 0x40000000;
constexpr std::uint64_t kParamOffset = 0x800;
constexpr std::uint64_t kSmallGpa = 0x60000000;
constexpr std::uint64_t kThpGpa = 0x80000000;

// IPA sizes to test: 32, 36, 40, 44 and 48 bits as far as max_ipa_bits allows (52 only when
// asked for: see README.md), or the sizes asked for that the host allows.
std::vector<unsigned> ipa_sizes(unsigned max_ipa_bits, const std::vector<unsigned> &wanted = {});

// The stage-2 translation levels KVM gives a VM of ipa_bits on a host with this page size:
// stage-2 tables are host pages, so the granule is the host's. Linux 6.1 kvm_get_vtcr():
// ARM64_HW_PGTABLE_LEVELS(ipa - 4), up to 16 tables concatenated at the first level save one,
// and never fewer than 2 levels.
unsigned stage2_levels(unsigned ipa_bits, std::uint64_t page);

// "36-bit IPA: 2 levels, 40-bit IPA: 3 levels, ..." for these IPA sizes.
std::string stage2_summary(const std::vector<unsigned> &ipas, std::uint64_t page);

struct Layout {
    unsigned ipa_bits = 0;
    std::uint64_t code_gpa = kCodeGpa;
    std::uint64_t code_size = 0;
    std::uint64_t small_gpa = kSmallGpa;
    std::uint64_t small_alt_gpa = 0; // where the small slot goes when it is re-created
    std::uint64_t small_size = 0;
    std::uint64_t thp_gpa = kThpGpa;
    std::uint64_t thp_alt_gpa = 0; // where the THP slot moves to (PMD-aligned)
    std::uint64_t thp_size = 0;
    std::uint64_t exit_gpa = kExitGpa;
};

// Throws std::invalid_argument when the sizes do not fit the IPA space.
Layout make_layout(unsigned ipa_bits, std::uint64_t page, std::uint64_t pmd,
                   std::uint64_t small_size, std::uint64_t thp_size);

// Empty when the layout is sound (slots aligned, disjoint, inside the IPA space, the exit
// address in no slot, alternatives disjoint from the other slots); else what is wrong.
std::string layout_problem(const Layout &l, std::uint64_t page, std::uint64_t pmd);

// Stride pass over a slot: `count` accesses `stride` bytes apart from `offset`, within `size`.
struct Stride {
    std::uint64_t offset = 0;
    std::uint64_t stride = 0;
    std::uint64_t count = 0;
};
// A stride of k pages (k from the caller's random choice, clamped) with up to max_count steps.
Stride make_stride(std::uint64_t size, std::uint64_t page, std::uint64_t k, std::uint64_t offset16,
                   std::uint64_t max_count);

} // namespace ptlab::kvmlayout
