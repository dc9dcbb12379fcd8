// options_fuzz.cpp — libFuzzer target: sluiced's command line and config file
// (control/options.h, parse_sluiced_options). The input is text: the lines before the first
// empty line are argv[1..] (one argument per line, as a shell would pass them), the rest, when
// there is an empty line, is a config file, given to the parser as `--config FILE`. The file
// is a memfd rewritten for each input (FILE = /proc/self/fd/N), so nothing touches the disk.
//
// The parser must return options, return nullopt (--help, whose text is discarded), or throw
// std::invalid_argument with one line; anything else escaping is a finding. Arguments that
// could name --config themselves (Boost accepts any unambiguous prefix) are left out: the
// fuzzer would otherwise open files of its choosing, such as /dev/zero, which never ends.
#include <sys/mman.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <iostream>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "control/options.h"

namespace {

[[noreturn]] void finding(const std::string& what) {
  fprintf(stderr, "options fuzz: %s\n", what.c_str());
  abort();
}

int config_fd() {
  static const int fd = [] {
    const int f = memfd_create("sluiced-config", MFD_CLOEXEC);
    if (f < 0) finding("memfd_create failed");
    return f;
  }();
  return fd;
}

// "--config", "--conf=...", "--c ...": any long option whose name is a prefix of "config".
bool names_config(std::string_view arg) {
  if (arg.substr(0, 2) != "--") return false;
  std::string_view name = arg.substr(2);
  name = name.substr(0, name.find('='));
  return !name.empty() && std::string_view("config").substr(0, name.size()) == name;
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  std::cout.setstate(std::ios::failbit);  // --help's text
  config_fd();
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view in(reinterpret_cast<const char*>(data), size);
  const size_t blank = in.find("\n\n");
  const std::string_view args_text = in.substr(0, blank);
  std::vector<std::string> args{"sluiced"};
  for (size_t at = 0; at <= args_text.size();) {
    const size_t nl = args_text.find('\n', at);
    const std::string_view a = args_text.substr(at, nl == std::string_view::npos ? nl : nl - at);
    if (!names_config(a)) args.emplace_back(a);
    if (nl == std::string_view::npos) break;
    at = nl + 1;
  }
  if (args.size() == 2 && args[1].empty()) args.pop_back();  // an empty input: no arguments
  if (blank != std::string_view::npos) {
    const std::string_view file = in.substr(blank + 2);
    const int fd = config_fd();
    if (ftruncate(fd, 0) != 0 ||
        pwrite(fd, file.data(), file.size(), 0) != static_cast<ssize_t>(file.size()))
      finding("cannot write the config memfd");
    args.push_back("--config");
    args.push_back("/proc/self/fd/" + std::to_string(fd));
  }
  std::vector<const char*> argv;
  for (const std::string& a : args) argv.push_back(a.c_str());
  argv.push_back(nullptr);
  try {
    sluice::parse_sluiced_options(static_cast<int>(args.size()), argv.data());
  } catch (const std::invalid_argument&) {
    // Bad input, reported as the contract says.
  } catch (const std::exception& e) {
    finding(std::string("an exception other than invalid_argument: ") + e.what());
  }
  return 0;
}
