// IDE/ATA channel with two drives (master/slave): ATA hard disks backed by a DiskImage and ATAPI
// CD-ROMs backed by an ISO image, PIO and bus-master DMA (the PIIX's BMIDE registers for this
// channel live here too, so a channel is usable on its own or as part of the PIIX3 IDE function).
//
// Commands complete synchronously: a READ puts the first DRQ block in the buffer and raises INTRQ
// before the OUT instruction that issued it retires; a DMA transfer runs when both the command is
// pending and the bus master's start bit is set. ATA commands are in ide.cpp, ATAPI (the PACKET
// command set) in atapi.cpp.
#pragma once
#include <array>
#include <cstdint>
#include <functional>
#include <memory>
#include <vector>

#include "devices/disk_image.h"
#include "devices/io_util.h"
#include "devices/port_bus.h"

namespace vx86 {

class SnapshotWriter;
class SnapshotReader;
class PhysicalMemory;

class IdeChannel : public IoDevice {
 public:
  enum class Kind : uint8_t { None = 0, Disk = 1, Cdrom = 2 };
  static constexpr unsigned kMaxMultiple = 16;          // sectors per READ/WRITE MULTIPLE block
  static constexpr uint32_t kMaxPioChunk = 0x10000;     // largest DRQ block (ATAPI byte count)
  static constexpr unsigned kMaxPrdEntries = 8192;      // one 64 KiB PRD table

  // Status / error bits.
  enum : uint8_t { ST_ERR = 0x01, ST_DRQ = 0x08, ST_DSC = 0x10, ST_DF = 0x20, ST_DRDY = 0x40, ST_BSY = 0x80 };
  enum : uint8_t { ER_AMNF = 0x01, ER_ABRT = 0x04, ER_IDNF = 0x10, ER_UNC = 0x40 };

  // cmd_base: 0x1F0 / 0x170; ctrl_port: 0x3F6 / 0x376.
  IdeChannel(uint16_t cmd_base, uint16_t ctrl_port) : cmd_base_(cmd_base), ctrl_port_(ctrl_port) { reset(); }
  void attach(PortBus& bus);

  // Drives (unit 0 = master, 1 = slave). A CD-ROM may be empty (nullptr). Disk geometry for CHS
  // addressing defaults to 16 heads / 63 sectors per track (cylinders capped at 16383).
  void attach_disk(unsigned unit, std::shared_ptr<DiskImage> image);
  void attach_cdrom(unsigned unit, std::shared_ptr<DiskImage> iso);
  void detach(unsigned unit);
  // Medium change on a CD-ROM (nullptr = eject). Reported to the guest as a media event and a
  // UNIT ATTENTION.
  void change_medium(unsigned unit, std::shared_ptr<DiskImage> iso);
  Kind kind(unsigned unit) const { return drives_[unit & 1].kind; }

  // Hardware reset (power-on / RESET#): both drives to their signatures, no interrupt.
  void reset();

  // Bus-master DMA reaches guest RAM through this memory. Every PRD entry and every buffer is
  // checked against the RAM size; `on_dma_write` tells the board which bytes DMA wrote (to drop
  // translated code).
  void set_dma_memory(PhysicalMemory* mem) { mem_ = mem; }
  std::function<void(uint32_t addr, uint32_t len)> on_dma_write;

  IrqOutput irq;  // INTRQ of the selected drive, gated by nIEN (IRQ14 / IRQ15 in legacy mode)
  bool irq_level() const { return irq_level_; }

  uint32_t io_read(uint16_t port, unsigned size) override;
  void io_write(uint16_t port, uint32_t value, unsigned size) override;

  // Bus-master IDE registers of this channel (offset 0-7: command, status, PRD table address).
  uint32_t bm_read(unsigned offset, unsigned size);
  void bm_write(unsigned offset, uint32_t value, unsigned size);
  void bm_reset();

  // Introspection.
  uint8_t status(unsigned unit) const { return drives_[unit & 1].status; }
  uint8_t error(unsigned unit) const { return drives_[unit & 1].error; }
  uint8_t bm_status() const { return bm_status_; }
  // A DMA command is issued and its transfer not finished (the bus master not yet started).
  bool dma_in_progress() const {
    for (const Drive& d : drives_)
      if (d.phase == Phase::DmaIn || d.phase == Phase::DmaOut) return true;
    return false;
  }

  void save(SnapshotWriter& w) const;
  void load(SnapshotReader& r);  // the same drives must be attached (kind and size are checked)
  // load() in two steps, so a device holding several channels can validate all before applying.
  struct Loaded;
  std::unique_ptr<Loaded> parse(SnapshotReader& r) const;
  void apply(Loaded& l);

 private:
  enum class Phase : uint8_t { Idle = 0, PioIn, PioOut, Packet, DmaIn, DmaOut };

  struct Drive {
    Kind kind = Kind::None;
    std::shared_ptr<DiskImage> image;
    uint64_t sectors = 0;           // 512-byte (disk) or 2048-byte (CD) sectors
    uint16_t cyls = 0, heads = 0, spt = 0;
    // Task file (written to both drives, as both latch the shared bus) and HOB copies.
    uint8_t feature = 0, count = 0, lba_low = 0, lba_mid = 0, lba_high = 0, device = 0;
    uint8_t hob_feature = 0, hob_count = 0, hob_lba_low = 0, hob_lba_mid = 0, hob_lba_high = 0;
    uint8_t status = 0, error = 0;
    bool intrq = false;
    // Settings.
    uint8_t mult = 0;               // READ/WRITE MULTIPLE block size (0 = disabled)
    uint8_t xfer_mode = 0;          // SET FEATURES 03h value
    uint16_t cur_heads = 0, cur_spt = 0;  // INITIALIZE DEVICE PARAMETERS
    bool wcache = true;
    bool standby = false;
    // The command in progress.
    uint8_t cmd = 0;
    Phase phase = Phase::Idle;
    bool lba48 = false;
    std::vector<uint8_t> buf;       // current DRQ block
    uint32_t pos = 0, end = 0;
    uint64_t lba = 0;               // next sector to transfer (ATA) / read stream position (ATAPI)
    uint32_t left = 0;              // ATA: sectors after the current block
    uint32_t block = 1;             // ATA: sectors per DRQ block
    uint64_t dma_bytes = 0;         // DMA: bytes still to move
    // ATAPI.
    uint8_t sense_key = 0, asc = 0, ascq = 0;
    bool tray_open = false, locked = false;
    uint8_t media_event = 0;        // pending GET EVENT STATUS media event code
    bool unit_attention = false;
    std::array<uint8_t, 12> packet{};
    std::vector<uint8_t> reply;     // data of a non-READ packet command
    uint32_t reply_pos = 0;
    uint64_t stream_left = 0;       // ATAPI bytes still to deliver (reply or sectors)
    bool stream_sectors = false;    // the stream reads sectors at `lba`, else `reply`
    std::array<uint8_t, 2048> secbuf{};
    uint32_t secpos = 2048;         // position in secbuf (2048 = empty)
    uint32_t byte_limit = 0;        // ATAPI PIO byte count limit
    bool packet_dma = false;        // PACKET issued with the DMA feature bit
  };

  Drive& sel() { return drives_[(devctl_shadow_select_) & 1]; }
  unsigned selected() const { return devctl_shadow_select_ & 1; }
  bool any_drive() const { return drives_[0].kind != Kind::None || drives_[1].kind != Kind::None; }
  void update_irq();
  void raise(Drive& d);
  void set_signature(Drive& d);
  void soft_reset_drive(Drive& d);
  void write_taskfile(unsigned reg, uint8_t v);
  uint8_t read_taskfile(unsigned reg);
  uint32_t data_read(unsigned size);
  void data_write(uint32_t v, unsigned size);

  // ATA (ide.cpp).
  void command(uint8_t cmd);
  void ata_command(Drive& d, uint8_t cmd);
  void abort_cmd(Drive& d, uint8_t err = ER_ABRT);
  void complete(Drive& d, bool irq = true);
  void identify(Drive& d);
  void identify_packet(Drive& d);
  void send_identify(Drive& d, uint16_t* w);
  bool ata_address(Drive& d, bool lba48, uint64_t& lba, uint32_t& count);
  void set_address(Drive& d, uint64_t lba);
  void ata_rw(Drive& d, uint8_t cmd, bool write, bool lba48, bool dma, bool multiple);
  void pio_in_block(Drive& d);
  void pio_out_block_done(Drive& d);
  void pio_block_consumed(Drive& d);
  void set_features(Drive& d);
  void start_dma(Drive& d);
  void run_dma();
  bool dma_copy(bool to_memory, uint32_t addr, uint32_t len, std::vector<uint8_t>& tmp);

  // ATAPI (atapi.cpp).
  void atapi_packet_cmd(Drive& d);
  void atapi_execute(Drive& d);
  void atapi_error(Drive& d, uint8_t key, uint8_t asc, uint8_t ascq = 0);
  void atapi_ok(Drive& d);
  void atapi_reply(Drive& d, std::vector<uint8_t> data, uint32_t alloc);
  void atapi_start_read(Drive& d, uint64_t lba, uint32_t count);
  void atapi_begin_data(Drive& d);
  void atapi_next_chunk(Drive& d);
  bool atapi_produce(Drive& d, uint8_t* out, size_t n);
  bool medium_ready(Drive& d);
  void read_toc(Drive& d, std::vector<uint8_t>& out, bool& ok);
  void mode_sense(Drive& d, std::vector<uint8_t>& out, bool& ok);
  void get_configuration(Drive& d, std::vector<uint8_t>& out);
  void event_status(Drive& d, std::vector<uint8_t>& out, bool& ok);

  uint16_t cmd_base_, ctrl_port_;
  PhysicalMemory* mem_ = nullptr;
  std::array<Drive, 2> drives_;
  uint8_t devctl_ = 0;                 // nIEN (bit 1), SRST (bit 2), HOB (bit 7)
  uint8_t devctl_shadow_select_ = 0;   // DEV bit of the device register: the selected drive
  bool irq_level_ = false;
  // Bus master.
  uint8_t bm_cmd_ = 0, bm_status_ = 0;
  uint32_t bm_prd_ = 0;

 public:
  struct Loaded {
    std::array<Drive, 2> drives;
    uint8_t devctl = 0, sel = 0, bmc = 0, bms = 0;
    bool level = false;
    uint32_t prd = 0;
  };
};

}  // namespace vx86
