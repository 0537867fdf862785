#include "a64.hpp"

#include <cstdio>
#include <stdexcept>

namespace ptlab::a64 {

namespace {

void require(bool ok, const char *what) {
    if (!ok) {
        throw std::invalid_argument(what);
    }
}

std::uint32_t r(Reg x) { return static_cast<std::uint32_t>(x) & 31U; }

std::uint32_t move_wide(std::uint32_t opc, Reg rd, std::uint16_t imm16, unsigned shift) {
    require(shift % 16 == 0 && shift <= 48, "movz/movk: shift must be 0, 16, 32 or 48");
    return opc | ((shift / 16) << 21) | (static_cast<std::uint32_t>(imm16) << 5) | r(rd);
}

std::uint32_t load_store(std::uint32_t opc, Reg rt, Reg rn, std::uint32_t offset,
                         std::uint32_t scale) {
    require(offset % scale == 0, "ldr/str: offset must be a multiple of the access size");
    require(offset / scale <= 4095, "ldr/str: offset out of range");
    return opc | ((offset / scale) << 10) | (r(rn) << 5) | r(rt);
}

std::uint32_t add_sub_imm(std::uint32_t opc, Reg rd, Reg rn, std::uint32_t imm12, bool lsl12) {
    require(imm12 <= 4095, "add/sub: immediate out of range (0..4095)");
    return opc | (lsl12 ? 1U << 22 : 0U) | (imm12 << 10) | (r(rn) << 5) | r(rd);
}

std::uint32_t three_reg(std::uint32_t opc, Reg rd, Reg rn, Reg rm) {
    return opc | (r(rm) << 16) | (r(rn) << 5) | r(rd);
}

std::uint32_t imm19(std::int64_t offset) {
    require(offset % 4 == 0, "branch: offset must be a multiple of 4");
    require(offset >= -(1 << 20) && offset < (1 << 20), "branch: offset out of range (+-1 MiB)");
    return (static_cast<std::uint32_t>(offset / 4) & 0x7ffffU) << 5;
}

} // namespace

std::uint32_t movz(Reg rd, std::uint16_t imm16, unsigned shift) {
    return move_wide(0xd2800000U, rd, imm16, shift);
}
std::uint32_t movk(Reg rd, std::uint16_t imm16, unsigned shift) {
    return move_wide(0xf2800000U, rd, imm16, shift);
}
std::uint32_t ldr(Reg rt, Reg rn, std::uint32_t offset) {
    return load_store(0xf9400000U, rt, rn, offset, 8);
}
std::uint32_t str(Reg rt, Reg rn, std::uint32_t offset) {
    return load_store(0xf9000000U, rt, rn, offset, 8);
}
std::uint32_t str_w(Reg rt, Reg rn, std::uint32_t offset) {
    return load_store(0xb9000000U, rt, rn, offset, 4);
}
std::uint32_t add_imm(Reg rd, Reg rn, std::uint32_t imm12, bool lsl12) {
    return add_sub_imm(0x91000000U, rd, rn, imm12, lsl12);
}
std::uint32_t sub_imm(Reg rd, Reg rn, std::uint32_t imm12, bool lsl12) {
    return add_sub_imm(0xd1000000U, rd, rn, imm12, lsl12);
}
std::uint32_t subs_imm(Reg rd, Reg rn, std::uint32_t imm12, bool lsl12) {
    return add_sub_imm(0xf1000000U, rd, rn, imm12, lsl12);
}
std::uint32_t add_reg(Reg rd, Reg rn, Reg rm) { return three_reg(0x8b000000U, rd, rn, rm); }
std::uint32_t subs_reg(Reg rd, Reg rn, Reg rm) { return three_reg(0xeb000000U, rd, rn, rm); }
std::uint32_t eor_reg(Reg rd, Reg rn, Reg rm) { return three_reg(0xca000000U, rd, rn, rm); }
std::uint32_t cmp_reg(Reg rn, Reg rm) { return subs_reg(XZR, rn, rm); }

std::uint32_t b(std::int64_t offset) {
    require(offset % 4 == 0, "b: offset must be a multiple of 4");
    require(offset >= -(1LL << 27) && offset < (1LL << 27), "b: offset out of range (+-128 MiB)");
    return 0x14000000U | (static_cast<std::uint32_t>(offset / 4) & 0x3ffffffU);
}
std::uint32_t b_cond(Cond c, std::int64_t offset) {
    return 0x54000000U | imm19(offset) | static_cast<std::uint32_t>(c);
}
std::uint32_t cbz(Reg rt, std::int64_t offset) { return 0xb4000000U | imm19(offset) | r(rt); }
std::uint32_t cbnz(Reg rt, std::int64_t offset) { return 0xb5000000U | imm19(offset) | r(rt); }
std::uint32_t nop() { return 0xd503201fU; }

std::vector<std::uint32_t> mov_imm64(Reg rd, std::uint64_t value) {
    std::vector<std::uint32_t> out;
    for (unsigned shift = 0; shift < 64; shift += 16) {
        const auto chunk = static_cast<std::uint16_t>(value >> shift);
        if (chunk == 0) {
            continue;
        }
        out.push_back(out.empty() ? movz(rd, chunk, shift) : movk(rd, chunk, shift));
    }
    if (out.empty()) {
        out.push_back(movz(rd, 0));
    }
    return out;
}

Assembler::Label Assembler::new_label() {
    labels_.push_back(-1);
    return labels_.size() - 1;
}

void Assembler::bind(Label l) { labels_.at(l) = static_cast<std::int64_t>(code_.size()); }

void Assembler::emit(const std::vector<std::uint32_t> &insns) {
    code_.insert(code_.end(), insns.begin(), insns.end());
}

void Assembler::b(Label l) {
    fixups_.push_back({code_.size(), l, Kind::B, Cond::EQ, XZR});
    emit(0);
}
void Assembler::b_cond(Cond c, Label l) {
    fixups_.push_back({code_.size(), l, Kind::BCond, c, XZR});
    emit(0);
}
void Assembler::cbz(Reg rt, Label l) {
    fixups_.push_back({code_.size(), l, Kind::Cbz, Cond::EQ, rt});
    emit(0);
}
void Assembler::cbnz(Reg rt, Label l) {
    fixups_.push_back({code_.size(), l, Kind::Cbnz, Cond::EQ, rt});
    emit(0);
}

std::vector<std::uint32_t> Assembler::finish() {
    for (const auto &f : fixups_) {
        const std::int64_t target = labels_.at(f.label);
        require(target >= 0, "assembler: branch to an unbound label");
        const std::int64_t off = (target - static_cast<std::int64_t>(f.at)) * 4;
        switch (f.kind) {
        case Kind::B:
            code_[f.at] = a64::b(off);
            break;
        case Kind::BCond:
            code_[f.at] = a64::b_cond(f.cond, off);
            break;
        case Kind::Cbz:
            code_[f.at] = a64::cbz(f.reg, off);
            break;
        case Kind::Cbnz:
            code_[f.at] = a64::cbnz(f.reg, off);
            break;
        }
    }
    fixups_.clear();
    return code_;
}

std::vector<std::uint32_t> guest_stride_program(std::uint64_t param_ipa) {
    // x0 address, x1 remaining, x2 stride, x3 tag, x4 exit address, x5 value, x6 failed checks,
    // x7 host tag, x9 parameter block, x10 base, x11 count, x12 loaded, x13 expected
    Assembler a;
    const auto start = a.new_label();
    const auto write_loop = a.new_label();
    const auto write_ok = a.new_label();
    const auto read_pass = a.new_label();
    const auto read_loop = a.new_label();
    const auto read_ok = a.new_label();
    const auto done = a.new_label();
    using P = GuestParams;

    a.bind(start);
    a.emit(mov_imm64(X9, param_ipa));
    a.emit(ldr(X10, X9, P::kBase));
    a.emit(ldr(X11, X9, P::kCount));
    a.emit(ldr(X2, X9, P::kStride));
    a.emit(ldr(X3, X9, P::kTag));
    a.emit(ldr(X4, X9, P::kExit));
    a.emit(ldr(X7, X9, P::kHostTag));
    a.emit(movz(X6, 0));
    a.emit(add_imm(X0, X10, 0));
    a.emit(add_imm(X1, X11, 0));
    a.cbz(X1, done);

    a.bind(write_loop);
    a.emit(eor_reg(X5, X0, X3));
    a.emit(str(X5, X0, 0));
    a.emit(ldr(X12, X0, 8));
    a.emit(eor_reg(X13, X0, X7));
    a.emit(cmp_reg(X12, X13));
    a.b_cond(Cond::EQ, write_ok);
    a.emit(add_imm(X6, X6, 1));
    a.bind(write_ok);
    a.emit(add_reg(X0, X0, X2));
    a.emit(subs_imm(X1, X1, 1));
    a.b_cond(Cond::NE, write_loop);

    a.bind(read_pass);
    a.emit(add_imm(X0, X10, 0));
    a.emit(add_imm(X1, X11, 0));
    a.bind(read_loop);
    a.emit(ldr(X12, X0, 0));
    a.emit(eor_reg(X13, X0, X3));
    a.emit(cmp_reg(X12, X13));
    a.b_cond(Cond::EQ, read_ok);
    a.emit(add_imm(X6, X6, 1));
    a.bind(read_ok);
    a.emit(add_reg(X0, X0, X2));
    a.emit(subs_imm(X1, X1, 1));
    a.cbnz(X1, read_loop);

    a.bind(done);
    a.emit(str(X6, X4, 0)); // the exit: a store to an unmapped IPA
    a.b(start);
    return a.finish();
}

std::string hexdump(const std::vector<std::uint32_t> &code) {
    std::string out;
    char buf[32];
    for (std::size_t i = 0; i < code.size(); ++i) {
        std::snprintf(buf, sizeof buf, "%04zx: %08x\n", i * 4, code[i]);
        out += buf;
    }
    return out;
}

} // namespace ptlab::a64
