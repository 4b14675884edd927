// x87 FPU instructions.
#include "emu/interp/common.h"

namespace vx86 {

void register_fpu(SelectorTable&) {}

}  // namespace vx86
