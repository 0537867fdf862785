#include "pattern.hpp"

#include "rng.hpp"

#include <cstring>

namespace ptlab {

std::uint64_t page_seed(std::uint64_t salt, std::uint64_t page_address, std::uint32_t gen) {
    return mix64(salt ^ mix64(page_address ^ (static_cast<std::uint64_t>(gen & kGenMask) << 40) ^
                              (static_cast<std::uint64_t>(gen & kGenMask) >> 24)));
}

std::uint64_t expected_word(std::uint64_t salt, std::uint64_t page_address, std::uint32_t gen,
                            std::size_t offset) {
    if ((gen & kGenMask) == 0) {
        return 0;
    }
    return page_seed(salt, page_address, gen) + (offset / 8) * kWordStep;
}

void fill_page(void *page, std::size_t page_size, std::uint64_t salt, std::uint64_t page_address,
               std::uint32_t gen) {
    auto *w = static_cast<std::uint64_t *>(page);
    const std::size_t n = page_size / 8;
    if ((gen & kGenMask) == 0) {
        std::memset(page, 0, page_size);
        return;
    }
    std::uint64_t v = page_seed(salt, page_address, gen);
    for (std::size_t i = 0; i < n; ++i) {
        w[i] = v;
        v += kWordStep;
    }
}

namespace {

// Index of the first word that differs from the pattern starting at seed (or zeros), or n.
std::size_t first_diff(const std::uint64_t *w, std::size_t n, std::uint64_t seed, bool zero) {
    if (zero) {
        for (std::size_t i = 0; i < n; ++i) {
            if (w[i] != 0) {
                return i;
            }
        }
        return n;
    }
    std::uint64_t v = seed;
    for (std::size_t i = 0; i < n; ++i) {
        if (w[i] != v) {
            return i;
        }
        v += kWordStep;
    }
    return n;
}

std::size_t count_bad_bytes(const std::uint64_t *w, std::size_t n, std::uint64_t seed, bool zero) {
    std::size_t bad = 0;
    std::uint64_t v = zero ? 0 : seed;
    for (std::size_t i = 0; i < n; ++i) {
        std::uint64_t x = w[i] ^ v;
        while (x != 0) {
            if ((x & 0xff) != 0) {
                ++bad;
            }
            x >>= 8;
        }
        if (!zero) {
            v += kWordStep;
        }
    }
    return bad;
}

} // namespace

std::optional<Mismatch> verify_page(const void *page, std::size_t page_size, std::uint64_t salt,
                                    std::uint64_t page_address, std::uint32_t gen) {
    // The page may have been written by another thread or process since the compiler last saw
    // it; make sure every word is loaded from memory.
    asm volatile("" ::: "memory");
    const auto *w = static_cast<const std::uint64_t *>(page);
    const std::size_t n = page_size / 8;
    const std::uint32_t g = gen & kGenMask;
    const bool want_zero = g == 0;
    const std::uint64_t seed = want_zero ? 0 : page_seed(salt, page_address, g);
    const std::size_t i = first_diff(w, n, seed, want_zero);
    if (i == n) {
        return std::nullopt;
    }
    if ((gen & kGenMaybeZero) != 0 && !want_zero && first_diff(w, n, 0, true) == n) {
        return std::nullopt;
    }
    Mismatch m;
    m.offset = i * 8;
    m.expected = want_zero ? 0 : seed + i * kWordStep;
    m.found = w[i];
    m.bad_bytes = count_bad_bytes(w, n, seed, want_zero);
    // Stale data: the first word of the page is that of a nearby older or newer generation.
    for (std::uint32_t d = 1; d <= 4 && !m.found_other_gen; ++d) {
        for (const std::uint32_t cand : {g - d, g + d}) {
            if ((cand & kGenMask) != 0 && cand != g &&
                w[0] == page_seed(salt, page_address, cand)) {
                m.found_other_gen = true;
                m.other_gen = cand & kGenMask;
                break;
            }
        }
    }
    return m;
}

} // namespace ptlab
