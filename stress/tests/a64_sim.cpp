#include "a64_sim.hpp"

#include <cstdio>
#include <string>

namespace ptlab::a64sim {

std::uint64_t Machine::load(std::uint64_t addr) const {
    if (addr % 8 != 0) {
        throw std::runtime_error("unaligned load");
    }
    const auto it = mem.find(addr);
    return it == mem.end() ? 0 : it->second;
}

namespace {

std::int64_t sext(std::uint64_t v, unsigned bits) {
    const std::uint64_t m = 1ULL << (bits - 1);
    return static_cast<std::int64_t>((v ^ m) - m);
}

bool cond_holds(const Machine &m, unsigned cond) {
    bool r = false;
    switch (cond >> 1) {
    case 0:
        r = m.z;
        break;
    case 1:
        r = m.c;
        break;
    case 2:
        r = m.n;
        break;
    case 3:
        r = m.v;
        break;
    case 4:
        r = m.c && !m.z;
        break;
    case 5:
        r = m.n == m.v;
        break;
    case 6:
        r = m.n == m.v && !m.z;
        break;
    default:
        r = true;
        break;
    }
    return (cond & 1) != 0 && cond != 15 ? !r : r;
}

void set_sub_flags(Machine &m, std::uint64_t a, std::uint64_t b) {
    const std::uint64_t r = a - b;
    m.n = (r >> 63) != 0;
    m.z = r == 0;
    m.c = a >= b;
    m.v = (((a ^ b) & (a ^ r)) >> 63) != 0;
}

[[noreturn]] void unsupported(std::uint32_t insn, std::uint64_t pc) {
    char buf[96];
    std::snprintf(buf, sizeof buf, "unsupported instruction %08x at %llx", insn,
                  static_cast<unsigned long long>(pc));
    throw std::runtime_error(buf);
}

} // namespace

Exit run_until_store(Machine &m, std::uint64_t exit_addr, std::uint64_t max_steps) {
    for (std::uint64_t step = 0; step < max_steps; ++step) {
        if (m.pc < m.code_base || m.pc >= m.code_base + m.code.size() * 4 || m.pc % 4 != 0) {
            throw std::runtime_error("PC outside the program");
        }
        const std::uint32_t i = m.code[(m.pc - m.code_base) / 4];
        const unsigned rd = i & 31;
        const unsigned rn = (i >> 5) & 31;
        const unsigned rm = (i >> 16) & 31;
        auto reg = [&](unsigned r) { return r == 31 ? 0 : m.x[r]; };
        auto set = [&](unsigned r, std::uint64_t v) {
            if (r != 31) {
                m.x[r] = v;
            }
        };
        std::uint64_t next = m.pc + 4;
        if ((i & 0xff800000U) == 0xd2800000U) { // MOVZ
            const unsigned sh = ((i >> 21) & 3) * 16;
            set(rd, static_cast<std::uint64_t>((i >> 5) & 0xffff) << sh);
        } else if ((i & 0xff800000U) == 0xf2800000U) { // MOVK
            const unsigned sh = ((i >> 21) & 3) * 16;
            const std::uint64_t mask = 0xffffULL << sh;
            set(rd, (reg(rd) & ~mask) | (static_cast<std::uint64_t>((i >> 5) & 0xffff) << sh));
        } else if ((i & 0xffc00000U) == 0xf9400000U) { // LDR X, [Xn, #imm]
            set(rd, m.load(m.x[rn] + std::uint64_t{(i >> 10) & 0xfff} * 8));
        } else if ((i & 0xffc00000U) == 0xf9000000U) { // STR X, [Xn, #imm]
            const std::uint64_t addr = m.x[rn] + std::uint64_t{(i >> 10) & 0xfff} * 8;
            if (addr == exit_addr) {
                return {addr, reg(rd), step + 1};
            }
            m.store(addr, reg(rd));
        } else if ((i & 0xff800000U) == 0x91000000U || (i & 0xff800000U) == 0xd1000000U ||
                   (i & 0xff800000U) == 0xf1000000U) { // ADD/SUB/SUBS immediate
            std::uint64_t imm = (i >> 10) & 0xfff;
            if ((i >> 22) & 1) {
                imm <<= 12;
            }
            const std::uint64_t a = m.x[rn]; // Rn = 31 would be SP: not used
            if ((i & 0xff800000U) == 0x91000000U) {
                set(rd, a + imm);
            } else {
                if ((i & 0xff800000U) == 0xf1000000U) {
                    set_sub_flags(m, a, imm);
                }
                set(rd, a - imm);
            }
        } else if ((i & 0xffe0fc00U) == 0x8b000000U) { // ADD (shifted register, LSL #0)
            set(rd, reg(rn) + reg(rm));
        } else if ((i & 0xffe0fc00U) == 0xeb000000U) { // SUBS (shifted register)
            set_sub_flags(m, reg(rn), reg(rm));
            set(rd, reg(rn) - reg(rm));
        } else if ((i & 0xffe0fc00U) == 0xca000000U) { // EOR (shifted register)
            set(rd, reg(rn) ^ reg(rm));
        } else if ((i & 0xfc000000U) == 0x14000000U) { // B
            next = m.pc + static_cast<std::uint64_t>(sext(i & 0x3ffffff, 26) * 4);
        } else if ((i & 0xff000010U) == 0x54000000U) { // B.cond
            if (cond_holds(m, i & 15)) {
                next = m.pc + static_cast<std::uint64_t>(sext((i >> 5) & 0x7ffff, 19) * 4);
            }
        } else if ((i & 0xff000000U) == 0xb4000000U || (i & 0xff000000U) == 0xb5000000U) {
            const bool nz = (i & 0x01000000U) != 0; // CBZ / CBNZ
            if ((reg(rd) != 0) == nz) {
                next = m.pc + static_cast<std::uint64_t>(sext((i >> 5) & 0x7ffff, 19) * 4);
            }
        } else if (i == 0xd503201fU) { // NOP
        } else {
            unsupported(i, m.pc);
        }
        m.pc = next;
    }
    throw std::runtime_error("no exit store within the step limit");
}

} // namespace ptlab::a64sim
