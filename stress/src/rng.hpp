// Seeded pseudo-random numbers. Every random choice the tool makes comes from a Rng derived from
// the run's --seed, so the sequence of operations of each thread is reproducible from the seed
// (the interleaving of threads, of course, is not).
#pragma once

#include <cstdint>
#include <string_view>

namespace ptlab {

// SplitMix64 (Steele, Lea, Flood 2014): the standard seeder for xoshiro.
constexpr std::uint64_t splitmix64(std::uint64_t &state) {
    std::uint64_t z = (state += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

// A stateless 64-bit mix of one value (the SplitMix64 finaliser).
constexpr std::uint64_t mix64(std::uint64_t x) {
    std::uint64_t s = x;
    return splitmix64(s);
}

// FNV-1a of a name: stream identifiers ("thp", "kvm") for derive_seed.
constexpr std::uint64_t name_hash(std::string_view s) {
    std::uint64_t h = 0xcbf29ce484222325ULL;
    for (const char c : s) {
        h = (h ^ static_cast<unsigned char>(c)) * 0x100000001b3ULL;
    }
    return h;
}

// The seed of one stream (workload, thread) of a run.
constexpr std::uint64_t derive_seed(std::uint64_t run_seed, std::string_view stream,
                                    std::uint64_t index) {
    return mix64(run_seed ^ mix64(name_hash(stream) + index));
}

// xoshiro256** 1.0 (Blackman, Vigna).
class Rng {
public:
    explicit constexpr Rng(std::uint64_t seed) {
        std::uint64_t sm = seed;
        for (auto &w : s_) {
            w = splitmix64(sm);
        }
    }

    constexpr std::uint64_t next() {
        const std::uint64_t result = rotl(s_[1] * 5, 7) * 9;
        const std::uint64_t t = s_[1] << 17;
        s_[2] ^= s_[0];
        s_[3] ^= s_[1];
        s_[1] ^= s_[2];
        s_[0] ^= s_[3];
        s_[2] ^= t;
        s_[3] = rotl(s_[3], 45);
        return result;
    }

    // Uniform in [0, n), n > 0 (Lemire's multiply-shift, unbiased by rejection).
    constexpr std::uint64_t below(std::uint64_t n) {
        if (n <= 1) {
            return 0;
        }
        const std::uint64_t threshold = (0 - n) % n;
        for (;;) {
            const std::uint64_t x = next();
            const unsigned __int128 m = static_cast<unsigned __int128>(x) * n;
            if (static_cast<std::uint64_t>(m) >= threshold) {
                return static_cast<std::uint64_t>(m >> 64);
            }
        }
    }

    // Uniform in [lo, hi].
    constexpr std::uint64_t between(std::uint64_t lo, std::uint64_t hi) {
        return lo + below(hi - lo + 1);
    }

    // True with probability num/den.
    constexpr bool chance(std::uint64_t num, std::uint64_t den) { return below(den) < num; }

private:
    static constexpr std::uint64_t rotl(std::uint64_t x, int k) {
        return (x << k) | (x >> (64 - k));
    }
    std::uint64_t s_[4]{};
};

} // namespace ptlab
