// A tiny AArch64 interpreter for the unit tests: just the instructions the guest-code
// generator emits (MOVZ/MOVK, LDR/STR X unsigned offset, ADD/SUB/SUBS immediate, ADD/SUBS/EOR
// shifted register, B, B.cond, CBZ/CBNZ, NOP), on a sparse 64-bit word memory. It runs a guest
// program as the vCPU would with the MMU off, and stops at a store to the exit address (the
// KVM_EXIT_MMIO of the real VM).
#pragma once

#include <cstdint>
#include <map>
#include <stdexcept>
#include <vector>

namespace ptlab::a64sim {

struct Machine {
    std::uint64_t x[32] = {}; // x[31] reads as zero (XZR); SP is not modelled
    std::uint64_t pc = 0;
    bool n = false, z = false, c = false, v = false;
    std::map<std::uint64_t, std::uint64_t> mem; // 8-byte aligned words
    std::uint64_t code_base = 0;
    std::vector<std::uint32_t> code;

    std::uint64_t load(std::uint64_t addr) const;
    void store(std::uint64_t addr, std::uint64_t value) { mem[addr] = value; }
};

struct Exit {
    std::uint64_t addr = 0;  // where the exit store went
    std::uint64_t value = 0; // what it stored
    std::uint64_t steps = 0;
};

// Runs from m.pc until a store to exit_addr (returned) or max_steps (throws). Unknown or
// unsupported encodings throw std::runtime_error with the word and its address.
Exit run_until_store(Machine &m, std::uint64_t exit_addr, std::uint64_t max_steps = 10000000);

} // namespace ptlab::a64sim
