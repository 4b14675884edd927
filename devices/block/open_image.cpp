#include "devices/block/open_image.h"

#include <fcntl.h>
#include <unistd.h>

#include <cstring>
#include <stdexcept>

#include "devices/block/qcow2.h"
#include "devices/block/raw_file.h"

namespace vx86 {

namespace {

// The first four bytes of every qcow file ("QFI\xfb").
constexpr uint8_t kQcowMagic[4] = {'Q', 'F', 'I', 0xFB};

bool has_qcow_magic(const std::string& path) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return false;  // the driver's open reports the error
  uint8_t head[4] = {};
  const bool ok = pread_all(fd, head, sizeof head, 0);
  ::close(fd);
  return ok && std::memcmp(head, kQcowMagic, sizeof head) == 0;
}

}  // namespace

std::optional<ImageFormat> parse_image_format(const std::string& name) {
  if (name == "raw") return ImageFormat::Raw;
  if (name == "qcow2") return ImageFormat::Qcow2;
  return std::nullopt;
}

std::unique_ptr<BlockDriver> open_block_image(const std::string& path, ImageFormat format, bool writable,
                                              int depth) {
  if (format == ImageFormat::Probe) format = has_qcow_magic(path) ? ImageFormat::Qcow2 : ImageFormat::Raw;
  if (format == ImageFormat::Qcow2) return std::make_unique<Qcow2Image>(path, writable, depth);
  return std::make_unique<RawFile>(path, writable);
}

}  // namespace vx86
