#include "frontend/display_link.h"

#include <algorithm>
#include <cstring>

#include "emu/board/machine.h"
#include "emu/device_lock.h"

namespace vx86 {

DisplayLink::DisplayLink(Machine& m) : m_(m), display_(*m.vga()) {}

uint64_t DisplayLink::ns_to_next_frame(uint64_t now_ns) const {
  return next_frame_ns_ > now_ns ? next_frame_ns_ - now_ns : 0;
}

void DisplayLink::tick(uint64_t now_ns) {
  std::vector<Input> input;
  {
    std::lock_guard lk(mu_);
    input.swap(input_);
  }
  // (CPUs on host threads may be inside the i8042 or the VGA: their lock.)
  DeviceGuard devices(m_.device_lock());
  for (const Input& in : input) {
    if (in.is_key)
      m_.kbc().key(in.code, in.pressed);
    else
      m_.kbc().mouse_event(in.dx, in.dy, in.buttons, in.dz);
  }

  if (now_ns >= sample_ns_ + 1'000'000'000) {
    const uint64_t icount = m_.icount();
    Status st;
    if (sample_ns_)
      st.mips = static_cast<double>(icount - sample_icount_) * 1e3 / static_cast<double>(now_ns - sample_ns_);
    st.halted = __atomic_load_n(&m_.cpu().s.halted, __ATOMIC_RELAXED);  // (its thread may be running)
    st.leds = m_.kbc().leds();
    sample_ns_ = now_ns;
    sample_icount_ = icount;
    std::lock_guard lk(mu_);
    status_ = st;
  }

  if (now_ns < next_frame_ns_) return;
  next_frame_ns_ = std::max(next_frame_ns_ + kFrameNs, now_ns);
  const VgaDisplay::Update u = display_.refresh(now_ns);
  if (u.empty() && !u.resized) return;
  const Frame& f = display_.frame();
  {
    std::lock_guard lk(mu_);
    if (u.resized || shared_.width != f.width || shared_.height != f.height) {
      shared_ = f;
      resized_ = true;
      dmg_y0_ = 0;
      dmg_y1_ = f.height;
    } else {
      std::memcpy(&shared_.pixels[size_t{u.y0} * f.width], &f.pixels[size_t{u.y0} * f.width],
                  size_t{u.y1 - u.y0} * f.width * sizeof(uint32_t));
      if (!damaged_) dmg_y0_ = u.y0, dmg_y1_ = u.y1;
      dmg_y0_ = std::min(dmg_y0_, u.y0);
      dmg_y1_ = std::max(dmg_y1_, u.y1);
    }
    damaged_ = true;
  }
  if (on_frame) on_frame();
}

void DisplayLink::key(uint16_t set1, bool pressed) {
  {
    std::lock_guard lk(mu_);
    if (input_.size() >= 1024) return;  // the machine is not taking input: drop, don't grow
    input_.push_back({true, set1, pressed, 0, 0, 0, 0});
  }
  if (on_input) on_input();
}

void DisplayLink::mouse(int dx, int dy, int dz, uint8_t buttons) {
  {
    std::lock_guard lk(mu_);
    if (input_.size() >= 1024) return;
    input_.push_back({false, 0, false, dx, dy, dz, buttons});
  }
  if (on_input) on_input();
}

DisplayLink::Status DisplayLink::status() const {
  std::lock_guard lk(mu_);
  return status_;
}

bool DisplayLink::take_damage(const std::function<void(const Frame&, unsigned, unsigned, bool)>& upload) {
  std::lock_guard lk(mu_);
  if (!damaged_) return false;
  upload(shared_, dmg_y0_, dmg_y1_, resized_);
  damaged_ = resized_ = false;
  return true;
}

}  // namespace vx86
