#include "devices/net/net_switch.h"

#include <algorithm>

namespace vx86 {

namespace {
uint64_t mac_key(const uint8_t* p) {
  uint64_t k = 0;
  for (int i = 0; i < 6; ++i) k = k << 8 | p[i];
  return k;
}
}  // namespace

std::unique_ptr<NetSwitch::Port> NetSwitch::add_port() {
  std::lock_guard g(mu_);
  std::unique_ptr<Port> p(new Port(shared_from_this(), next_index_++));
  ports_.push_back(p.get());
  return p;
}

void NetSwitch::remove(Port* p) {
  std::lock_guard g(mu_);
  ports_.erase(std::remove(ports_.begin(), ports_.end(), p), ports_.end());
  for (auto it = learned_.begin(); it != learned_.end();)
    it = it->second == p->index_ ? learned_.erase(it) : std::next(it);
}

void NetSwitch::forward(Port* from, const uint8_t* frame, size_t len) {
  if (len < 14) return;
  {
    std::lock_guard g(mu_);
    if (!(frame[6] & 1)) learned_[mac_key(frame + 6)] = from->index_;  // the source's port
    int to = -1;
    if (!(frame[0] & 1))
      if (auto it = learned_.find(mac_key(frame)); it != learned_.end()) to = static_cast<int>(it->second);
    for (Port* p : ports_) {
      if (p == from || (to >= 0 && p->index_ != static_cast<unsigned>(to))) continue;
      if (p->inbox_.size() >= kQueueFrames) {
        ++p->dropped_;
        continue;
      }
      const bool was_empty = p->inbox_.empty();
      p->inbox_.emplace_back(frame, frame + len);
      // (Under the lock, so the port cannot go away meanwhile: the callback only flags its board.)
      if (was_empty) p->frames_ready();
    }
  }
}

NetSwitch::Port::~Port() { sw_->remove(this); }

void NetSwitch::Port::transmit(const uint8_t* frame, size_t len) { sw_->forward(this, frame, len); }

void NetSwitch::Port::poll() {
  std::deque<std::vector<uint8_t>> frames;
  {
    std::lock_guard g(sw_->mu_);
    frames.swap(inbox_);
  }
  for (const auto& f : frames) deliver(f.data(), f.size());
}

std::string NetSwitch::Port::describe() const {
  return "switch '" + sw_->name() + "' port " + std::to_string(index_);
}

}  // namespace vx86
