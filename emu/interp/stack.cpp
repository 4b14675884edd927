#include "emu/interp/common.h"

namespace vx86 {

void register_stack(SelectorTable&) {}

}  // namespace vx86
