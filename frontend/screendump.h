// Screendumps: a rendered frame (devices/vga_render.h) to an image file: PPM (binary P6, the
// format QEMU's screendump writes by default) or PNG (through libpng).
#pragma once
#include <string>

#include "devices/vga_render.h"

namespace vx86 {

enum class ImageFormat2D { Ppm, Png };

// Throw std::runtime_error naming the file on a host I/O error.
void write_ppm(const std::string& path, const Frame& frame);
void write_png(const std::string& path, const Frame& frame);
void write_image(const std::string& path, const Frame& frame, ImageFormat2D format);
// The format a file name asks for: PNG for "*.png", else PPM.
ImageFormat2D image_format_for(const std::string& path);

}  // namespace vx86
