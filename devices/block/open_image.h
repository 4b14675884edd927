// Opens a disk image file with the driver for its format: probed from the file's first bytes
// (as QEMU does: a qcow2 magic means qcow2, anything else is raw) or given by -drive format=.
#pragma once
#include <memory>
#include <optional>
#include <string>

#include "devices/block/block_driver.h"

namespace vx86 {

enum class ImageFormat { Probe, Raw, Qcow2 };

// "raw" / "qcow2" -> the format; anything else -> nullopt.
std::optional<ImageFormat> parse_image_format(const std::string& name);

// Throws std::runtime_error with a one-line message naming the file and the problem. depth is the
// image's position in a qcow2 backing chain (0 for the image a drive opens; the qcow2 driver opens
// its backing file with depth + 1 and refuses chains that are too long).
std::unique_ptr<BlockDriver> open_block_image(const std::string& path, ImageFormat format, bool writable,
                                              int depth = 0);

}  // namespace vx86
