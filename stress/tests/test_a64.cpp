// AArch64 encodings against aarch64-linux-gnu-as + objdump output (binutils 2.40), and the
// guest program: its words against the same program assembled by GNU as, and its behaviour
// in a small interpreter (a64_sim).
#include "a64.hpp"
#include "a64_sim.hpp"
#include "kvm_layout.hpp"

#include <gtest/gtest.h>

#include <stdexcept>

using namespace ptlab::a64;

TEST(A64Encoding, MoveWide) {
    EXPECT_EQ(movz(X0, 0x1234), 0xd2824680U);             // mov x0, #0x1234
    EXPECT_EQ(movz(X9, 0xbeef, 16), 0xd2b7dde9U);         // mov x9, #0xbeef0000
    EXPECT_EQ(movz(X30, 0xffff, 48), 0xd2fffffeU);        // mov x30, #0xffff000000000000
    EXPECT_EQ(movk(X9, 0x4000, 32), 0xf2c80009U);         // movk x9, #0x4000, lsl #32
    EXPECT_EQ(movk(X1, 0x1), 0xf2800021U);                // movk x1, #0x1
    EXPECT_EQ(movz(X6, 0), 0xd2800006U);                  // mov x6, #0
    EXPECT_THROW(movz(X0, 1, 8), std::invalid_argument);  // shift not a multiple of 16
    EXPECT_THROW(movk(X0, 1, 64), std::invalid_argument); // shift too large
}

TEST(A64Encoding, LoadStore) {
    EXPECT_EQ(ldr(X10, X9), 0xf940012aU);                    // ldr x10, [x9]
    EXPECT_EQ(ldr(X11, X9, 8), 0xf940052bU);                 // ldr x11, [x9, #8]
    EXPECT_EQ(ldr(X7, X9, 40), 0xf9401527U);                 // ldr x7, [x9, #40]
    EXPECT_EQ(ldr(X0, XZR, 32760), 0xf97fffe0U);             // ldr x0, [sp, #32760]
    EXPECT_EQ(str(X5, X0), 0xf9000005U);                     // str x5, [x0]
    EXPECT_EQ(str(X6, X4), 0xf9000086U);                     // str x6, [x4]
    EXPECT_EQ(str(X1, X2, 256), 0xf9008041U);                // str x1, [x2, #256]
    EXPECT_EQ(str_w(X3, X4, 12), 0xb9000c83U);               // str w3, [x4, #12]
    EXPECT_THROW(ldr(X0, X1, 4), std::invalid_argument);     // not a multiple of 8
    EXPECT_THROW(str(X0, X1, 32768), std::invalid_argument); // out of range
    EXPECT_THROW(str_w(X0, X1, 2), std::invalid_argument);
}

TEST(A64Encoding, Arithmetic) {
    EXPECT_EQ(add_imm(X0, X10, 0), 0x91000140U);      // add x0, x10, #0x0
    EXPECT_EQ(add_imm(X6, X6, 1), 0x910004c6U);       // add x6, x6, #0x1
    EXPECT_EQ(add_imm(X1, X2, 4095), 0x913ffc41U);    // add x1, x2, #0xfff
    EXPECT_EQ(add_imm(X1, X2, 1, true), 0x91400441U); // add x1, x2, #0x1, lsl #12
    EXPECT_EQ(sub_imm(X3, X3, 16), 0xd1004063U);      // sub x3, x3, #0x10
    EXPECT_EQ(subs_imm(X1, X1, 1), 0xf1000421U);      // subs x1, x1, #0x1
    EXPECT_EQ(add_reg(X0, X0, X2), 0x8b020000U);      // add x0, x0, x2
    EXPECT_EQ(subs_reg(X3, X4, X5), 0xeb050083U);     // subs x3, x4, x5
    EXPECT_EQ(eor_reg(X5, X0, X3), 0xca030005U);      // eor x5, x0, x3
    EXPECT_EQ(eor_reg(X13, X0, X7), 0xca07000dU);     // eor x13, x0, x7
    EXPECT_EQ(cmp_reg(X12, X13), 0xeb0d019fU);        // cmp x12, x13
    EXPECT_THROW(add_imm(X0, X0, 4096), std::invalid_argument);
}

TEST(A64Encoding, Branches) {
    EXPECT_EQ(b_cond(Cond::NE, 0), 0x54000001U); // 1: b.ne 1b
    EXPECT_EQ(b_cond(Cond::EQ, 8), 0x54000040U); // b.eq .+8
    EXPECT_EQ(cbz(X1, 8), 0xb4000041U);          // cbz x1, .+8
    EXPECT_EQ(cbnz(X1, -16), 0xb5ffff81U);       // cbnz x1, .-16
    EXPECT_EQ(b(-20), 0x17fffffbU);              // b .-20
    EXPECT_EQ(b(0x1000), 0x14000400U);           // b .+0x1000
    EXPECT_EQ(nop(), 0xd503201fU);
    EXPECT_THROW(b(2), std::invalid_argument);
    EXPECT_THROW(b(1LL << 27), std::invalid_argument);
    EXPECT_THROW(cbz(X0, 1 << 20), std::invalid_argument);
    EXPECT_NO_THROW(cbz(X0, -(1 << 20)));
}

TEST(A64Encoding, MovImm64) {
    EXPECT_EQ(mov_imm64(X9, 0), (std::vector<std::uint32_t>{movz(X9, 0)}));
    EXPECT_EQ(mov_imm64(X9, 0x40000800), (std::vector<std::uint32_t>{0xd2810009U, 0xf2a80009U}));
    EXPECT_EQ(mov_imm64(X1, 0xffff000000000000ULL),
              (std::vector<std::uint32_t>{movz(X1, 0xffff, 48)}));
    EXPECT_EQ(mov_imm64(X2, 0x0001000200030004ULL).size(), 4U);
}

TEST(A64Assembler, ForwardAndBackwardLabels) {
    Assembler a;
    const auto top = a.new_label();
    const auto end = a.new_label();
    a.bind(top);
    a.emit(nop());
    a.cbz(X1, end);
    a.b(top);
    a.bind(end);
    a.emit(nop());
    const auto code = a.finish();
    ASSERT_EQ(code.size(), 4U);
    EXPECT_EQ(code[1], cbz(X1, 8));
    EXPECT_EQ(code[2], b(-8));
}

TEST(A64Assembler, UnboundLabelThrows) {
    Assembler a;
    a.b(a.new_label());
    EXPECT_THROW(a.finish(), std::invalid_argument);
}

// The guest program for a parameter block at 0x40000800, assembled by GNU as from the
// equivalent source (see the comment of guest_stride_program).
TEST(GuestProgram, MatchesGnuAs) {
    const std::vector<std::uint32_t> want = {
        0xd2810009U, 0xf2a80009U, 0xf940012aU, 0xf940052bU, 0xf9400922U, 0xf9400d23U, 0xf9401124U,
        0xf9401527U, 0xd2800006U, 0x91000140U, 0x91000161U, 0xb40002a1U, 0xca030005U, 0xf9000005U,
        0xf940040cU, 0xca07000dU, 0xeb0d019fU, 0x54000040U, 0x910004c6U, 0x8b020000U, 0xf1000421U,
        0x54fffee1U, 0x91000140U, 0x91000161U, 0xf940000cU, 0xca03000dU, 0xeb0d019fU, 0x54000040U,
        0x910004c6U, 0x8b020000U, 0xf1000421U, 0xb5ffff21U, 0xf9000086U, 0x17ffffdfU};
    EXPECT_EQ(guest_stride_program(0x40000800), want) << hexdump(guest_stride_program(0x40000800));
}

namespace {

using ptlab::a64sim::Machine;
namespace L = ptlab::kvmlayout;

struct Pass {
    std::uint64_t base, count, stride, tag, host_tag;
};

Machine guest(const Pass &p) {
    Machine m;
    m.code_base = L::kCodeGpa;
    m.code = guest_stride_program(L::kCodeGpa + L::kParamOffset);
    m.pc = L::kCodeGpa;
    const std::uint64_t params = L::kCodeGpa + L::kParamOffset;
    m.store(params + GuestParams::kBase, p.base);
    m.store(params + GuestParams::kCount, p.count);
    m.store(params + GuestParams::kStride, p.stride);
    m.store(params + GuestParams::kTag, p.tag);
    m.store(params + GuestParams::kExit, L::kExitGpa);
    m.store(params + GuestParams::kHostTag, p.host_tag);
    for (std::uint64_t i = 0; i < p.count; ++i) {
        const std::uint64_t a = p.base + i * p.stride;
        m.store(a + 8, a ^ p.host_tag);
    }
    return m;
}

} // namespace

TEST(GuestProgram, WritesTheStrideAndExitsWithZeroFailures) {
    const Pass p{L::kThpGpa + 0x30, 100, 0x1000, 0x1111222233334445ULL, 0x99ULL};
    Machine m = guest(p);
    const auto exit = ptlab::a64sim::run_until_store(m, L::kExitGpa);
    EXPECT_EQ(exit.addr, L::kExitGpa);
    EXPECT_EQ(exit.value, 0U);
    for (std::uint64_t i = 0; i < p.count; ++i) {
        const std::uint64_t a = p.base + i * p.stride;
        EXPECT_EQ(m.load(a), a ^ p.tag) << "stride " << i;
    }
    EXPECT_EQ(m.load(p.base + p.count * p.stride), 0U); // not one store too many
}

TEST(GuestProgram, CountsWordsTheHostDidNotWrite) {
    const Pass p{L::kSmallGpa, 16, 0x10000, 0x5ULL, 0x7ULL};
    Machine m = guest(p);
    m.store(p.base + 3 * p.stride + 8, 0);    // lost
    m.store(p.base + 9 * p.stride + 8, 0x42); // corrupted
    const auto exit = ptlab::a64sim::run_until_store(m, L::kExitGpa);
    EXPECT_EQ(exit.value, 2U);
}

TEST(GuestProgram, ZeroCountExitsAtOnce) {
    Machine m = guest({L::kThpGpa, 0, 0x1000, 1, 2});
    const auto exit = ptlab::a64sim::run_until_store(m, L::kExitGpa);
    EXPECT_EQ(exit.value, 0U);
    EXPECT_LT(exit.steps, 20U);
}

TEST(GuestProgram, ResumingAfterTheExitRunsTheNextPass) {
    // KVM resumes after the MMIO store; the program branches back and reloads the parameters.
    const Pass p{L::kThpGpa, 4, 0x200000, 0xa, 0xb};
    Machine m = guest(p);
    ptlab::a64sim::run_until_store(m, L::kExitGpa);
    m.pc += 4; // what KVM does after completing the MMIO access
    const std::uint64_t params = L::kCodeGpa + L::kParamOffset;
    m.store(params + GuestParams::kTag, 0xc);
    const auto second = ptlab::a64sim::run_until_store(m, L::kExitGpa);
    EXPECT_EQ(second.value, 0U);
    EXPECT_EQ(m.load(p.base + p.stride), (p.base + p.stride) ^ 0xc);
}
