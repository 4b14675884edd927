#include "frontend/sdl_window.h"

#include <SDL2/SDL.h>

#include <algorithm>
#include <cstdio>
#include <stdexcept>

#include "frontend/sdl_keymap.h"

namespace vx86 {

namespace {

std::runtime_error sdl_error(const char* what) {
  return std::runtime_error(std::string("-display sdl: ") + what + ": " + SDL_GetError());
}

// SDL's button state to the PS/2 mouse's (bit 0 left, 1 right, 2 middle).
uint8_t ps2_buttons(uint32_t sdl) {
  return static_cast<uint8_t>(((sdl & SDL_BUTTON_LMASK) ? 1 : 0) | ((sdl & SDL_BUTTON_RMASK) ? 2 : 0) |
                              ((sdl & SDL_BUTTON_MMASK) ? 4 : 0));
}

}  // namespace

SdlWindow::SdlWindow(DisplayLink& link, Options o) : link_(link), opts_(std::move(o)) {
  SDL_SetHint(SDL_HINT_NO_SIGNAL_HANDLERS, "1");  // Ctrl-C and SIGTERM stay vx86's
  SDL_SetHint(SDL_HINT_GRAB_KEYBOARD, "1");       // a grab takes the keyboard shortcuts too
  if (SDL_InitSubSystem(SDL_INIT_VIDEO | SDL_INIT_EVENTS) != 0) throw sdl_error("cannot initialise");
  frame_event_ = SDL_RegisterEvents(2);
  quit_event_ = frame_event_ + 1;
  const uint32_t flags = SDL_WINDOW_RESIZABLE | SDL_WINDOW_ALLOW_HIGHDPI;
  window_ =
      SDL_CreateWindow(opts_.name.c_str(), SDL_WINDOWPOS_UNDEFINED, SDL_WINDOWPOS_UNDEFINED, 720, 400, flags);
  if (!window_) {
    SDL_QuitSubSystem(SDL_INIT_VIDEO | SDL_INIT_EVENTS);
    throw sdl_error("cannot open a window");
  }
  renderer_ = SDL_CreateRenderer(window_, -1, SDL_RENDERER_ACCELERATED | SDL_RENDERER_PRESENTVSYNC);
  if (!renderer_) renderer_ = SDL_CreateRenderer(window_, -1, SDL_RENDERER_SOFTWARE);
  if (!renderer_) {
    SDL_DestroyWindow(window_);
    SDL_QuitSubSystem(SDL_INIT_VIDEO | SDL_INIT_EVENTS);
    throw sdl_error("cannot create a renderer");
  }
  if (opts_.full_screen) set_full_screen(true);
  SDL_SetRenderDrawColor(renderer_, 0, 0, 0, 255);
  SDL_RenderClear(renderer_);
  SDL_RenderPresent(renderer_);
  update_title();
}

SdlWindow::~SdlWindow() {
  if (texture_) SDL_DestroyTexture(texture_);
  if (renderer_) SDL_DestroyRenderer(renderer_);
  if (window_) SDL_DestroyWindow(window_);
  SDL_QuitSubSystem(SDL_INIT_VIDEO | SDL_INIT_EVENTS);
}

void SdlWindow::close() {
  SDL_Event e{};
  e.type = quit_event_;
  SDL_PushEvent(&e);
}

void SdlWindow::frame_ready() {
  if (frame_pending_.exchange(true)) return;  // one event in the queue is enough
  SDL_Event e{};
  e.type = frame_event_;
  SDL_PushEvent(&e);
}

void SdlWindow::set_paused(bool paused) {
  paused_ = paused;
  frame_ready();  // (wakes the loop to retitle)
}

bool SdlWindow::run() {
  uint32_t last_title = 0;
  while (!quit_) {
    SDL_Event e;
    if (SDL_WaitEventTimeout(&e, 250)) {
      handle(e);
      while (!quit_ && SDL_PollEvent(&e)) handle(e);
    }
    present();
    const uint32_t now = SDL_GetTicks();
    if (now - last_title >= 500) {
      last_title = now;
      update_title();
    }
  }
  return closed_by_user_;
}

void SdlWindow::present() {
  frame_pending_ = false;
  const bool changed = link_.take_damage([this](const Frame& f, unsigned y0, unsigned y1, bool) {
    if (f.width == 0 || f.height == 0) return;
    if (!texture_ || f.width != tex_w_ || f.height != tex_h_) {
      if (texture_) SDL_DestroyTexture(texture_);
      texture_ = SDL_CreateTexture(renderer_, SDL_PIXELFORMAT_RGB888, SDL_TEXTUREACCESS_STREAMING,
                                   static_cast<int>(f.width), static_cast<int>(f.height));
      if (!texture_) return;
      tex_w_ = f.width;
      tex_h_ = f.height;
      SDL_RenderSetLogicalSize(renderer_, static_cast<int>(f.width), static_cast<int>(f.height));
      if (!full_screen_) fit_window();
      y0 = 0;
      y1 = f.height;
    }
    const SDL_Rect r{0, static_cast<int>(y0), static_cast<int>(f.width), static_cast<int>(y1 - y0)};
    SDL_UpdateTexture(texture_, &r, &f.pixels[size_t{y0} * f.width], static_cast<int>(f.width * 4));
  });
  (void)changed;
  SDL_RenderClear(renderer_);
  if (texture_) SDL_RenderCopy(renderer_, texture_, nullptr, nullptr);
  SDL_RenderPresent(renderer_);
}

void SdlWindow::fit_window() {
  // The window takes the mode's size (small modes twice over).
  if (tex_w_ == 0) return;
  const int scale = tex_w_ < 640 ? 2 : 1;
  SDL_SetWindowSize(window_, static_cast<int>(tex_w_) * scale, static_cast<int>(tex_h_) * scale);
}

void SdlWindow::set_full_screen(bool on) {
  full_screen_ = on;
  if (on) {
    // The window first covers its display by itself (borderless, at the display's bounds), so
    // that full screen holds without a window manager to honour the request too (a bare X
    // server, a kiosk); then the request, for window managers.
    SDL_Rect r;
    SDL_SetWindowBordered(window_, SDL_FALSE);
    if (SDL_GetDisplayBounds(std::max(0, SDL_GetWindowDisplayIndex(window_)), &r) == 0) {
      SDL_SetWindowPosition(window_, r.x, r.y);
      SDL_SetWindowSize(window_, r.w, r.h);
    }
    SDL_SetWindowFullscreen(window_, SDL_WINDOW_FULLSCREEN_DESKTOP);
  } else {
    SDL_SetWindowFullscreen(window_, 0);
    SDL_SetWindowBordered(window_, SDL_TRUE);
    fit_window();
  }
}

void SdlWindow::update_title() {
  const DisplayLink::Status st = link_.status();
  char buf[256];
  const char* state = paused_ ? "paused" : st.halted && st.mips < 1 ? "halted" : "running";
  std::snprintf(buf, sizeof buf, "%s - %s - %.1f MIPS%s%s%s%s", opts_.name.c_str(), state, st.mips,
                (st.leds & 2) ? " [Num]" : "", (st.leds & 4) ? " [Caps]" : "",
                (st.leds & 1) ? " [Scroll]" : "", grabbed_ ? " - Ctrl+Alt+G releases the mouse" : "");
  if (title_ != buf) {
    title_ = buf;
    SDL_SetWindowTitle(window_, buf);
  }
}

void SdlWindow::set_grab(bool on) {
  grabbed_ = on;
  SDL_SetRelativeMouseMode(on ? SDL_TRUE : SDL_FALSE);
  SDL_SetWindowGrab(window_, on ? SDL_TRUE : SDL_FALSE);
  update_title();
}

void SdlWindow::handle(const SDL_Event& e) {
  if (e.type == quit_event_) {
    quit_ = true;
    return;
  }
  if (e.type == frame_event_) return;  // present() follows every batch of events
  switch (e.type) {
    case SDL_QUIT:
      closed_by_user_ = quit_ = true;
      break;
    case SDL_KEYDOWN:
    case SDL_KEYUP: {
      const bool down = e.type == SDL_KEYDOWN;
      const SDL_Scancode sc = e.key.keysym.scancode;
      // The modifiers as they were at this key (SDL_GetModState() is the state after every event
      // pumped so far: with a batch queued, Ctrl and Alt may already be up again).
      const uint16_t mod = e.key.keysym.mod;
      const bool ctrl_alt = (mod & KMOD_CTRL) && (mod & KMOD_ALT);
      if (ctrl_alt && (sc == SDL_SCANCODE_G || sc == SDL_SCANCODE_F)) {  // ours, not the guest's
        if (down && !e.key.repeat) {
          if (sc == SDL_SCANCODE_G)
            set_grab(!grabbed_);
          else
            set_full_screen(!full_screen_);
        }
        break;
      }
      if (const uint16_t code = sdl_scancode_to_set1(sc)) link_.key(code, down);  // (repeats: typematic)
      break;
    }
    case SDL_MOUSEBUTTONDOWN:
    case SDL_MOUSEBUTTONUP:
      if (!grabbed_) {
        if (e.type == SDL_MOUSEBUTTONUP && e.button.button == SDL_BUTTON_LEFT)
          set_grab(true);  // click to grab
        break;
      }
      buttons_ = ps2_buttons(SDL_GetMouseState(nullptr, nullptr));
      link_.mouse(0, 0, 0, buttons_);
      break;
    case SDL_MOUSEMOTION:
      if (grabbed_ && (e.motion.xrel || e.motion.yrel))
        link_.mouse(e.motion.xrel, -e.motion.yrel, 0, buttons_);
      break;
    case SDL_MOUSEWHEEL:
      if (grabbed_ && e.wheel.y)
        link_.mouse(0, 0, e.wheel.direction == SDL_MOUSEWHEEL_FLIPPED ? e.wheel.y : -e.wheel.y, buttons_);
      break;
    case SDL_WINDOWEVENT:
      if (e.window.event == SDL_WINDOWEVENT_FOCUS_LOST && grabbed_) set_grab(false);
      break;
    default:
      break;
  }
}

}  // namespace vx86
