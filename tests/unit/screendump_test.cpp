// Screendump files: a frame written as PNG (through libpng) and as PPM reads back pixel for pixel
// (PNG read back with libpng's own decoder, PPM parsed here).
#include "frontend/screendump.h"

#include <gtest/gtest.h>
#include <png.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

namespace vx86 {
namespace {

Frame pattern_frame(unsigned w, unsigned h) {
  Frame f;
  f.width = w;
  f.height = h;
  for (unsigned y = 0; y < h; ++y)
    for (unsigned x = 0; x < w; ++x)
      f.pixels.push_back(((x * 7) & 0xFF) << 16 | ((y * 3 + x) & 0xFF) << 8 | ((x ^ y) & 0xFF));
  return f;
}

std::string temp(const char* name) {
  return ::testing::TempDir() + "/vx86-sd-" + std::to_string(getpid()) + name;
}

TEST(Screendump, PngReadsBackWithLibpng) {
  const Frame f = pattern_frame(123, 45);
  const std::string path = temp(".png");
  write_png(path, f);
  png_image img{};
  img.version = PNG_IMAGE_VERSION;
  ASSERT_TRUE(png_image_begin_read_from_file(&img, path.c_str())) << img.message;
  EXPECT_EQ(img.width, 123u);
  EXPECT_EQ(img.height, 45u);
  img.format = PNG_FORMAT_RGB;
  std::vector<uint8_t> rgb(PNG_IMAGE_SIZE(img));
  ASSERT_TRUE(png_image_finish_read(&img, nullptr, rgb.data(), 0, nullptr)) << img.message;
  for (size_t i = 0; i < f.pixels.size(); ++i) {
    const uint32_t got = uint32_t{rgb[i * 3]} << 16 | uint32_t{rgb[i * 3 + 1]} << 8 | rgb[i * 3 + 2];
    ASSERT_EQ(got, f.pixels[i]) << "pixel " << i;
  }
  std::filesystem::remove(path);
}

TEST(Screendump, PpmHeaderAndPixels) {
  const Frame f = pattern_frame(17, 9);
  const std::string path = temp(".ppm");
  write_ppm(path, f);
  std::ifstream in(path, std::ios::binary);
  const std::string data((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  const std::string header = "P6\n17 9\n255\n";
  ASSERT_EQ(data.size(), header.size() + 17 * 9 * 3);
  EXPECT_EQ(data.substr(0, header.size()), header);
  for (size_t i = 0; i < f.pixels.size(); ++i) {
    const auto* p = reinterpret_cast<const uint8_t*>(data.data() + header.size() + i * 3);
    ASSERT_EQ(uint32_t{p[0]} << 16 | uint32_t{p[1]} << 8 | p[2], f.pixels[i]) << "pixel " << i;
  }
  std::filesystem::remove(path);
}

TEST(Screendump, FormatFromNameAndErrors) {
  EXPECT_EQ(image_format_for("a.png"), ImageFormat2D::Png);
  EXPECT_EQ(image_format_for("a.ppm"), ImageFormat2D::Ppm);
  EXPECT_EQ(image_format_for("png"), ImageFormat2D::Ppm);
  EXPECT_THROW(write_png("/nonexistent/dir/x.png", pattern_frame(2, 2)), std::runtime_error);
  EXPECT_THROW(write_ppm("/nonexistent/dir/x.ppm", pattern_frame(2, 2)), std::runtime_error);
}

}  // namespace
}  // namespace vx86
