#include "emu/interp/common.h"

namespace vx86 {

void register_alu(SelectorTable&) {}

}  // namespace vx86
