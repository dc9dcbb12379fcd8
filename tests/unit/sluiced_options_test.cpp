// sluiced_options_test.cpp — sluiced's options as packaged: --version, the split between
// command-line-only options and those a --config file takes, and the example configuration
// etc/sluice.conf (installed as /etc/sluice/sluice.conf), which must document every option of
// the config file with its default and, with its example lines enabled, parse.
// $SLUICE_EXAMPLE_CONFIG names the example (set by meson).
#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <iostream>
#include <map>
#include <optional>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "control/options.h"
#include "control/version.h"

namespace sluice {
namespace {

std::optional<SluicedOptions> parse(std::vector<std::string> args) {
  args.insert(args.begin(), "sluiced");
  std::vector<const char*> argv;
  for (const std::string& a : args) argv.push_back(a.c_str());
  return parse_sluiced_options(static_cast<int>(argv.size()), argv.data());
}

// What `sluiced ARGS` prints on stdout (--help, --version), checking it returns no options.
std::string printed(const std::vector<std::string>& args) {
  testing::internal::CaptureStdout();
  const auto o = parse(args);
  std::cout.flush();
  const std::string out = testing::internal::GetCapturedStdout();
  EXPECT_FALSE(o.has_value());
  return out;
}

// A scratch file, removed at the end of the test.
class TempFile {
 public:
  explicit TempFile(const std::string& text) {
    char tmpl[] = "/tmp/sluiced-options-test-XXXXXX";
    const int fd = mkstemp(tmpl);
    if (fd < 0) throw std::runtime_error("mkstemp failed");
    close(fd);
    path_ = tmpl;
    std::ofstream(path_) << text;
  }
  ~TempFile() { unlink(path_.c_str()); }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

struct HelpOption {
  std::string name;
  std::optional<std::string> default_value;  // Boost's "(=X)"
};

// Boost's option lines: "  --name arg (=default)   text" or "  -h [ --help ]   text". (No
// std::regex here: GCC 12's -Wmaybe-uninitialized trips over its internals under ASan.)
std::optional<HelpOption> help_line(const std::string& line) {
  size_t p = 2;
  if (line.size() < 4 || line.compare(0, 2, "  ") != 0 || line[2] != '-') return std::nullopt;
  if (line.compare(p, 2, "--") != 0) {
    if (line.size() < 9 || line.compare(p + 2, 3, " [ ") != 0) return std::nullopt;
    p += 5;  // "-h [ "
  }
  if (line.compare(p, 2, "--") != 0) return std::nullopt;
  const size_t end = line.find_first_not_of("abcdefghijklmnopqrstuvwxyz0123456789-", p + 2);
  HelpOption h{line.substr(p + 2, end - p - 2), std::nullopt};
  const std::string rest = end == std::string::npos ? "" : line.substr(end);
  if (rest.rfind(" arg (=", 0) == 0 && rest.find(')') != std::string::npos)
    h.default_value = rest.substr(7, rest.find(')') - 7);
  return h;
}

// The long options of `sluiced --help` in the group a config file takes (its caption says so)
// or, with config_group false, in the others.
std::vector<HelpOption> help_options(bool config_group) {
  std::istringstream in(printed({"--help"}));
  std::vector<HelpOption> out;
  bool in_config_group = false;
  for (std::string line; std::getline(in, line);) {
    if (!line.empty() && line[0] != ' ') in_config_group = line.find("--config file") != line.npos;
    const std::optional<HelpOption> h = help_line(line);
    if (h && in_config_group == config_group) out.push_back(*h);
  }
  return out;
}

std::string example_path() {
  const char* p = std::getenv("SLUICE_EXAMPLE_CONFIG");
  return p ? p : "";
}

std::string read_file(const std::string& path) {
  std::ifstream in(path);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

// An option line of the example, "#key = value" (a key of [a-z0-9-], a value), or nullopt.
std::optional<std::pair<std::string, std::string>> example_line(const std::string& line) {
  if (line.size() < 6 || line[0] != '#' || line[1] < 'a' || line[1] > 'z') return std::nullopt;
  const size_t end = line.find_first_not_of("abcdefghijklmnopqrstuvwxyz0123456789-", 1);
  if (end == std::string::npos || line.compare(end, 3, " = ") != 0 || end + 3 == line.size())
    return std::nullopt;
  return std::pair{line.substr(1, end - 1), line.substr(end + 3)};
}

// The example's option lines, in order.
std::vector<std::pair<std::string, std::string>> example_lines(const std::string& text) {
  std::vector<std::pair<std::string, std::string>> out;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);)
    if (const auto kv = example_line(line)) out.push_back(*kv);
  return out;
}

// The example with every "#key = value" line enabled.
std::string enabled(const std::string& text) {
  std::istringstream in(text);
  std::string out;
  for (std::string line; std::getline(in, line);)
    out += (example_line(line) ? line.substr(1) : line) + "\n";
  return out;
}

class ExampleConfig : public testing::Test {
 protected:
  void SetUp() override {
    if (example_path().empty()) GTEST_SKIP() << "SLUICE_EXAMPLE_CONFIG is not set";
    text_ = read_file(example_path());
    ASSERT_FALSE(text_.empty()) << "cannot read " << example_path();
  }
  std::string text_;
};

TEST(SluicedOptions, VersionIsTheConfiguredOne) {
  EXPECT_EQ(printed({"--version"}), std::string("sluiced ") + SLUICE_VERSION + "\n");
  unsigned major = 0, minor = 0, patch = 0;
  EXPECT_EQ(std::sscanf(SLUICE_VERSION, "%u.%u.%u", &major, &minor, &patch), 3) << SLUICE_VERSION;
}

TEST(SluicedOptions, HelpHasBothGroups) {
  std::set<std::string> cli;
  for (const HelpOption& h : help_options(false)) cli.insert(h.name);
  EXPECT_EQ(cli, (std::set<std::string>{"help", "version", "config"}));
  // A sample of the config file's group, to know the parsing of the help found it at all.
  std::set<std::string> file;
  for (const HelpOption& h : help_options(true)) file.insert(h.name);
  EXPECT_TRUE(file.count("port") && file.count("workers") && file.count("fdb-size"));
}

TEST(SluicedOptions, ConfigFileRefusesCommandLineOnlyOptions) {
  for (const char* line : {"help = 1", "version = 1", "config = /etc/passwd"}) {
    TempFile f(std::string(line) + "\nport = eth1\n");
    EXPECT_THROW(parse({"--config", f.path()}), std::invalid_argument) << line;
  }
}

TEST(SluicedOptions, CommandLineWinsOverTheFile) {
  TempFile f("port = eth1\nworkers = 3\nroute = 10.9.0.0/16=blackhole\n");
  const auto o = parse({"--workers", "2", "--port", "eth2", "--config", f.path(), "--route",
                        "10.8.0.0/16=blackhole", "--mirror", "off"});
  ASSERT_TRUE(o);
  EXPECT_EQ(o->workers, 2u);
  EXPECT_EQ(o->ports.size(), 2u);   // repeatable: both
  EXPECT_EQ(o->routes.size(), 2u);  // repeatable: both
}

TEST_F(ExampleConfig, DocumentsEveryOptionAndNothingElse) {
  std::set<std::string> options, documented;
  for (const HelpOption& h : help_options(true)) options.insert(h.name);
  for (const auto& [key, value] : example_lines(text_)) documented.insert(key);
  for (const std::string& o : options)
    EXPECT_TRUE(documented.count(o)) << "option --" << o << " is not in " << example_path();
  for (const std::string& d : documented)
    EXPECT_TRUE(options.count(d)) << example_path() << " has '" << d
                                  << "', which is no option of the config file";
}

TEST_F(ExampleConfig, ShowsTheDefaults) {
  std::map<std::string, std::string> first;  // key -> the value of its first line
  for (const auto& [key, value] : example_lines(text_)) first.emplace(key, value);
  int checked = 0;
  for (const HelpOption& h : help_options(true)) {
    if (!h.default_value || !first.count(h.name)) continue;
    EXPECT_EQ(first[h.name], *h.default_value) << "#" << h.name << " = ... in " << example_path();
    ++checked;
  }
  EXPECT_GE(checked, 15);  // workers, rx-desc, ..., fdb-size
}

TEST_F(ExampleConfig, AsShippedSetsNothing) {
  // No option enabled: sluiced started on it asks for a port rather than doing anything.
  for (const auto& [key, value] : example_lines(text_)) EXPECT_NE(key, "");
  std::istringstream in(text_);
  for (std::string line; std::getline(in, line);)
    EXPECT_TRUE(line.empty() || line[0] == '#') << "an enabled line: " << line;
  TempFile f(text_);
  try {
    parse({"--config", f.path()});
    ADD_FAILURE() << "the shipped example parsed without a port";
  } catch (const std::invalid_argument& e) {
    EXPECT_NE(std::string(e.what()).find("no --port"), std::string::npos) << e.what();
  }
}

TEST_F(ExampleConfig, ParsesWithEveryExampleLineEnabled) {
  TempFile f(enabled(text_));
  std::optional<SluicedOptions> o;
  try {
    o = parse({"--config", f.path()});
  } catch (const std::invalid_argument& e) {
    FAIL() << example_path() << " with its example lines enabled: " << e.what();
  }
  ASSERT_TRUE(o);
  // What the lines say, arrived: counted from the file, so a line added stays covered.
  std::map<std::string, size_t> count;
  for (const auto& [key, value] : example_lines(text_)) ++count[key];
  EXPECT_EQ(o->ports.size(), count["port"]);
  EXPECT_EQ(o->addresses.size(), count["addr"]);
  EXPECT_EQ(o->routes.size(), count["route"]);
  EXPECT_EQ(o->route_files.size(), count["route-file"]);
  EXPECT_EQ(o->neighbours.size(), count["neigh"]);
  EXPECT_EQ(o->masquerade.size(), count["masquerade"]);
  EXPECT_EQ(o->forward.size(), count["forward"]);
  EXPECT_EQ(o->bridges.size(), count["bridge"]);
  EXPECT_EQ(o->eal_extra.size(), count["eal"]);
  EXPECT_GE(o->ports.size(), 1u);
  EXPECT_TRUE(o->mirror_on);  // auto, with AF_XDP ports among them
  EXPECT_EQ(o->control_socket, "/run/sluice/sluice.sock");
}

}  // namespace
}  // namespace sluice
