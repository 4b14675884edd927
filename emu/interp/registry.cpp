#include "emu/interp/common.h"

namespace vx86 {

const uint8_t parity_table[256] = {
#define P(b) static_cast<uint8_t>((__builtin_popcount(b) & 1) ? 0u : uint32_t{F_PF})
#define P4(b) P(b), P(b + 1), P(b + 2), P(b + 3)
#define P16(b) P4(b), P4(b + 4), P4(b + 8), P4(b + 12)
#define P64(b) P16(b), P16(b + 16), P16(b + 32), P16(b + 48)
    P64(0), P64(64), P64(128), P64(192)
#undef P64
#undef P16
#undef P4
#undef P
};

const SelectorTable& selectors() {
  static const SelectorTable table = [] {
    SelectorTable t{};
    register_mov(t);
    register_alu(t);
    register_shift(t);
    register_muldiv(t);
    register_bcd(t);
    register_bits(t);
    register_control(t);
    register_stack(t);
    register_string(t);
    register_misc(t);
    register_fpu(t);
    register_p6(t);
    register_system(t);
    return t;
  }();
  return table;
}

}  // namespace vx86
