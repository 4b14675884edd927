#include "emu/interp/common.h"

namespace vx86 {

void register_bits(SelectorTable&) {}

}  // namespace vx86
