#include "emu/interp/common.h"

namespace vx86 {

void register_string(SelectorTable&) {}

}  // namespace vx86
