#include "jit/lazy_flags.h"

#include "emu/interp/common.h"

namespace vx86 {

namespace {

template <class T>
uint32_t flags_of(CcKind kind, T a, T b, T c) {
  switch (kind) {
    case CC_ADD:
      return add_flags<T>(T(a - b), b, a);
    case CC_SUB:
      return sub_flags<T>(T(a + b), b, a);
    case CC_CMP:
      return sub_flags<T>(a, b, T(a - b));
    case CC_LOGIC:
      return logic_flags<T>(a);
    case CC_TEST:
      return logic_flags<T>(T(a & b));
    case CC_ADD_ORIG:
      return add_flags<T>(b, T(a - b), a);
    case CC_SUB_ORIG:
      return sub_flags<T>(b, T(b - a), a);
    case CC_INC:
      return (add_flags<T>(T(a - 1), T{1}, a) & ~uint32_t{F_CF}) | (b & F_CF);
    case CC_DEC:
      return (sub_flags<T>(T(a + 1), T{1}, a) & ~uint32_t{F_CF}) | (b & F_CF);
    case CC_ADC:
      return add_flags<T>(T(a - b - c), b, a);
    case CC_SBB:
      return sub_flags<T>(T(a + b + c), b, a);
    default:
      return 0;
  }
}

}  // namespace

uint32_t lazy_flags(uint32_t op, uint32_t a, uint32_t b, uint32_t carry) {
  const uint32_t c = carry & 1;
  const CcKind kind = static_cast<CcKind>(op & 0xFF);
  switch (op >> 8) {
    case 1:
      return flags_of<uint8_t>(kind, static_cast<uint8_t>(a), static_cast<uint8_t>(b),
                               static_cast<uint8_t>(c));
    case 2:
      return flags_of<uint16_t>(kind, static_cast<uint16_t>(a), static_cast<uint16_t>(b),
                                static_cast<uint16_t>(c));
    default:
      return flags_of<uint32_t>(kind, a, b, c);
  }
}

}  // namespace vx86
