#include "emu/decoder.h"

#include <initializer_list>

#include "emu/cpu.h"
#include "emu/cpu_state.h"

namespace vx86 {

const Insn* op_ud(Cpu&, const Insn*) { raise_fault(VEC_UD); }
const Insn* op_gp_too_long(Cpu&, const Insn*) { raise_fault(VEC_GP, 0); }

bool DecodeCtx::is_gpr(unsigned k) const {
  if (kind[k] != OpKind::Reg) return false;
  auto c = reg_class(k);
  return c == ZYDIS_REGCLASS_GPR8 || c == ZYDIS_REGCLASS_GPR16 || c == ZYDIS_REGCLASS_GPR32;
}

bool DecodeCtx::is_sreg(unsigned k, unsigned* index) const {
  if (kind[k] != OpKind::Reg || reg_class(k) != ZYDIS_REGCLASS_SEGMENT) return false;
  if (index) *index = static_cast<unsigned>(ZydisRegisterGetId(ops[k].reg.value));
  return true;
}

Decoder::Decoder() {
  ZydisDecoderInit(&dec16_, ZYDIS_MACHINE_MODE_LEGACY_16, ZYDIS_STACK_WIDTH_16);
  ZydisDecoderInit(&dec32_, ZYDIS_MACHINE_MODE_LEGACY_32, ZYDIS_STACK_WIDTH_32);
  // A P6 has none of the extensions Zydis decodes in the hint-NOP and REP-prefixed BSF/BSR space
  // by default: F3 0F BC/BD are BSF/BSR (not TZCNT/LZCNT), 0F 1A/1B/1C/1E are NOPs (not MPX,
  // CLDEMOTE, CET).
  for (ZydisDecoder* d : {&dec16_, &dec32_})
    for (ZydisDecoderMode m : {ZYDIS_DECODER_MODE_MPX, ZYDIS_DECODER_MODE_CET, ZYDIS_DECODER_MODE_LZCNT,
                               ZYDIS_DECODER_MODE_TZCNT, ZYDIS_DECODER_MODE_CLDEMOTE})
      ZydisDecoderEnableMode(d, m, ZYAN_FALSE);
}

bool Decoder::decode_raw(const uint8_t* bytes, size_t avail, bool code32, ZydisDecodedInstruction& zi,
                         ZydisDecodedOperand* ops) const {
  return ZYAN_SUCCESS(ZydisDecoderDecodeFull(code32 ? &dec32_ : &dec16_, bytes, avail, &zi, ops));
}

namespace {

// Register operand encoding in Insn: GPRs as byte offsets into CpuState, others as their index.
uint16_t encode_reg(ZydisRegister r) {
  auto id = static_cast<unsigned>(ZydisRegisterGetId(r));
  switch (ZydisRegisterGetClass(r)) {
    case ZYDIS_REGCLASS_GPR8: return reg8_offset(id);
    case ZYDIS_REGCLASS_GPR16:
    case ZYDIS_REGCLASS_GPR32: return reg_offset(id);
    default: return static_cast<uint16_t>(id);
  }
}

uint8_t addr_reg(ZydisRegister r) {
  if (r == ZYDIS_REGISTER_NONE) return REG_ZERO;
  return static_cast<uint8_t>(ZydisRegisterGetId(r));
}

uint8_t seg_index(ZydisRegister r) {
  return r == ZYDIS_REGISTER_NONE ? uint8_t{DS} : static_cast<uint8_t>(ZydisRegisterGetId(r));
}

// The last segment-override prefix byte (the one that counts), or 0.
uint8_t last_segment_prefix(const ZydisDecodedInstruction& zi) {
  uint8_t seg = 0;
  for (unsigned k = 0; k < zi.raw.prefix_count; ++k) {
    uint8_t b = zi.raw.prefixes[k].value;
    if (b == 0x26 || b == 0x2E || b == 0x36 || b == 0x3E || b == 0x64 || b == 0x65) seg = b;
  }
  return seg;
}

}  // namespace

DecodeResult Decoder::decode(const uint8_t* bytes, size_t avail, bool code32, Insn& out) const {
  ZydisDecodedInstruction zi;
  ZydisDecodedOperand ops[ZYDIS_MAX_OPERAND_COUNT];
  out = Insn{};
  out.base = out.index = REG_ZERO;
  out.seg = DS;
  ZyanStatus st = ZydisDecoderDecodeFull(code32 ? &dec32_ : &dec16_, bytes, avail, &zi, ops);
  if (!ZYAN_SUCCESS(st)) {
    out.fn = (st == ZYDIS_STATUS_INSTRUCTION_TOO_LONG) ? &op_gp_too_long : &op_ud;
    out.len = 1;
    return {0, true, st == ZYDIS_STATUS_NO_MORE_DATA};
  }
  out.len = zi.length;
  out.opsize = static_cast<uint8_t>(zi.operand_width / 8);
  out.amask = zi.address_width == 16 ? 0xFFFFu : 0xFFFFFFFFu;
  out.opcode = zi.opcode;
  if (zi.attributes & ZYDIS_ATTRIB_HAS_LOCK) out.flags |= INSN_LOCK;
  if (zi.mnemonic == ZYDIS_MNEMONIC_SHL && (zi.attributes & ZYDIS_ATTRIB_HAS_MODRM) && zi.raw.modrm.reg == 6)
    out.flags |= INSN_MODEL_ALIAS;
  if (zi.attributes & (ZYDIS_ATTRIB_HAS_REP | ZYDIS_ATTRIB_HAS_REPE)) out.rep = REP_E;
  if (zi.attributes & ZYDIS_ATTRIB_HAS_REPNE) out.rep = REP_NE;

  DecodeCtx ctx{zi, ops, zi.operand_count_visible, {}, {}, out};
  unsigned nreg = 0;
  bool have_imm = false;
  bool has_mem = false;
  for (unsigned k = 0; k < zi.operand_count_visible && k < 4; ++k) {
    const ZydisDecodedOperand& o = ops[k];
    ctx.size[k] = static_cast<uint8_t>(o.size / 8);
    switch (o.type) {
      case ZYDIS_OPERAND_TYPE_REGISTER:
        ctx.kind[k] = OpKind::Reg;
        if (nreg < 2) (nreg == 0 ? out.r0 : out.r1) = encode_reg(o.reg.value);
        ++nreg;
        break;
      case ZYDIS_OPERAND_TYPE_MEMORY:
        ctx.kind[k] = OpKind::Mem;
        has_mem = true;
        out.base = addr_reg(o.mem.base);
        out.index = addr_reg(o.mem.index);
        out.scale = static_cast<uint8_t>(o.mem.scale == 8 ? 3 : o.mem.scale == 4 ? 2 : o.mem.scale == 2 ? 1 : 0);
        out.seg = seg_index(o.mem.segment);
        // Zydis reads a final 3E before an indirect CALL/JMP as CET's NOTRACK and drops it as a
        // segment override; outside long mode it is still DS.
        if ((zi.attributes & ZYDIS_ATTRIB_HAS_NOTRACK) && last_segment_prefix(zi) == 0x3E) out.seg = DS;
        out.disp = static_cast<uint32_t>(o.mem.disp.value);
        break;
      case ZYDIS_OPERAND_TYPE_IMMEDIATE:
        ctx.kind[k] = OpKind::Imm;
        if (!have_imm) out.imm = static_cast<uint32_t>(o.imm.value.u);
        else out.imm2 = static_cast<uint16_t>(o.imm.value.u);
        have_imm = true;
        break;
      case ZYDIS_OPERAND_TYPE_POINTER:
        ctx.kind[k] = OpKind::Ptr;
        out.imm = o.ptr.offset;
        out.imm2 = o.ptr.segment;
        break;
      default: break;
    }
  }
  // String instructions and XLAT carry their (overridable) source segment in a hidden operand
  // addressed by (E)SI or (E)BX. Other hidden memory operands (the SS:SP stack slot of PUSH/CALL,
  // the ES:DI string destination) must not replace a visible operand's segment.
  if (!has_mem) {
    for (unsigned k = zi.operand_count_visible; k < zi.operand_count; ++k) {
      const ZydisDecodedOperand& o = ops[k];
      if (o.type == ZYDIS_OPERAND_TYPE_MEMORY && o.mem.type == ZYDIS_MEMOP_TYPE_MEM &&
          (o.mem.base == ZYDIS_REGISTER_SI || o.mem.base == ZYDIS_REGISTER_ESI ||
           o.mem.base == ZYDIS_REGISTER_BX || o.mem.base == ZYDIS_REGISTER_EBX)) {
        out.seg = seg_index(o.mem.segment);
        break;
      }
    }
  }

  out.mnem = static_cast<uint16_t>(zi.mnemonic);
  for (unsigned k = 0; k < 3 && k < zi.operand_count_visible; ++k) {
    uint8_t jk = JK_OTHER;
    if (ctx.kind[k] == OpKind::Mem) jk = JK_MEM;
    else if (ctx.kind[k] == OpKind::Imm) jk = JK_IMM;
    else if (ctx.is_gpr(k)) jk = JK_GPR;
    if (k < 2) out.kinds |= static_cast<uint8_t>(jk << (3 * k));
    else out.kinds |= 1u << 6;
  }
  out.size1 = ctx.size[1];

  Selector sel = selectors()[zi.mnemonic];
  Handler h = sel ? sel(ctx) : nullptr;
  out.fn = h ? h : op_ud;
  bool end = ctx.end_block || !h;
  switch (zi.meta.category) {
    case ZYDIS_CATEGORY_COND_BR:
    case ZYDIS_CATEGORY_UNCOND_BR:
    case ZYDIS_CATEGORY_CALL:
    case ZYDIS_CATEGORY_RET:
    case ZYDIS_CATEGORY_INTERRUPT:
    case ZYDIS_CATEGORY_SYSTEM:
    case ZYDIS_CATEGORY_IO:
    case ZYDIS_CATEGORY_IOSTRINGOP: end = true; break;
    default: break;
  }
  return {zi.length, end, false};
}

}  // namespace vx86
