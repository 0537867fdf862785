// A tiny AArch64 assembler for the kvm workload's guest programs: one function per instruction
// form, returning its 32-bit encoding (Arm ARM, A64 base instructions), and a program generator.
// Invalid operands (an immediate out of range, a misaligned offset) throw std::invalid_argument.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace ptlab::a64 {

// General-purpose 64-bit registers X0..X30; 31 is XZR (or SP, where the form says so).
// clang-format off
enum Reg : std::uint8_t {
    X0, X1, X2, X3, X4, X5, X6, X7, X8, X9, X10, X11, X12, X13, X14, X15,
    X16, X17, X18, X19, X20, X21, X22, X23, X24, X25, X26, X27, X28, X29, X30, XZR
};
// clang-format on

enum class Cond : std::uint8_t { EQ = 0, NE = 1, HS = 2, LO = 3, MI = 4, PL = 5, HI = 8, LS = 9 };

std::uint32_t movz(Reg rd, std::uint16_t imm16, unsigned shift = 0); // shift: 0, 16, 32, 48
std::uint32_t movk(Reg rd, std::uint16_t imm16, unsigned shift = 0);
// LDR/STR Xt, [Xn|SP, #offset]: unsigned offset, a multiple of 8 up to 32760.
std::uint32_t ldr(Reg rt, Reg rn, std::uint32_t offset = 0);
std::uint32_t str(Reg rt, Reg rn, std::uint32_t offset = 0);
// 32-bit STR Wt, [Xn|SP, #offset]: a multiple of 4 up to 16380.
std::uint32_t str_w(Reg rt, Reg rn, std::uint32_t offset = 0);
// ADD/SUB/SUBS (immediate), 64-bit: imm12 (0..4095), optionally shifted left by 12.
std::uint32_t add_imm(Reg rd, Reg rn, std::uint32_t imm12, bool lsl12 = false);
std::uint32_t sub_imm(Reg rd, Reg rn, std::uint32_t imm12, bool lsl12 = false);
std::uint32_t subs_imm(Reg rd, Reg rn, std::uint32_t imm12, bool lsl12 = false);
// ADD/SUBS/EOR (shifted register, no shift), 64-bit.
std::uint32_t add_reg(Reg rd, Reg rn, Reg rm);
std::uint32_t subs_reg(Reg rd, Reg rn, Reg rm);
std::uint32_t eor_reg(Reg rd, Reg rn, Reg rm);
std::uint32_t cmp_reg(Reg rn, Reg rm); // SUBS XZR, Xn, Xm
// Branches; offsets are in bytes from the branch instruction, multiples of 4.
std::uint32_t b(std::int64_t offset);              // +-128 MiB
std::uint32_t b_cond(Cond c, std::int64_t offset); // +-1 MiB
std::uint32_t cbz(Reg rt, std::int64_t offset);    // +-1 MiB
std::uint32_t cbnz(Reg rt, std::int64_t offset);   // +-1 MiB
std::uint32_t nop();

// movz/movk sequence loading a 64-bit constant (1 to 4 instructions).
std::vector<std::uint32_t> mov_imm64(Reg rd, std::uint64_t value);

// Assembler with forward and backward labels.
class Assembler {
public:
    using Label = std::size_t;
    Label new_label();
    void bind(Label l); // the label points at the next instruction
    void emit(std::uint32_t insn) { code_.push_back(insn); }
    void emit(const std::vector<std::uint32_t> &insns);
    // Branches to a label, resolved by finish().
    void b(Label l);
    void b_cond(Cond c, Label l);
    void cbz(Reg rt, Label l);
    void cbnz(Reg rt, Label l);
    [[nodiscard]] std::size_t size() const { return code_.size(); }
    std::vector<std::uint32_t> finish(); // throws if a label is unbound

private:
    enum class Kind { B, BCond, Cbz, Cbnz };
    struct Fixup {
        std::size_t at;
        Label label;
        Kind kind;
        Cond cond;
        Reg reg;
    };
    std::vector<std::uint32_t> code_;
    std::vector<std::int64_t> labels_; // -1 while unbound
    std::vector<Fixup> fixups_;
};

// The guest program of the kvm workload. It runs at EL1 with the MMU off (so addresses are
// IPAs), in a loop:
//   start: load parameters from the parameter block at param_ipa:
//            +0 base, +8 count, +16 stride, +24 tag, +32 exit address, +40 host tag
//          for i in 0..count-1, at a = base + i * stride:
//            store a ^ tag at a; check that the word at a + 8 is a ^ host tag (the host wrote it)
//          for i in 0..count-1: check that the word at a reads back as a ^ tag
//          store the number of failed checks to the exit address (unmapped: KVM_EXIT_MMIO)
//          branch to start
// The host sets new parameters before each KVM_RUN; KVM resumes after the MMIO store.
struct GuestParams {
    static constexpr std::uint32_t kBase = 0;
    static constexpr std::uint32_t kCount = 8;
    static constexpr std::uint32_t kStride = 16;
    static constexpr std::uint32_t kTag = 24;
    static constexpr std::uint32_t kExit = 32;
    static constexpr std::uint32_t kHostTag = 40;
    static constexpr std::uint32_t kSize = 48;
};
std::vector<std::uint32_t> guest_stride_program(std::uint64_t param_ipa);

// One line per instruction ("0x... movz" style is not attempted: just the hex words).
std::string hexdump(const std::vector<std::uint32_t> &code);

} // namespace ptlab::a64
