// route_file_test.cpp — tests of lpm/route_file.h: reading prefix lists (plain and gzip), the
// errors it reports, the synthetic next-hop convention and the fullview path lookup. The
// fullview tests depend on all three, so they are pinned down here on small files.
#include "lpm/route_file.h"

#include <gtest/gtest.h>
#include <zlib.h>

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <optional>
#include <random>
#include <set>
#include <stdexcept>
#include <string>
#include <vector>

#include "tests/unit/test_util.h"

namespace sluice::lpm {
namespace {

using test::P;

// Fixed seed: reproducible random prefixes for the next-hop spread check.
constexpr uint64_t kFileSeed = 0xf11e'0000'0001ull;

const char kSample[] =
    "# a comment line\n"
    "\n"
    "10.0.0.0/8\r\n"
    "2001:db8::/32\n"
    "1.2.3.4\n"
    "default\n"
    "::/0\n"
    "192.0.2.0/24\n"
    "10.0.0.0/8\n";  // duplicates are kept

const std::vector<Prefix> kSampleWant = {P("10.0.0.0/8"), P("1.2.3.4/32"), P("default"),
                                         P("192.0.2.0/24"), P("10.0.0.0/8")};

std::string temp_path(const std::string& name) {
  return ::testing::TempDir() + "sluice_route_file_test_" + name;
}

void write_plain(const std::string& path, const std::string& text) {
  std::ofstream(path, std::ios::binary) << text;
}

void write_gzip(const std::string& path, const std::string& text) {
  gzFile f = gzopen(path.c_str(), "wb");
  ASSERT_NE(f, nullptr);
  ASSERT_EQ(gzwrite(f, text.data(), unsigned(text.size())), int(text.size()));
  ASSERT_EQ(gzclose(f), Z_OK);
}

TEST(RouteFile, ReadsPlainText) {
  const std::string path = temp_path("plain.txt");
  write_plain(path, kSample);
  EXPECT_EQ(read_prefix_file(path), kSampleWant);
  std::remove(path.c_str());
}

TEST(RouteFile, ReadsGzip) {
  const std::string path = temp_path("gz.txt.gz");
  ASSERT_NO_FATAL_FAILURE(write_gzip(path, kSample));
  EXPECT_EQ(read_prefix_file(path), kSampleWant);
  std::remove(path.c_str());
}

TEST(RouteFile, EmptyFileGivesNothing) {
  const std::string path = temp_path("empty.txt");
  write_plain(path, "");
  EXPECT_TRUE(read_prefix_file(path).empty());
  std::remove(path.c_str());
}

TEST(RouteFile, RejectsBadLineNamingFileAndLine) {
  const std::string path = temp_path("bad.txt");
  for (const char* bad : {"10.0.0.1/8", "10.0.0.0/33", "hello", "1.2.3"}) {
    write_plain(path, std::string("10.0.0.0/8\n# ok\n") + bad + "\n192.0.2.0/24\n");
    try {
      read_prefix_file(path);
      ADD_FAILURE() << "accepted '" << bad << "'";
    } catch (const std::runtime_error& e) {
      const std::string what = e.what();
      EXPECT_NE(what.find(path), std::string::npos) << what;
      EXPECT_NE(what.find(":3"), std::string::npos) << "line number missing: " << what;
    }
  }
  std::remove(path.c_str());
}

TEST(RouteFile, MissingFileThrows) {
  EXPECT_THROW(read_prefix_file(temp_path("does-not-exist.txt")), std::runtime_error);
}

TEST(RouteFile, SyntheticNextHopIsStableBoundedAndSpread) {
  std::mt19937_64 rng(kFileSeed);
  std::set<NextHop> seen;
  for (int i = 0; i < 20000; ++i) {
    const unsigned len = unsigned(rng() % 33);
    const Prefix p =
        *Prefix::make(Ipv4Addr::from_host(uint32_t(rng()) & Prefix::mask_of(len)), len);
    const NextHop nh = synthetic_next_hop(p, 64);
    ASSERT_LT(nh, 64u);
    ASSERT_EQ(synthetic_next_hop(p, 64), nh) << "not a function of the prefix";
    ASSERT_LT(synthetic_next_hop(p, 7), 7u);
    ASSERT_EQ(synthetic_next_hop(p, 1), 0u);
    seen.insert(nh);
  }
  EXPECT_EQ(seen.size(), 64u) << "20000 prefixes should use all 64 next hops";
  // Same address, different length: a different prefix, generally a different next hop.
  size_t differ = 0;
  for (unsigned len = 8; len <= 24; ++len) {
    differ += synthetic_next_hop(*Prefix::make(test::A("10.0.0.0"), len), 64) !=
              synthetic_next_hop(*Prefix::make(test::A("10.0.0.0"), len + 1), 64);
  }
  EXPECT_GT(differ, 8u);
}

TEST(RouteFile, DefaultFullviewPathHonoursEnvironment) {
  const char* old = std::getenv("SLUICE_FULLVIEW");
  const std::optional<std::string> saved = old ? std::optional<std::string>(old) : std::nullopt;
  ::setenv("SLUICE_FULLVIEW", "/nonexistent/sluice-test.txt.gz", 1);
  EXPECT_EQ(default_fullview_path(), "/nonexistent/sluice-test.txt.gz");
  ::unsetenv("SLUICE_FULLVIEW");
  EXPECT_FALSE(default_fullview_path().empty()) << "no build-time default";
  if (saved) ::setenv("SLUICE_FULLVIEW", saved->c_str(), 1);
}

}  // namespace
}  // namespace sluice::lpm
