// The snapshot file: a fixed header, then the machine's state (devices/snapshot.h sections)
// compressed with zstd (one frame that states its content size). The header names the format version (a file from another version is
// refused, not guessed at) and carries CRC-32s of itself and of the compressed payload, so a
// damaged file is an error before any of it is parsed.
//
//   0  "VX86SNAP"            8  u32 format version     12 u32 header size (64)
//  16  u64 payload size     24  u64 compressed size    32 u32 CRC-32 (zlib's) of the compressed bytes
//  36  char[24] the vx86 version that wrote it (for the error message)
//  60  u32 CRC-32 of bytes 0-59
#pragma once
#include <cstdint>
#include <string>
#include <vector>

namespace vx86 {

constexpr uint32_t kSnapshotFormatVersion = 1;

uint32_t crc32_of(const std::vector<uint8_t>& data);

// Writes `payload` compressed to `path` (through a temporary file renamed into place, so an
// existing snapshot is never left half-written). Throws std::runtime_error naming the problem.
void write_snapshot_file(const std::string& path, const std::vector<uint8_t>& payload);

// Reads, checks and decompresses a snapshot file; a payload larger than `max_payload` is refused.
// Throws SnapshotError (damaged, other version, too large) or std::runtime_error (cannot read).
std::vector<uint8_t> read_snapshot_file(const std::string& path, uint64_t max_payload);

}  // namespace vx86
