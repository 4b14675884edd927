#include "emu/interp/common.h"

namespace vx86 {

void register_shift(SelectorTable&) {}

}  // namespace vx86
