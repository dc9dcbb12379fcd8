// The tester's frames: build -> parse round trips (tagged or not, full and compact signatures,
// IP options, a DUT's rewrites), what is not ours, and the ARP / ICMP echo host frames.
#include <gtest/gtest.h>

#include <cstring>
#include <vector>

#include "perf/linerate/frame_format.h"
#include "perf/linerate/host_frames.h"

namespace sluice::linerate {
namespace {

Ipv4Addr ip(const char* s) {
  return *Ipv4Addr::parse(s);
}

const Mac kDst{0x02, 0, 0, 0, 0, 0x01};
const Mac kSrc{0x02, 0, 0, 0, 0, 0x02};
const Flow kFlow{ip("10.1.0.2"), ip("16.0.0.7"), 1024, 9};
constexpr uint32_t kRun = 0xC0FFEE01;

struct Built {
  std::vector<uint8_t> f;
  size_t l3;
};

Built build(uint16_t size, int vlan, uint32_t trial = 5, uint32_t flow_index = 6,
            uint64_t seq = 1234567, uint64_t index = 99, uint64_t tsc = 0x123456789abcull) {
  Built b;
  b.f.assign(size - kFcs, 0xEE);  // dirty: write() must zero the padding
  const size_t n = build_frame(b.f.data(), {kDst, kSrc, vlan}, size, kRun, trial, kFlow, flow_index,
                               seq, index, tsc);
  EXPECT_EQ(n, size - kFcs);
  b.l3 = vlan >= 0 ? 18 : 14;
  return b;
}

uint16_t be16(const uint8_t* p) {
  return static_cast<uint16_t>(p[0] << 8 | p[1]);
}

TEST(FrameFormat, HeadersAsSpecified) {
  for (int vlan : {-1, 100}) {
    for (uint16_t size : {64, 78, 82, 128, 1518, 9018}) {
      const Built b = build(size, vlan);
      const uint8_t* f = b.f.data();
      EXPECT_EQ(std::memcmp(f, kDst.data(), 6), 0);
      EXPECT_EQ(std::memcmp(f + 6, kSrc.data(), 6), 0);
      if (vlan >= 0) {
        EXPECT_EQ(be16(f + 12), 0x8100);
        EXPECT_EQ(be16(f + 14), 100);
      }
      const uint8_t* ipp = f + b.l3;
      EXPECT_EQ(be16(ipp - 2), 0x0800);
      EXPECT_EQ(ipp[0], 0x45);
      EXPECT_EQ(be16(ipp + 2), size - kFcs - b.l3);  // total length
      EXPECT_EQ(be16(ipp + 6), 0);                   // DF clear, not a fragment
      EXPECT_EQ(ipp[8], 64);                         // TTL
      EXPECT_EQ(ipp[9], 17);                         // UDP
      EXPECT_EQ(internet_checksum(ipp, 20), 0) << "IPv4 header checksum, size " << size;
      EXPECT_EQ(be16(ipp + 20), 1024);
      EXPECT_EQ(be16(ipp + 22), 9);
      EXPECT_EQ(be16(ipp + 24), size - kFcs - b.l3 - 20);  // UDP length
      EXPECT_EQ(be16(ipp + 26), 0);                        // no UDP checksum
      const SignatureForm form = signature_form(size, vlan >= 0);
      const size_t sig = form == SignatureForm::kFull ? kFullSignature : kCompactSignature;
      EXPECT_EQ(std::memcmp(ipp + 28, form == SignatureForm::kFull ? "SLTS" : "sl",
                            form == SignatureForm::kFull ? 4 : 2),
                0);
      for (size_t i = b.l3 + 28 + sig; i < b.f.size(); ++i) ASSERT_EQ(f[i], 0) << i;
    }
  }
  // Where the forms change: 78 bytes untagged and 82 tagged are the first with room for 32.
  EXPECT_EQ(signature_form(77, false), SignatureForm::kCompact);
  EXPECT_EQ(signature_form(78, false), SignatureForm::kFull);
  EXPECT_EQ(signature_form(81, true), SignatureForm::kCompact);
  EXPECT_EQ(signature_form(82, true), SignatureForm::kFull);
}

TEST(FrameFormat, RoundTripFull) {
  for (int vlan : {-1, 4094}) {
    const Built b = build(128, vlan);
    Stamp s;
    const ParseContext ctx{kRun, 5, 100, 0};
    ASSERT_EQ(parse_frame(b.f.data(), b.f.size(), ctx, &s), ParseResult::kOurs);
    EXPECT_EQ(s.form, SignatureForm::kFull);
    EXPECT_EQ(s.trial, 5u);
    EXPECT_EQ(s.flow, 6u);
    EXPECT_EQ(s.seq, 1234567u);
    EXPECT_EQ(s.tx_tsc, 0x123456789abcull);
  }
}

TEST(FrameFormat, RoundTripCompact) {
  // 64 bytes, tagged or not. Packet index 1000 of a 7-flow stream: flow 1000 % 7 = 6, seq 142.
  for (int vlan : {-1, 7}) {
    const uint64_t tsc = 0xABCDEF0123456ull;
    const Built b = build(64, vlan, 300, 6, 142, 1000, tsc);
    Stamp s;
    for (uint64_t later : {0ull, 123ull, 3'000'000'000ull, (1ull << 36) - 17}) {
      const ParseContext ctx{kRun, 300, 7, tsc + later};
      ASSERT_EQ(parse_frame(b.f.data(), b.f.size(), ctx, &s), ParseResult::kOurs);
      EXPECT_EQ(s.form, SignatureForm::kCompact);
      EXPECT_EQ(s.trial, 300u);
      EXPECT_EQ(s.flow, 6u);
      EXPECT_EQ(s.seq, 142u);
      EXPECT_LE(s.tx_tsc, tsc) << later;
      EXPECT_GT(s.tx_tsc + 16, tsc) << later;
    }
    // A frame of an earlier trial is seen as that trial (stale), even across 256.
    const ParseContext next{kRun, 301, 7, tsc};
    ASSERT_EQ(parse_frame(b.f.data(), b.f.size(), next, &s), ParseResult::kOurs);
    EXPECT_EQ(s.trial, 300u);
    const Built old = build(64, vlan, 255, 0, 0, 0, tsc);
    const ParseContext c256{kRun, 256, 7, tsc};
    ASSERT_EQ(parse_frame(old.f.data(), old.f.size(), c256, &s), ParseResult::kOurs);
    EXPECT_EQ(s.trial, 255u);
  }
}

TEST(FrameFormat, TemplateWritesWhatBuildFrameBuilds) {
  const FrameTemplate t({kDst, kSrc, -1}, 1518, kRun, 9);
  std::vector<uint8_t> a(t.length(), 0x55), b(t.length(), 0);
  t.write(a.data(), kFlow, 3, 4, 5, 6);
  build_frame(b.data(), {kDst, kSrc, -1}, 1518, kRun, 9, kFlow, 3, 4, 5, 6);
  EXPECT_EQ(a, b);
  // restamp changes the timestamp only.
  t.restamp(a.data(), 77);
  Stamp s;
  ASSERT_EQ(parse_frame(a.data(), a.size(), {kRun, 9, 1, 0}, &s), ParseResult::kOurs);
  EXPECT_EQ(s.tx_tsc, 77u);
  EXPECT_EQ(s.seq, 4u);
}

// IP options (IHL 6), new MACs, a NAT's rewritten addresses and ports (and checksum), a second
// tag pushed by a QinQ DUT: the signature is still found.
TEST(FrameFormat, ParsesWhatADutDidToIt) {
  for (uint16_t size : {64, 200}) {
    Built b = build(size, -1);
    std::vector<uint8_t> f(b.f.begin(), b.f.begin() + 14);
    f.insert(f.end(), b.f.begin() + 14, b.f.begin() + 34);  // IPv4 header
    f.insert(f.end(), {1, 1, 1, 0});                        // NOP NOP NOP EOL
    f.insert(f.end(), b.f.begin() + 34, b.f.end());
    uint8_t* ipp = f.data() + 14;
    ipp[0] = 0x46;
    FrameTemplate::put16(ipp + 2, static_cast<uint16_t>(be16(ipp + 2) + 4));
    std::memset(f.data(), 0xAA, 12);                           // other MACs
    FrameTemplate::put32(ipp + 12, ip("100.64.0.1").host());   // SNAT
    FrameTemplate::put32(ipp + 16, ip("192.168.9.9").host());  // DNAT
    FrameTemplate::put16(ipp + 24, 40000);                     // ports
    FrameTemplate::put16(ipp + 26, 80);
    ipp[8] = 63;  // one hop
    FrameTemplate::put16(ipp + 10, 0);
    FrameTemplate::put16(ipp + 10, internet_checksum(ipp, 24));
    Stamp s;
    const ParseContext ctx{kRun, 5, 100, 0x123456789abcull};
    ASSERT_EQ(parse_frame(f.data(), f.size(), ctx, &s), ParseResult::kOurs) << size;
    EXPECT_EQ(s.flow, size == 64 ? 99u % 100 : 6u);
    EXPECT_EQ(s.seq, size == 64 ? 0u : 1234567u);

    // QinQ: an 802.1ad tag and an 802.1Q tag in front.
    std::vector<uint8_t> q(b.f.begin(), b.f.begin() + 12);
    q.insert(q.end(), {0x88, 0xa8, 0x00, 0x0a, 0x81, 0x00, 0x00, 0x14});
    q.insert(q.end(), b.f.begin() + 12, b.f.end());
    ASSERT_EQ(parse_frame(q.data(), q.size(), ctx, &s), ParseResult::kOurs) << size;
  }
}

TEST(FrameFormat, NotOurs) {
  const ParseContext ctx{kRun, 5, 100, 0};
  Stamp s;
  for (uint16_t size : {64, 128}) {
    const Built b = build(size, -1);
    const size_t sig_end = 42 + (size == 64 ? kCompactSignature : kFullSignature);
    // Another run.
    ParseContext other = ctx;
    other.run_id ^= 1;
    EXPECT_EQ(parse_frame(b.f.data(), b.f.size(), other, &s), ParseResult::kForeignRun);
    // Wrong magic.
    std::vector<uint8_t> f = b.f;
    f[42] ^= 0x20;
    EXPECT_EQ(parse_frame(f.data(), f.size(), ctx, &s), ParseResult::kNotOurs);
    // Truncated: every length short of the IP datagram (the IP length says more than came).
    for (size_t len = 0; len < b.f.size(); ++len)
      ASSERT_EQ(parse_frame(b.f.data(), len, ctx, &s), ParseResult::kNotOurs) << len;
    // A datagram too short for the signature (IP and UDP lengths cut, frame padded).
    f = b.f;
    FrameTemplate::put16(f.data() + 16, static_cast<uint16_t>(sig_end - 14 - 1));
    EXPECT_EQ(parse_frame(f.data(), f.size(), ctx, &s), ParseResult::kNotOurs);
    // Fragments: MF set, or an offset.
    f = b.f;
    f[20] = 0x20;
    EXPECT_EQ(parse_frame(f.data(), f.size(), ctx, &s), ParseResult::kNotOurs);
    f = b.f;
    f[21] = 0x01;
    EXPECT_EQ(parse_frame(f.data(), f.size(), ctx, &s), ParseResult::kNotOurs);
    // DF is fine.
    f = b.f;
    f[20] = 0x40;
    EXPECT_EQ(parse_frame(f.data(), f.size(), ctx, &s), ParseResult::kOurs);
    // TCP, IPv6 ethertype, IPv4 version wrong, IHL < 5.
    f = b.f;
    f[23] = 6;
    EXPECT_EQ(parse_frame(f.data(), f.size(), ctx, &s), ParseResult::kNotOurs);
    f = b.f;
    f[12] = 0x86;
    f[13] = 0xdd;
    EXPECT_EQ(parse_frame(f.data(), f.size(), ctx, &s), ParseResult::kNotOurs);
    f = b.f;
    f[14] = 0x65;
    EXPECT_EQ(parse_frame(f.data(), f.size(), ctx, &s), ParseResult::kNotOurs);
    f = b.f;
    f[14] = 0x44;
    EXPECT_EQ(parse_frame(f.data(), f.size(), ctx, &s), ParseResult::kNotOurs);
  }
  uint8_t arp[kArpFrame];
  build_arp_request(arp, -1, kSrc, ip("10.1.0.2"), ip("10.1.0.1"));
  EXPECT_EQ(parse_frame(arp, sizeof arp, ctx, &s), ParseResult::kNotOurs);
}

TEST(HostFrames, ArpRequestAndReply) {
  for (int vlan : {-1, 12}) {
    uint8_t f[kArpFrame];
    ASSERT_EQ(build_arp_request(f, vlan, kSrc, ip("10.1.0.2"), ip("10.1.0.1")), kArpFrame);
    EXPECT_EQ(std::memcmp(f, "\xff\xff\xff\xff\xff\xff", 6), 0);
    ArpInfo a;
    ASSERT_TRUE(parse_arp(f, sizeof f, &a));
    EXPECT_EQ(a.op, 1);
    EXPECT_EQ(a.sender_mac, kSrc);
    EXPECT_EQ(a.sender_ip, ip("10.1.0.2"));
    EXPECT_EQ(a.target_ip, ip("10.1.0.1"));
    EXPECT_EQ(a.offset, vlan >= 0 ? 18 : 14);
    arp_request_to_reply(f, a, kDst);
    ArpInfo r;
    ASSERT_TRUE(parse_arp(f, sizeof f, &r));
    EXPECT_EQ(r.op, 2);
    EXPECT_EQ(r.sender_mac, kDst);
    EXPECT_EQ(r.sender_ip, ip("10.1.0.1"));
    EXPECT_EQ(r.target_mac, kSrc);
    EXPECT_EQ(r.target_ip, ip("10.1.0.2"));
    EXPECT_EQ(std::memcmp(f, kSrc.data(), 6), 0);
    EXPECT_EQ(std::memcmp(f + 6, kDst.data(), 6), 0);
    if (vlan >= 0) {
      EXPECT_EQ(be16(f + 14), vlan);
    }

    build_gratuitous_arp(f, vlan, kSrc, ip("10.2.0.2"));
    ASSERT_TRUE(parse_arp(f, sizeof f, &a));
    EXPECT_EQ(a.sender_ip, ip("10.2.0.2"));
    EXPECT_EQ(a.target_ip, ip("10.2.0.2"));
  }
  uint8_t shorty[30] = {};
  ArpInfo a;
  EXPECT_FALSE(parse_arp(shorty, sizeof shorty, &a));
}

TEST(HostFrames, IcmpEchoReply) {
  // An echo request 10.2.0.1 -> 10.2.0.2, id 0x1234 seq 1, 8 bytes of data.
  std::vector<uint8_t> f(14 + 20 + 16, 0);
  std::memcpy(f.data(), kDst.data(), 6);
  std::memcpy(f.data() + 6, kSrc.data(), 6);
  f[12] = 0x08;
  uint8_t* ipp = f.data() + 14;
  ipp[0] = 0x45;
  FrameTemplate::put16(ipp + 2, 36);
  ipp[8] = 64;
  ipp[9] = 1;
  FrameTemplate::put32(ipp + 12, ip("10.2.0.1").host());
  FrameTemplate::put32(ipp + 16, ip("10.2.0.2").host());
  FrameTemplate::put16(ipp + 10, internet_checksum(ipp, 20));
  uint8_t* icmp = ipp + 20;
  icmp[0] = 8;
  FrameTemplate::put16(icmp + 4, 0x1234);
  FrameTemplate::put16(icmp + 6, 1);
  std::memcpy(icmp + 8, "abcdefgh", 8);
  FrameTemplate::put16(icmp + 2, internet_checksum(icmp, 16));

  std::vector<uint8_t> copy = f;
  EXPECT_FALSE(
      icmp_echo_to_reply(copy.data(), copy.size(), [](Ipv4Addr a) { return a == ip("10.2.0.3"); }));
  EXPECT_EQ(copy, f);
  ASSERT_TRUE(
      icmp_echo_to_reply(f.data(), f.size(), [](Ipv4Addr a) { return a == ip("10.2.0.2"); }));
  EXPECT_EQ(std::memcmp(f.data(), kSrc.data(), 6), 0);
  EXPECT_EQ(std::memcmp(f.data() + 6, kDst.data(), 6), 0);
  EXPECT_EQ(internet_checksum(ipp, 20), 0);
  EXPECT_EQ(internet_checksum(icmp, 16), 0);
  EXPECT_EQ(icmp[0], 0);
  EXPECT_EQ(be16(icmp + 4), 0x1234);
  EXPECT_EQ(std::memcmp(icmp + 8, "abcdefgh", 8), 0);
  Ipv4Addr dst;
  EXPECT_EQ(ipv4_destination(f.data(), f.size(), &dst), 14u);
  EXPECT_EQ(dst, ip("10.2.0.1"));
  // A reply is not answered again.
  EXPECT_FALSE(icmp_echo_to_reply(f.data(), f.size(), [](Ipv4Addr) { return true; }));
}

}  // namespace
}  // namespace sluice::linerate
