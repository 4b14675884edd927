// Qcow2Image: QEMU's copy-on-write image format, versions 2 and 3 (docs/interop/qcow2.txt).
//
// Reads: L1/L2 lookup; standard, zero (v3) and zlib-compressed clusters; unallocated clusters come
// from the backing image (raw or qcow2, opened read-only, chain depth capped) or read as zeros.
// Writes: in place when the L2 entry says the cluster is ours alone (COPIED, or a refcount of 1);
// otherwise a fresh cluster is allocated and written whole: copy-on-write from a compressed, zero,
// unallocated (backing file or zeros) or snapshot-shared cluster. An L2 table shared with an
// internal snapshot is copied first. Refcount widths 1-64 bits (refcount_order 0-6) all work.
//
// Allocation: the first cluster with refcount 0 at or after a hint (freed clusters are reused). A
// new refcount block goes inside the range it covers, so it counts itself. A full refcount table
// is replaced by a larger one (up to QEMU's 8 MiB limit; past that a write fails).
//
// Crash consistency (SIGKILL at any point leaves at most leaked clusters): metadata is cached but
// written through, one small pwrite per changed entry, in this order: cluster contents, then its
// refcount (a new refcount block is written before the refcount-table entry that points at it),
// then the L2 entry (or L1 entry for a new L2 table) that references it; references an entry
// drops are released only after the entry is rewritten. A new refcount table and its blocks are
// written before the header points at them, the old table freed after. The dirty bit and lazy
// refcounts are never used; images marked dirty or corrupt open read-only only. flush() is
// fdatasync. Not thread-safe (neither is DiskImage); no file locking.
#pragma once
#include <cstdint>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

#include "devices/block/block_driver.h"

namespace vx86 {

class Qcow2Image final : public BlockDriver {
 public:
  // Backing chains longer than this (counting the top image) are refused: a loop is an error.
  static constexpr int kMaxChainDepth = 16;

  // Throws std::runtime_error with one line naming the file and the problem. depth is this
  // image's position in a backing chain (0 = the image the drive opened).
  Qcow2Image(const std::string& path, bool writable, int depth = 0);
  ~Qcow2Image() override;
  Qcow2Image(const Qcow2Image&) = delete;
  Qcow2Image& operator=(const Qcow2Image&) = delete;

  uint64_t size() const override { return size_; }
  bool writable() const override { return writable_; }
  const char* format() const override { return "qcow2"; }
  bool read(uint64_t offset, void* buf, size_t n) override;
  bool write(uint64_t offset, const void* buf, size_t n) override;
  bool flush() override;

  uint32_t version() const { return version_; }
  uint32_t cluster_bits() const { return cluster_bits_; }
  uint32_t refcount_order() const { return refcount_order_; }
  // The backing image, or nullptr.
  const BlockDriver* backing() const { return backing_.get(); }

 private:
  enum class Kind { Unallocated, Zero, Data, Compressed };
  struct Mapping {
    Kind kind = Kind::Unallocated;
    uint64_t host = 0;   // Data: cluster offset; Zero: preallocated offset or 0; Compressed: start
    uint64_t csize = 0;  // Compressed: bytes of compressed data at host
    uint64_t entry = 0;  // the raw L2 entry
  };

  [[noreturn]] void fail(const std::string& what) const;
  void parse_header(uint64_t file_size);
  void open_backing(const std::string& name, const std::string& format_name);

  // Table access (write-through caches). false on a malformed entry or host I/O error.
  bool l1_to_l2_offset(uint64_t l1_entry, uint64_t* l2_offset) const;
  const std::vector<uint64_t>* l2_table(uint64_t offset);
  bool l2_entry(uint64_t l2_offset, uint64_t index, uint64_t* entry);
  bool set_l2_entry(uint64_t l2_offset, uint64_t index, uint64_t entry);
  bool set_l1_entry(uint64_t index, uint64_t entry);
  bool decode_l2(uint64_t entry, Mapping* m) const;
  bool map_cluster(uint64_t guest_cluster, Mapping* m);
  bool decompress(const Mapping& m);
  bool read_backing(uint64_t offset, uint8_t* buf, uint64_t n);
  bool read_host(uint64_t offset, uint8_t* buf, uint64_t n);  // zeros past end of file

  // Refcounts and allocation.
  std::vector<uint8_t>* refblock(uint64_t offset);
  bool refcount(uint64_t cluster, uint64_t* value);
  bool update_refcount(uint64_t cluster, int delta);
  bool new_refblock(uint64_t table_index);
  bool grow_reftable(uint64_t needed_index);
  bool refblock_offset(uint64_t table_index, uint64_t* offset) const;
  bool is_metadata(uint64_t cluster) const;  // header, L1 table, refcount table
  bool is_reserved(uint64_t cluster) const;  // metadata or pending
  bool find_free(uint64_t count, uint64_t* first);
  bool alloc_cluster(const uint8_t* contents, uint64_t* offset);
  bool release(const Mapping& m);
  void forget_cached(uint64_t offset);

  bool l2_for_write(uint64_t l1_index, uint64_t* l2_offset);
  bool write_cluster(uint64_t guest_cluster, uint64_t in_cluster, const uint8_t* src, uint64_t len);

  std::string path_;
  int fd_ = -1;
  bool writable_;
  int depth_;
  uint64_t size_ = 0;
  uint32_t version_ = 0;
  uint32_t cluster_bits_ = 0;
  uint64_t cluster_size_ = 0;
  uint32_t l2_bits_ = 0;  // log2(entries per L2 table)
  uint32_t refcount_order_ = 4;
  uint32_t refblock_bits_ = 0;  // log2(entries per refcount block)
  uint64_t l1_offset_ = 0;
  std::vector<uint64_t> l1_;
  uint64_t reftable_offset_ = 0;
  std::vector<uint64_t> reftable_;
  uint64_t max_clusters_ = 0;  // host clusters addressable below 2^56
  std::unique_ptr<BlockDriver> backing_;

  std::unordered_map<uint64_t, std::vector<uint64_t>> l2_cache_;  // host-endian entries
  std::unordered_map<uint64_t, std::vector<uint8_t>> rb_cache_;   // raw refcount blocks
  std::vector<uint8_t> cbuf_;                                     // compressed input
  std::vector<uint8_t> dbuf_;                                     // one decompressed cluster
  uint64_t dbuf_entry_ = 0;
  bool dbuf_valid_ = false;
  std::vector<uint8_t> wbuf_;  // a cluster being assembled for a write

  uint64_t free_hint_ = 0;         // no free cluster below this one
  std::vector<uint64_t> pending_;  // clusters written but not yet refcounted
};

}  // namespace vx86
