// The host keyboard as a PC keyboard: SDL scancodes (the USB HID usage of the physical key, so
// the guest's own layout applies, as on real hardware) to PC/XT (set 1) make codes, 0xE0xx for
// the extended keys, and the i8042's kPrintScreen / kPause for the two keys with sequences of
// their own. The i8042 turns them into the set the guest chose.
#pragma once
#include <cstdint>

namespace vx86 {

// 0: no PC key for it.
uint16_t sdl_scancode_to_set1(int sdl_scancode);

}  // namespace vx86
