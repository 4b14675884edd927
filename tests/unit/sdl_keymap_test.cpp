// The window's keyboard map against the PC/XT scan code set 1 (IBM PC AT Technical Reference,
// keyboard positions) for a sample of every kind of key: letters, digits, punctuation, function
// keys, the keypad, modifiers and the E0-prefixed extended keys.
#include "frontend/sdl_keymap.h"

#include <SDL2/SDL_scancode.h>
#include <gtest/gtest.h>

#include "devices/i8042.h"

namespace vx86 {
namespace {

TEST(SdlKeymap, Set1Codes) {
  EXPECT_EQ(sdl_scancode_to_set1(SDL_SCANCODE_ESCAPE), 0x01);
  EXPECT_EQ(sdl_scancode_to_set1(SDL_SCANCODE_1), 0x02);
  EXPECT_EQ(sdl_scancode_to_set1(SDL_SCANCODE_0), 0x0B);
  EXPECT_EQ(sdl_scancode_to_set1(SDL_SCANCODE_Q), 0x10);
  EXPECT_EQ(sdl_scancode_to_set1(SDL_SCANCODE_P), 0x19);
  EXPECT_EQ(sdl_scancode_to_set1(SDL_SCANCODE_A), 0x1E);
  EXPECT_EQ(sdl_scancode_to_set1(SDL_SCANCODE_L), 0x26);
  EXPECT_EQ(sdl_scancode_to_set1(SDL_SCANCODE_Z), 0x2C);
  EXPECT_EQ(sdl_scancode_to_set1(SDL_SCANCODE_M), 0x32);
  EXPECT_EQ(sdl_scancode_to_set1(SDL_SCANCODE_SLASH), 0x35);
  EXPECT_EQ(sdl_scancode_to_set1(SDL_SCANCODE_GRAVE), 0x29);
  EXPECT_EQ(sdl_scancode_to_set1(SDL_SCANCODE_SPACE), 0x39);
  EXPECT_EQ(sdl_scancode_to_set1(SDL_SCANCODE_F1), 0x3B);
  EXPECT_EQ(sdl_scancode_to_set1(SDL_SCANCODE_F10), 0x44);
  EXPECT_EQ(sdl_scancode_to_set1(SDL_SCANCODE_F11), 0x57);
  EXPECT_EQ(sdl_scancode_to_set1(SDL_SCANCODE_F12), 0x58);
  EXPECT_EQ(sdl_scancode_to_set1(SDL_SCANCODE_KP_7), 0x47);
  EXPECT_EQ(sdl_scancode_to_set1(SDL_SCANCODE_KP_0), 0x52);
  EXPECT_EQ(sdl_scancode_to_set1(SDL_SCANCODE_KP_PERIOD), 0x53);
  EXPECT_EQ(sdl_scancode_to_set1(SDL_SCANCODE_KP_MULTIPLY), 0x37);
  EXPECT_EQ(sdl_scancode_to_set1(SDL_SCANCODE_LSHIFT), 0x2A);
  EXPECT_EQ(sdl_scancode_to_set1(SDL_SCANCODE_RSHIFT), 0x36);
  EXPECT_EQ(sdl_scancode_to_set1(SDL_SCANCODE_LALT), 0x38);
  EXPECT_EQ(sdl_scancode_to_set1(SDL_SCANCODE_RALT), 0xE038);
  EXPECT_EQ(sdl_scancode_to_set1(SDL_SCANCODE_RCTRL), 0xE01D);
  EXPECT_EQ(sdl_scancode_to_set1(SDL_SCANCODE_KP_ENTER), 0xE01C);
  EXPECT_EQ(sdl_scancode_to_set1(SDL_SCANCODE_KP_DIVIDE), 0xE035);
  EXPECT_EQ(sdl_scancode_to_set1(SDL_SCANCODE_UP), 0xE048);
  EXPECT_EQ(sdl_scancode_to_set1(SDL_SCANCODE_LEFT), 0xE04B);
  EXPECT_EQ(sdl_scancode_to_set1(SDL_SCANCODE_PAGEDOWN), 0xE051);
  EXPECT_EQ(sdl_scancode_to_set1(SDL_SCANCODE_DELETE), 0xE053);
  EXPECT_EQ(sdl_scancode_to_set1(SDL_SCANCODE_LGUI), 0xE05B);
  EXPECT_EQ(sdl_scancode_to_set1(SDL_SCANCODE_APPLICATION), 0xE05D);
  EXPECT_EQ(sdl_scancode_to_set1(SDL_SCANCODE_PRINTSCREEN), I8042::kPrintScreen);
  EXPECT_EQ(sdl_scancode_to_set1(SDL_SCANCODE_PAUSE), I8042::kPause);
  EXPECT_EQ(sdl_scancode_to_set1(SDL_SCANCODE_F13), 0);  // no PC key
  EXPECT_EQ(sdl_scancode_to_set1(-1), 0);
  EXPECT_EQ(sdl_scancode_to_set1(SDL_NUM_SCANCODES), 0);
}

// Every key the map names reaches the guest: the i8042 knows a set 2 code for each.
TEST(SdlKeymap, EveryMappedKeyHasASet2Code) {
  for (int sc = 0; sc < SDL_NUM_SCANCODES; ++sc) {
    const uint16_t code = sdl_scancode_to_set1(sc);
    if (!code) continue;
    I8042 kbc;
    kbc.io_write(0x64, 0x60, 1);
    kbc.io_write(0x60, 0x00, 1);  // no translation, no interrupts: raw set 2 bytes
    kbc.key(code, true);
    EXPECT_EQ(kbc.io_read(0x64, 1) & 1, 1u) << "SDL scancode " << sc << " -> set 1 " << std::hex << code;
  }
}

}  // namespace
}  // namespace vx86
