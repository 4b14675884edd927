#include "frontend/sdl_keymap.h"

#include <SDL2/SDL_scancode.h>

#include <array>

#include "devices/i8042.h"

namespace vx86 {

namespace {

struct KeyMap {
  std::array<uint16_t, SDL_NUM_SCANCODES> code{};
  constexpr KeyMap() {
    // Letters, in HID order A-Z.
    constexpr uint8_t letters[26] = {0x1E, 0x30, 0x2E, 0x20, 0x12, 0x21, 0x22, 0x23, 0x17,
                                     0x24, 0x25, 0x26, 0x32, 0x31, 0x18, 0x19, 0x10, 0x13,
                                     0x1F, 0x14, 0x16, 0x2F, 0x11, 0x2D, 0x15, 0x2C};
    for (int i = 0; i < 26; ++i) code[SDL_SCANCODE_A + i] = letters[i];
    for (int i = 0; i < 10; ++i) code[SDL_SCANCODE_1 + i] = static_cast<uint16_t>(0x02 + i);  // 1-9, 0
    for (int i = 0; i < 10; ++i) code[SDL_SCANCODE_F1 + i] = static_cast<uint16_t>(0x3B + i);
    code[SDL_SCANCODE_F11] = 0x57;
    code[SDL_SCANCODE_F12] = 0x58;
    code[SDL_SCANCODE_RETURN] = 0x1C;
    code[SDL_SCANCODE_ESCAPE] = 0x01;
    code[SDL_SCANCODE_BACKSPACE] = 0x0E;
    code[SDL_SCANCODE_TAB] = 0x0F;
    code[SDL_SCANCODE_SPACE] = 0x39;
    code[SDL_SCANCODE_MINUS] = 0x0C;
    code[SDL_SCANCODE_EQUALS] = 0x0D;
    code[SDL_SCANCODE_LEFTBRACKET] = 0x1A;
    code[SDL_SCANCODE_RIGHTBRACKET] = 0x1B;
    code[SDL_SCANCODE_BACKSLASH] = 0x2B;
    code[SDL_SCANCODE_NONUSHASH] = 0x2B;
    code[SDL_SCANCODE_SEMICOLON] = 0x27;
    code[SDL_SCANCODE_APOSTROPHE] = 0x28;
    code[SDL_SCANCODE_GRAVE] = 0x29;
    code[SDL_SCANCODE_COMMA] = 0x33;
    code[SDL_SCANCODE_PERIOD] = 0x34;
    code[SDL_SCANCODE_SLASH] = 0x35;
    code[SDL_SCANCODE_NONUSBACKSLASH] = 0x56;
    code[SDL_SCANCODE_CAPSLOCK] = 0x3A;
    code[SDL_SCANCODE_SCROLLLOCK] = 0x46;
    code[SDL_SCANCODE_NUMLOCKCLEAR] = 0x45;
    code[SDL_SCANCODE_PRINTSCREEN] = I8042::kPrintScreen;
    code[SDL_SCANCODE_PAUSE] = I8042::kPause;
    code[SDL_SCANCODE_INSERT] = 0xE052;
    code[SDL_SCANCODE_HOME] = 0xE047;
    code[SDL_SCANCODE_PAGEUP] = 0xE049;
    code[SDL_SCANCODE_DELETE] = 0xE053;
    code[SDL_SCANCODE_END] = 0xE04F;
    code[SDL_SCANCODE_PAGEDOWN] = 0xE051;
    code[SDL_SCANCODE_RIGHT] = 0xE04D;
    code[SDL_SCANCODE_LEFT] = 0xE04B;
    code[SDL_SCANCODE_DOWN] = 0xE050;
    code[SDL_SCANCODE_UP] = 0xE048;
    code[SDL_SCANCODE_KP_DIVIDE] = 0xE035;
    code[SDL_SCANCODE_KP_MULTIPLY] = 0x37;
    code[SDL_SCANCODE_KP_MINUS] = 0x4A;
    code[SDL_SCANCODE_KP_PLUS] = 0x4E;
    code[SDL_SCANCODE_KP_ENTER] = 0xE01C;
    // Keypad 1-9, 0 and the decimal point, in HID order.
    constexpr uint8_t keypad[11] = {0x4F, 0x50, 0x51, 0x4B, 0x4C, 0x4D, 0x47, 0x48, 0x49, 0x52, 0x53};
    for (int i = 0; i < 11; ++i) code[SDL_SCANCODE_KP_1 + i] = keypad[i];
    code[SDL_SCANCODE_APPLICATION] = 0xE05D;
    code[SDL_SCANCODE_LCTRL] = 0x1D;
    code[SDL_SCANCODE_LSHIFT] = 0x2A;
    code[SDL_SCANCODE_LALT] = 0x38;
    code[SDL_SCANCODE_LGUI] = 0xE05B;
    code[SDL_SCANCODE_RCTRL] = 0xE01D;
    code[SDL_SCANCODE_RSHIFT] = 0x36;
    code[SDL_SCANCODE_RALT] = 0xE038;
    code[SDL_SCANCODE_RGUI] = 0xE05C;
  }
};

constexpr KeyMap kKeyMap;

}  // namespace

uint16_t sdl_scancode_to_set1(int sdl_scancode) {
  if (sdl_scancode < 0 || sdl_scancode >= SDL_NUM_SCANCODES) return 0;
  return kKeyMap.code[static_cast<size_t>(sdl_scancode)];
}

}  // namespace vx86
