#include "kvm_layout.hpp"

#include "common.hpp"

#include <algorithm>
#include <stdexcept>

namespace ptlab::kvmlayout {

std::vector<unsigned> ipa_sizes(unsigned max_ipa_bits, const std::vector<unsigned> &wanted) {
    static const std::vector<unsigned> kDefault = {32, 36, 40, 44, 48};
    std::vector<unsigned> out;
    for (const unsigned b : wanted.empty() ? kDefault : wanted) {
        if (b >= 32 && b <= max_ipa_bits && std::find(out.begin(), out.end(), b) == out.end()) {
            out.push_back(b);
        }
    }
    return out;
}

unsigned stage2_levels(unsigned ipa_bits, std::uint64_t page) {
    unsigned page_shift = 0;
    while ((std::uint64_t{1} << page_shift) < page) {
        ++page_shift;
    }
    const unsigned levels = (ipa_bits - 8) / (page_shift - 3);
    return std::max(levels, 2U);
}

std::string stage2_summary(const std::vector<unsigned> &ipas, std::uint64_t page) {
    std::string out;
    for (const unsigned b : ipas) {
        out += (out.empty() ? "" : ", ") + std::to_string(b) +
               "-bit IPA: " + std::to_string(stage2_levels(b, page)) + " levels";
    }
    return out;
}

Layout make_layout(unsigned ipa_bits, std::uint64_t page, std::uint64_t pmd,
                   std::uint64_t small_size, std::uint64_t thp_size) {
    if (ipa_bits < 32 || ipa_bits > 52) {
        throw std::invalid_argument("IPA size must be 32..52 bits");
    }
    Layout l;
    l.ipa_bits = ipa_bits;
    l.code_size = std::max<std::uint64_t>(page, 0x10000);
    l.small_size = align_up(small_size, page);
    l.thp_size = align_up(thp_size, page);
    const std::uint64_t top = 1ULL << ipa_bits;
    l.thp_alt_gpa = align_down(top - align_up(l.thp_size, pmd) - pmd, pmd);
    l.small_alt_gpa = ipa_bits == 32 ? 0x70000000ULL : top / 2 + 0x10000000ULL;
    const std::string problem = layout_problem(l, page, pmd);
    if (!problem.empty()) {
        throw std::invalid_argument(problem);
    }
    return l;
}

namespace {

bool overlap(std::uint64_t a, std::uint64_t alen, std::uint64_t b, std::uint64_t blen) {
    return a < b + blen && b < a + alen;
}

} // namespace

std::string layout_problem(const Layout &l, std::uint64_t page, std::uint64_t pmd) {
    const std::uint64_t top = 1ULL << l.ipa_bits;
    struct S {
        const char *name;
        std::uint64_t gpa;
        std::uint64_t size;
        std::uint64_t align;
    };
    const S slots[] = {{"code", l.code_gpa, l.code_size, page},
                       {"small", l.small_gpa, l.small_size, page},
                       {"small (re-created)", l.small_alt_gpa, l.small_size, page},
                       {"thp", l.thp_gpa, l.thp_size, pmd},
                       {"thp (moved)", l.thp_alt_gpa, l.thp_size, pmd}};
    for (const auto &s : slots) {
        if (s.size == 0 || s.gpa % s.align != 0 || s.size % page != 0) {
            return std::string(s.name) + " slot not aligned";
        }
        if (s.gpa + s.size > top || s.gpa + s.size < s.gpa) {
            return std::string(s.name) + " slot outside the " + std::to_string(l.ipa_bits) +
                   "-bit IPA space";
        }
        if (overlap(l.exit_gpa, 8, s.gpa, s.size)) {
            return std::string("exit address inside the ") + s.name + " slot";
        }
    }
    if (l.code_size < kParamOffset + 64) {
        return "code slot too small for the parameter block";
    }
    // Any two slots that can exist at the same time must be disjoint: code with everything;
    // each of small/small-alt with each of thp/thp-alt.
    for (std::size_t i = 1; i < 5; ++i) {
        if (overlap(slots[0].gpa, slots[0].size, slots[i].gpa, slots[i].size)) {
            return std::string("code slot overlaps the ") + slots[i].name + " slot";
        }
    }
    for (std::size_t i = 1; i <= 2; ++i) {
        for (std::size_t j = 3; j <= 4; ++j) {
            if (overlap(slots[i].gpa, slots[i].size, slots[j].gpa, slots[j].size)) {
                return std::string(slots[i].name) + " slot overlaps the " + slots[j].name + " slot";
            }
        }
    }
    return {};
}

Stride make_stride(std::uint64_t size, std::uint64_t page, std::uint64_t k, std::uint64_t offset16,
                   std::uint64_t max_count) {
    Stride s;
    const std::uint64_t pages = size / page;
    k = std::clamp<std::uint64_t>(k, 1, std::max<std::uint64_t>(pages, 1));
    s.stride = k * page;
    // Keep both words (offset, offset + 8) inside the first page.
    s.offset = (offset16 * 16) % (page - 16);
    s.count = std::min<std::uint64_t>(max_count, (size - s.offset - 16) / s.stride + 1);
    return s;
}

} // namespace ptlab::kvmlayout
