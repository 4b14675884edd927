#include "frontend/screendump.h"

#include <png.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <stdexcept>
#include <vector>

namespace vx86 {

namespace {

std::vector<uint8_t> rgb_bytes(const Frame& frame) {
  std::vector<uint8_t> rgb;
  rgb.reserve(frame.pixels.size() * 3);
  for (uint32_t p : frame.pixels) {
    rgb.push_back(static_cast<uint8_t>(p >> 16));
    rgb.push_back(static_cast<uint8_t>(p >> 8));
    rgb.push_back(static_cast<uint8_t>(p));
  }
  return rgb;
}

}  // namespace

void write_png(const std::string& path, const Frame& frame) {
  const std::vector<uint8_t> rgb = rgb_bytes(frame);
  png_image image{};
  image.version = PNG_IMAGE_VERSION;
  image.width = frame.width;
  image.height = frame.height;
  image.format = PNG_FORMAT_RGB;
  if (!png_image_write_to_file(&image, path.c_str(), 0, rgb.data(), static_cast<png_int_32>(frame.width * 3),
                               nullptr))
    throw std::runtime_error("cannot write screendump '" + path + "': " + image.message);
}

void write_image(const std::string& path, const Frame& frame, ImageFormat2D format) {
  if (format == ImageFormat2D::Png)
    write_png(path, frame);
  else
    write_ppm(path, frame);
}

ImageFormat2D image_format_for(const std::string& path) {
  const size_t n = path.size();
  return n >= 4 && path.compare(n - 4, 4, ".png") == 0 ? ImageFormat2D::Png : ImageFormat2D::Ppm;
}

void write_ppm(const std::string& path, const Frame& frame) {
  const std::vector<uint8_t> rgb = rgb_bytes(frame);
  FILE* f = std::fopen(path.c_str(), "wb");
  if (!f) throw std::runtime_error("cannot write screendump '" + path + "': " + std::strerror(errno));
  const bool ok = std::fprintf(f, "P6\n%u %u\n255\n", frame.width, frame.height) > 0 &&
                  std::fwrite(rgb.data(), 1, rgb.size(), f) == rgb.size();
  if (std::fclose(f) != 0 || !ok) throw std::runtime_error("cannot write screendump '" + path + "'");
}

}  // namespace vx86
