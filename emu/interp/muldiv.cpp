#include "emu/interp/common.h"

namespace vx86 {

void register_muldiv(SelectorTable&) {}

}  // namespace vx86
