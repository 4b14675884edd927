// Screendumps: a rendered frame (devices/vga_render.h) to an image file. PPM (binary P6), the
// format QEMU's screendump writes by default; PNG comes with the display work (issue 10).
#pragma once
#include <string>

#include "devices/vga_render.h"

namespace vx86 {

// Throws std::runtime_error naming the file on a host I/O error.
void write_ppm(const std::string& path, const Frame& frame);

}  // namespace vx86
