// The display window on SDL2 (-display sdl): the guest's screen scaled to the window with its
// aspect ratio kept (letterboxed), the keyboard and a grabbed mouse into the guest, and the
// machine's state in the title (running, halted in HLT, paused; guest MIPS; the keyboard LEDs).
//
// A click in the window grabs the mouse (its motion goes to the guest's PS/2 mouse); Ctrl+Alt+G
// releases it and Ctrl+Alt+F toggles full screen, as in QEMU. Closing the window ends vx86.
// SDL wants its window on the thread that made it: the program runs the window on its main
// thread and the machine on another (frontend/main.cpp).
#pragma once
#include <atomic>
#include <cstdint>
#include <functional>
#include <string>

#include "frontend/display_link.h"

struct SDL_Window;
struct SDL_Renderer;
struct SDL_Texture;
union SDL_Event;

namespace vx86 {

class SdlWindow {
 public:
  struct Options {
    bool full_screen = false;
    std::string name = "vx86";
  };
  // Opens the window (throws std::runtime_error naming SDL's reason when it cannot).
  SdlWindow(DisplayLink& link, Options o);
  ~SdlWindow();
  SdlWindow(const SdlWindow&) = delete;
  SdlWindow& operator=(const SdlWindow&) = delete;

  // The event loop, until close() or the user closes the window (then true).
  bool run();
  // From any thread.
  void close();
  void frame_ready();
  void set_paused(bool paused);

 private:
  void handle(const SDL_Event& e);
  void present();
  void update_title();
  void set_grab(bool on);
  void set_full_screen(bool on);
  void fit_window();
  void mouse_buttons_changed();

  DisplayLink& link_;
  Options opts_;
  SDL_Window* window_ = nullptr;
  SDL_Renderer* renderer_ = nullptr;
  SDL_Texture* texture_ = nullptr;
  unsigned tex_w_ = 0, tex_h_ = 0;
  uint32_t frame_event_ = 0, quit_event_ = 0;
  std::atomic<bool> frame_pending_{false};
  std::atomic<bool> paused_{false};
  bool grabbed_ = false, closed_by_user_ = false, quit_ = false, full_screen_ = false;
  uint8_t buttons_ = 0;
  std::string title_;
};

}  // namespace vx86
