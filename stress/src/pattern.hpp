// Page patterns. Every page the thp workload owns carries 64-bit words derived from the page's
// address and a generation number:
//   word[i] = page_seed(salt, page_address, gen) + i * kWordStep
// where page_address is the page's address in its region's own (logical) address space: the
// region's salt stands for its base, so a page keeps its pattern when mremap() moves it. gen 0
// means "never written": the page must read as zeros. A page that reads as the wrong generation,
// another page's data, or zeros where data was written is a mismatch.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>

namespace ptlab {

constexpr std::uint64_t kWordStep = 0x9e3779b97f4a7c15ULL;

// Generations are 30-bit numbers; kGenMaybeZero marks a page whose contents are either the
// pattern of the generation or all zeros (after an operation that failed half-way).
constexpr std::uint32_t kGenMask = 0x3fffffffU;
constexpr std::uint32_t kGenMaybeZero = 0x80000000U;
// kGenGone marks a page that is no longer accessible (a re-map or an mprotect restore that kept
// failing left a hole or a protected page): it is neither written nor checked any more.
constexpr std::uint32_t kGenGone = 0x40000000U;

std::uint64_t page_seed(std::uint64_t salt, std::uint64_t page_address, std::uint32_t gen);

// Expected word at byte offset (a multiple of 8) of a page.
std::uint64_t expected_word(std::uint64_t salt, std::uint64_t page_address, std::uint32_t gen,
                            std::size_t offset);

// Writes the pattern of gen (zeros for gen 0) over one page.
void fill_page(void *page, std::size_t page_size, std::uint64_t salt, std::uint64_t page_address,
               std::uint32_t gen);

struct Mismatch {
    std::size_t offset = 0;       // byte offset in the page of the first differing word
    std::uint64_t expected = 0;   // that word's expected value
    std::uint64_t found = 0;      // and what was read
    std::size_t bad_bytes = 0;    // number of differing bytes in the page
    bool found_other_gen = false; // the page holds another generation's pattern (stale data)
    std::uint32_t other_gen = 0;  // ... that generation, when recognised
};

// Checks one page against the pattern of gen (or zeros, or either when gen has kGenMaybeZero).
// Returns the first mismatch, if any.
std::optional<Mismatch> verify_page(const void *page, std::size_t page_size, std::uint64_t salt,
                                    std::uint64_t page_address, std::uint32_t gen);

} // namespace ptlab
