#include "frontend/screendump.h"

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <stdexcept>
#include <vector>

namespace vx86 {

void write_ppm(const std::string& path, const Frame& frame) {
  std::vector<uint8_t> rgb;
  rgb.reserve(frame.pixels.size() * 3);
  for (uint32_t p : frame.pixels) {
    rgb.push_back(static_cast<uint8_t>(p >> 16));
    rgb.push_back(static_cast<uint8_t>(p >> 8));
    rgb.push_back(static_cast<uint8_t>(p));
  }
  FILE* f = std::fopen(path.c_str(), "wb");
  if (!f) throw std::runtime_error("cannot write screendump '" + path + "': " + std::strerror(errno));
  const bool ok = std::fprintf(f, "P6\n%u %u\n255\n", frame.width, frame.height) > 0 &&
                  std::fwrite(rgb.data(), 1, rgb.size(), f) == rgb.size();
  if (std::fclose(f) != 0 || !ok) throw std::runtime_error("cannot write screendump '" + path + "'");
}

}  // namespace vx86
