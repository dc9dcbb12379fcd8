// The flow table (mixed radix, the cursor, the limits), frame sizes and the option parsers.
#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <fstream>
#include <stdexcept>
#include <string>

#include "perf/linerate/flows.h"

namespace sluice::linerate {
namespace {

Ipv4Addr ip(const char* s) {
  return *Ipv4Addr::parse(s);
}

// The message of the std::invalid_argument `f` throws ("" if none).
template <typename F>
std::string error_of(F&& f) {
  try {
    f();
  } catch (const std::invalid_argument& e) {
    return e.what();
  }
  return "";
}

FlowSpec spec_2x3x2x2() {
  FlowSpec s;
  s.src = ip("10.0.0.1");
  s.src_count = 2;
  s.dst = ip("16.0.0.1");
  s.dst_count = 3;
  s.sport = 1000;
  s.sport_count = 2;
  s.dport = 9;
  s.dport_count = 2;
  return s;
}

TEST(FlowTable, MixedRadixSourceFastest) {
  const FlowTable t(spec_2x3x2x2());
  ASSERT_EQ(t.size(), 24u);
  EXPECT_EQ(t.combinations(), 24u);
  EXPECT_EQ(t.at(0), (Flow{ip("10.0.0.1"), ip("16.0.0.1"), 1000, 9}));
  EXPECT_EQ(t.at(1), (Flow{ip("10.0.0.2"), ip("16.0.0.1"), 1000, 9}));
  EXPECT_EQ(t.at(2), (Flow{ip("10.0.0.1"), ip("16.0.0.2"), 1000, 9}));
  EXPECT_EQ(t.at(5), (Flow{ip("10.0.0.2"), ip("16.0.0.3"), 1000, 9}));
  EXPECT_EQ(t.at(6), (Flow{ip("10.0.0.1"), ip("16.0.0.1"), 1001, 9}));
  EXPECT_EQ(t.at(12), (Flow{ip("10.0.0.1"), ip("16.0.0.1"), 1000, 10}));
  EXPECT_EQ(t.at(23), (Flow{ip("10.0.0.2"), ip("16.0.0.3"), 1001, 10}));
  // Every flow distinct.
  for (uint32_t i = 0; i < t.size(); ++i)
    for (uint32_t j = 0; j < i; ++j) ASSERT_NE(t.at(i), t.at(j));
}

TEST(FlowTable, CursorWalksTheTableInRounds) {
  for (uint64_t flows : {0ull, 1ull, 7ull, 13ull, 24ull}) {
    FlowSpec s = spec_2x3x2x2();
    s.flows = flows;
    const FlowTable t(s);
    FlowTable::Cursor c(t);
    for (uint64_t k = 0; k < 5 * t.size() + 3; ++k) {
      ASSERT_EQ(c.index(), k % t.size());
      ASSERT_EQ(c.round(), k / t.size());
      ASSERT_EQ(c.flow(), t.at(c.index())) << "flows " << flows << " k " << k;
      c.next();
    }
  }
}

TEST(FlowTable, DestinationList) {
  FlowSpec s;
  s.src = ip("10.1.0.2");
  s.src_count = 2;
  s.dst_list = {ip("1.2.3.4"), ip("8.8.8.8"), ip("9.9.9.9")};
  s.dst_count = 0;  // unused with a list
  const FlowTable t(s);
  ASSERT_EQ(t.size(), 6u);
  EXPECT_EQ(t.at(3).dst, ip("8.8.8.8"));
  EXPECT_EQ(t.at(3).src, ip("10.1.0.3"));
  FlowTable::Cursor c(t);
  for (int i = 0; i < 4; ++i) c.next();
  EXPECT_EQ(c.flow().dst, ip("9.9.9.9"));
}

TEST(FlowTable, FewerFlowsThanCombinations) {
  FlowSpec s = spec_2x3x2x2();
  s.flows = 5;
  const FlowTable t(s);
  EXPECT_EQ(t.size(), 5u);
  EXPECT_EQ(t.combinations(), 24u);
}

TEST(FlowTable, Errors) {
  FlowSpec s = spec_2x3x2x2();
  s.flows = 25;
  const std::string e = error_of([&] { FlowTable t(s); });
  EXPECT_NE(e.find("25 flows"), std::string::npos) << e;
  EXPECT_NE(e.find("2 sources x 3 destinations x 2 source ports x 2 destination ports"),
            std::string::npos)
      << e;
  EXPECT_NE(e.find("only 24"), std::string::npos) << e;

  s = spec_2x3x2x2();
  s.src = ip("255.255.255.255");
  EXPECT_NE(error_of([&] { FlowTable t(s); }).find("past 255.255.255.255"), std::string::npos);
  s = spec_2x3x2x2();
  s.sport = 65535;
  EXPECT_NE(error_of([&] { FlowTable t(s); }).find("past 65535"), std::string::npos);
  s = spec_2x3x2x2();
  s.dport_count = 0;
  EXPECT_NE(error_of([&] { FlowTable t(s); }).find("count of 0"), std::string::npos);
  // More than 16 M combinations need --flows; with it, fine; 16 M + 1 flows is too many.
  s = FlowSpec{};
  s.src = ip("10.0.0.0");
  s.src_count = 1u << 16;
  s.dst = ip("11.0.0.0");
  s.dst_count = 1u << 16;
  s.sport = 0;
  s.sport_count = 65535;
  s.dport = 0;
  s.dport_count = 65535;
  EXPECT_NE(error_of([&] { FlowTable t(s); }).find("give --flows"), std::string::npos);
  s.flows = FlowTable::kMaxFlows;
  EXPECT_EQ(FlowTable(s).size(), FlowTable::kMaxFlows);
  s.flows = FlowTable::kMaxFlows + 1;
  EXPECT_NE(error_of([&] { FlowTable t(s); }).find("at most"), std::string::npos);
}

TEST(FrameSizes, ParseAndImix) {
  const auto v = parse_sizes("64,128,1518,imix,9018");
  ASSERT_EQ(v.size(), 5u);
  EXPECT_EQ(v[0].name, "64");
  EXPECT_EQ(v[0].pattern, std::vector<uint16_t>{64});
  EXPECT_EQ(v[2].largest(), 1518);
  const FrameSizes& m = v[3];
  EXPECT_EQ(m.name, "imix");
  ASSERT_EQ(m.pattern.size(), 12u);
  EXPECT_EQ(std::count(m.pattern.begin(), m.pattern.end(), 64), 7);
  EXPECT_EQ(std::count(m.pattern.begin(), m.pattern.end(), 570), 4);
  EXPECT_EQ(std::count(m.pattern.begin(), m.pattern.end(), 1518), 1);
  EXPECT_DOUBLE_EQ(m.mean(), (7 * 64 + 4 * 570 + 1518) / 12.0);
  EXPECT_EQ(m.largest(), 1518);
  for (const char* bad : {"63", "9019", "", "64,", "abc", "64,64", "-64", "64 "})
    EXPECT_FALSE(error_of([&] { parse_sizes(bad); }).empty()) << bad;
  EXPECT_NE(error_of([&] { parse_sizes("64,63"); }).find("'63'"), std::string::npos);
}

TEST(Parsers, AddressAndPortRanges) {
  AddrRange a = parse_addr_range("--dst", "16.0.0.1+100");
  EXPECT_EQ(a.base, ip("16.0.0.1"));
  EXPECT_EQ(a.count, 100u);
  a = parse_addr_range("--dst", "16.0.0.1");
  EXPECT_EQ(a.count, 1u);
  EXPECT_EQ(parse_addr_range("--src", "255.255.255.0+256").count, 256u);
  EXPECT_NE(error_of([] { parse_addr_range("--src", "255.255.255.0+257"); }).find("--src"),
            std::string::npos);
  for (const char* bad : {"16.0.0.1+0", "16.0.0+1", "16.0.0.1+", "16.0.0.1+x", "x"})
    EXPECT_FALSE(error_of([&] { parse_addr_range("--dst", bad); }).empty()) << bad;

  PortRange p = parse_port_range("--sport", "1024+256");
  EXPECT_EQ(p.base, 1024);
  EXPECT_EQ(p.count, 256u);
  EXPECT_EQ(parse_port_range("--dport", "0+65536").count, 65536u);
  for (const char* bad : {"65536", "65535+2", "1+0", "", "+3", "9+"})
    EXPECT_FALSE(error_of([&] { parse_port_range("--dport", bad); }).empty()) << bad;
}

TEST(Parsers, AddressFile) {
  const std::string path = ::testing::TempDir() + "linerate-dst-" + std::to_string(getpid());
  {
    std::ofstream f(path);
    f << "# destinations\n1.2.3.4\n\n  8.8.8.8 \r\n";
  }
  const auto v = read_address_file(path);
  ASSERT_EQ(v.size(), 2u);
  EXPECT_EQ(v[1], ip("8.8.8.8"));
  {
    std::ofstream f(path);
    f << "1.2.3.4\n1.2.3\n";
  }
  EXPECT_NE(error_of([&] { read_address_file(path); }).find("line 2"), std::string::npos);
  std::remove(path.c_str());
  EXPECT_NE(error_of([&] { read_address_file(path); }).find("cannot open"), std::string::npos);
}

}  // namespace
}  // namespace sluice::linerate
