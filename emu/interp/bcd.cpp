#include "emu/interp/common.h"

namespace vx86 {

void register_bcd(SelectorTable&) {}

}  // namespace vx86
