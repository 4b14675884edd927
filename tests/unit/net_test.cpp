// The network pieces beside the NIC: MAC parsing, the in-process switch, the pcap writer, the
// user-network option parser, the offload helpers on their own.
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <iterator>
#include <thread>

#include "devices/net/host_io_backend.h"
#include "devices/net/net_switch.h"
#include "devices/net/pcap_writer.h"
#include "devices/net/slirp_backend.h"
#include "devices/net/tx_offload.h"

using namespace vx86;

namespace {

struct Sink : NetReceiver {
  std::vector<std::vector<uint8_t>> got;
  void receive_frame(const uint8_t* f, size_t n) override { got.emplace_back(f, f + n); }
};

std::vector<uint8_t> eth(const MacAddress& dst, const MacAddress& src, uint8_t tag) {
  std::vector<uint8_t> f(64, tag);
  std::memcpy(f.data(), dst.data(), 6);
  std::memcpy(f.data() + 6, src.data(), 6);
  return f;
}

TEST(Net, MacParseAndFormat) {
  auto m = parse_mac("52:54:00:AB:cd:0f");
  ASSERT_TRUE(m);
  EXPECT_EQ(*m, (MacAddress{0x52, 0x54, 0x00, 0xAB, 0xCD, 0x0F}));
  EXPECT_EQ(format_mac(*m), "52:54:00:ab:cd:0f");
  EXPECT_TRUE(parse_mac("52-54-00-12-34-56"));
  EXPECT_FALSE(parse_mac("52:54:00:12:34"));
  EXPECT_FALSE(parse_mac("52:54:00:12:34:5g"));
  EXPECT_FALSE(parse_mac("52:54:00:12:34:567"));
}

TEST(Net, SwitchFloodsThenLearns) {
  auto sw = NetSwitch::create("t");
  auto a = sw->add_port(), b = sw->add_port(), c = sw->add_port();
  Sink sa, sb, sc;
  a->set_receiver(&sa);
  b->set_receiver(&sb);
  c->set_receiver(&sc);
  const MacAddress ma{0x52, 0, 0, 0, 0, 1}, mb{0x52, 0, 0, 0, 0, 2}, bc{0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF};
  // Unknown destination: every other port.
  auto f1 = eth(mb, ma, 1);
  a->send(f1.data(), f1.size());
  for (auto* p : {a.get(), b.get(), c.get()}) p->poll();
  EXPECT_TRUE(sa.got.empty());
  ASSERT_EQ(sb.got.size(), 1u);
  EXPECT_EQ(sb.got[0], f1);
  EXPECT_EQ(sc.got.size(), 1u);
  // b answers a: a's port is known now, so only a gets it.
  auto f2 = eth(ma, mb, 2);
  b->send(f2.data(), f2.size());
  for (auto* p : {a.get(), b.get(), c.get()}) p->poll();
  ASSERT_EQ(sa.got.size(), 1u);
  EXPECT_EQ(sa.got[0], f2);
  EXPECT_EQ(sc.got.size(), 1u);
  // And b is known too; a broadcast still goes everywhere else.
  auto f3 = eth(mb, ma, 3);
  a->send(f3.data(), f3.size());
  auto f4 = eth(bc, mb, 4);
  b->send(f4.data(), f4.size());
  for (auto* p : {a.get(), b.get(), c.get()}) p->poll();
  EXPECT_EQ(sb.got.size(), 2u);
  EXPECT_EQ(sc.got.size(), 2u);  // f1 and the broadcast
  EXPECT_EQ(sc.got[1], f4);
  // A removed port is forgotten: frames for it flood again, to the ports that remain.
  b.reset();
  a->send(f3.data(), f3.size());
  c->poll();
  EXPECT_EQ(sc.got.size(), 3u);
}

TEST(Net, SwitchQueueIsBounded) {
  auto sw = NetSwitch::create("t");
  auto a = sw->add_port(), b = sw->add_port();
  Sink sb;
  b->set_receiver(&sb);
  auto f = eth({0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF}, {0x52, 0, 0, 0, 0, 1}, 0);
  for (size_t i = 0; i < NetSwitch::kQueueFrames + 10; ++i) a->send(f.data(), f.size());
  b->poll();
  EXPECT_EQ(sb.got.size(), NetSwitch::kQueueFrames);
  EXPECT_EQ(b->dropped(), 10u);
}

TEST(Net, PcapFileHasHeaderAndRecords) {
  char path[] = "/tmp/vx86-pcap-XXXXXX";
  int fd = mkstemp(path);
  ASSERT_GE(fd, 0);
  close(fd);
  {
    PcapWriter w(path);
    std::vector<uint8_t> f1(60, 0x11), f2(1514, 0x22);
    w.write(f1.data(), f1.size());
    w.write(f2.data(), f2.size());
    EXPECT_EQ(w.frames(), 2u);
  }
  std::ifstream in(path, std::ios::binary);
  std::vector<uint8_t> d{std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
  unlink(path);
  ASSERT_EQ(d.size(), 24u + 16 + 60 + 16 + 1514);
  auto u32 = [&](size_t o) {
    return uint32_t{d[o]} | uint32_t{d[o + 1]} << 8 | uint32_t{d[o + 2]} << 16 | uint32_t{d[o + 3]} << 24;
  };
  EXPECT_EQ(u32(0), 0xA1B2C3D4u);
  EXPECT_EQ(d[4] | d[5] << 8, 2);
  EXPECT_EQ(d[6] | d[7] << 8, 4);
  EXPECT_EQ(u32(20), 1u);  // Ethernet
  EXPECT_EQ(u32(24 + 8), 60u);
  EXPECT_EQ(u32(24 + 12), 60u);
  EXPECT_EQ(d[24 + 16], 0x11);
  EXPECT_EQ(u32(24 + 16 + 60 + 8), 1514u);
  EXPECT_THROW(PcapWriter("/nonexistent/dir/x.pcap"), std::runtime_error);
}

TEST(Net, HostForwardRules) {
  SlirpOptions::HostForward f;
  ASSERT_EQ(parse_hostfwd("tcp::8080-:80", f), "");
  EXPECT_FALSE(f.udp);
  EXPECT_EQ(ntohl(f.host_addr.s_addr), INADDR_LOOPBACK) << "127.0.0.1 unless the rule says otherwise";
  EXPECT_EQ(f.host_port, 8080);
  EXPECT_EQ(f.guest_addr.s_addr, 0u);
  EXPECT_EQ(f.guest_port, 80);
  ASSERT_EQ(parse_hostfwd("udp:0.0.0.0:5353-10.0.2.15:53", f), "");
  EXPECT_TRUE(f.udp);
  EXPECT_EQ(f.host_addr.s_addr, 0u);
  EXPECT_EQ(ntohl(f.guest_addr.s_addr), 0x0A00020Fu);
  ASSERT_EQ(parse_hostfwd(":127.0.0.1:2222-:22", f), "");  // protocol omitted: TCP
  EXPECT_FALSE(f.udp);
  for (const char* bad : {"tcp:8080-:80", "sctp::1-:2", "tcp::0-:80", "tcp::80-:65536", "tcp::x-:80",
                          "tcp:1.2.3:80-:80", "tcp::80", "tcp::80-:"})
    EXPECT_NE(parse_hostfwd(bad, f), "") << bad;
}

TEST(Net, UserNetworkOptions) {
  SlirpOptions o;
  EXPECT_EQ(parse_slirp_option("net", "192.168.76.0/24", o), "");
  EXPECT_EQ(finish_slirp_options(o), "");
  char b[INET_ADDRSTRLEN];
  EXPECT_STREQ(inet_ntop(AF_INET, &o.host, b, sizeof b), "192.168.76.2");
  EXPECT_STREQ(inet_ntop(AF_INET, &o.dns, b, sizeof b), "192.168.76.3");
  EXPECT_STREQ(inet_ntop(AF_INET, &o.dhcp_start, b, sizeof b), "192.168.76.15");
  SlirpOptions d;
  EXPECT_EQ(finish_slirp_options(d), "");
  EXPECT_STREQ(inet_ntop(AF_INET, &d.host, b, sizeof b), "10.0.2.2");
  EXPECT_NE(parse_slirp_option("net", "10.0.2.0/33", d), "");
  EXPECT_NE(parse_slirp_option("restrict", "maybe", d), "");
  EXPECT_NE(parse_slirp_option("smb", "/tmp", d), "");
  SlirpOptions e;
  parse_slirp_option("dns", "8.8.8.8", e);
  EXPECT_NE(finish_slirp_options(e), "") << "the DNS address must be inside the network";
}

TEST(Net, ChecksumHelpersMatchRfc1071Example) {
  // RFC 1071's example: the sum of 00 01 f2 03 f4 f5 f6 f7 is ddf2 (folded), checksum 220d.
  const uint8_t d[] = {0x00, 0x01, 0xF2, 0x03, 0xF4, 0xF5, 0xF6, 0xF7};
  EXPECT_EQ(inet_fold(inet_sum(d, sizeof d)), 0x220D);
  std::vector<uint8_t> f = {1, 2, 3, 4, 0, 0, 5};
  EXPECT_TRUE(insert_checksum(f.data(), f.size(), 0, 0, 4));
  EXPECT_EQ(inet_fold(inet_sum(f.data(), f.size())), 0);
  EXPECT_FALSE(insert_checksum(f.data(), f.size(), 0, 0, 6)) << "the field would run past the frame";
  EXPECT_FALSE(insert_checksum(f.data(), f.size(), 9, 0, 0)) << "start beyond the frame";
}

TEST(Net, TsoRejectsContextsThatDoNotFit) {
  std::vector<uint8_t> p(200, 0);
  TxOffload o;
  o.ipcss = 14;
  o.tucss = 34;
  o.tucso = 50;
  o.hdr_len = 54;
  o.mss = 0;
  int n = 0;
  auto emit = [&](const uint8_t*, size_t) { ++n; };
  EXPECT_FALSE(tso_segment(p.data(), p.size(), o, true, true, emit)) << "mss 0";
  o.mss = 100;
  o.hdr_len = 250;
  EXPECT_FALSE(tso_segment(p.data(), p.size(), o, true, true, emit)) << "header beyond the packet";
  o.hdr_len = 40;
  EXPECT_FALSE(tso_segment(p.data(), p.size(), o, true, true, emit)) << "TCP header beyond hdr_len";
  o.hdr_len = 54;
  EXPECT_TRUE(tso_segment(p.data(), p.size(), o, true, true, emit));
  EXPECT_EQ(n, 2);  // 146 payload bytes in 100 + 46
}

// A HostIoBackend on one end of a datagram socket pair; the test plays the host on the other.
class PairBackend : public HostIoBackend {
 public:
  int host_end = -1;
  PairBackend() {
    int sv[2];
    if (socketpair(AF_UNIX, SOCK_SEQPACKET, 0, sv) != 0) throw std::runtime_error("socketpair");
    fd_ = sv[0];
    host_end = sv[1];
    start();
  }
  ~PairBackend() override {
    stop();
    close(fd_);
    close(host_end);
  }
  std::string describe() const override { return "pair"; }

 protected:
  void io_transmit(const uint8_t* f, size_t n) override { (void)!::send(fd_, f, n, 0); }
  void io_fill(std::vector<pollfd>& fds, int&) override { fds.push_back({fd_, POLLIN, 0}); }
  void io_dispatch(const std::vector<pollfd>& fds) override {
    if (!(fds.back().revents & POLLIN)) return;
    uint8_t buf[2048];
    const ssize_t n = ::recv(fd_, buf, sizeof buf, MSG_DONTWAIT);
    if (n > 0) io_deliver(buf, static_cast<size_t>(n));
  }

 private:
  int fd_ = -1;
};

struct GatedSink : NetReceiver {
  std::vector<std::vector<uint8_t>> got;
  size_t room = 1000;
  void receive_frame(const uint8_t* f, size_t n) override {
    got.emplace_back(f, f + n);
    --room;
  }
  bool ready() const override { return room > 0; }
};

template <class F>
bool eventually(F f) {
  for (int i = 0; i < 2000; ++i) {
    if (f()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  return false;
}

TEST(Net, HostIoBackendMovesFramesBothWaysOnItsThread) {
  PairBackend b;
  GatedSink sink;
  b.set_receiver(&sink);
  std::atomic<int> woken{0};
  b.on_frames_ready = [&] { woken.fetch_add(1); };
  // Guest to host: through the I/O thread to the socket.
  std::vector<uint8_t> f(100, 0x42);
  b.send(f.data(), f.size());
  uint8_t buf[2048];
  ASSERT_EQ(::recv(b.host_end, buf, sizeof buf, 0), 100);
  EXPECT_EQ(buf[99], 0x42);
  // Host to guest: queued by the I/O thread, the board told, handed over at poll().
  std::vector<uint8_t> g(80, 0x17);
  ASSERT_EQ(::send(b.host_end, g.data(), g.size(), 0), 80);
  ASSERT_TRUE(eventually([&] { return woken.load() > 0; }));
  EXPECT_TRUE(sink.got.empty()) << "nothing reaches the NIC outside poll()";
  b.poll();
  ASSERT_EQ(sink.got.size(), 1u);
  EXPECT_EQ(sink.got[0], g);
}

TEST(Net, HostIoBackendHoldsFramesWhileTheNicIsFull) {
  PairBackend b;
  GatedSink sink;
  sink.room = 2;
  b.set_receiver(&sink);
  std::atomic<int> woken{0};
  b.on_frames_ready = [&] { woken.fetch_add(1); };
  std::vector<uint8_t> g(64, 0);
  for (uint8_t i = 0; i < 5; ++i) {
    g[0] = i;
    ASSERT_EQ(::send(b.host_end, g.data(), g.size(), 0), 64);
  }
  // (The thread may take them in several rounds: poll until all five went through.)
  ASSERT_TRUE(eventually([&] {
    b.poll();
    return sink.got.size() == 2;
  }));
  std::this_thread::sleep_for(std::chrono::milliseconds(50));
  b.poll();
  EXPECT_EQ(sink.got.size(), 2u) << "the NIC is full: the rest wait";
  sink.room = 10;
  ASSERT_TRUE(eventually([&] {
    b.poll();
    return sink.got.size() == 5;
  }));
  for (uint8_t i = 0; i < 5; ++i) EXPECT_EQ(sink.got[i][0], i) << "in order";
  EXPECT_EQ(b.dropped(), 0u);
}

}  // namespace
