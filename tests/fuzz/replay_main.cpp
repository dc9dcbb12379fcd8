// replay_main.cpp — the main of a fuzz target built without libFuzzer (every normal build): it
// feeds each file named on the command line, and every file of each directory named (in name
// order, so a run repeats), to LLVMFuzzerTestOneInput once. The committed corpus and the
// regression inputs of crashes found before thus stay tests; a finding aborts, as under
// libFuzzer. A directory that does not exist is skipped (a target may have no regressions).
#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size);
extern "C" __attribute__((weak)) int LLVMFuzzerInitialize(int* argc, char*** argv);

namespace fs = std::filesystem;

int main(int argc, char** argv) {
  if (LLVMFuzzerInitialize) LLVMFuzzerInitialize(&argc, &argv);
  std::vector<fs::path> inputs;
  for (int i = 1; i < argc; ++i) {
    const fs::path p(argv[i]);
    if (fs::is_directory(p)) {
      std::vector<fs::path> files;
      for (const fs::directory_entry& e : fs::directory_iterator(p))
        if (e.is_regular_file()) files.push_back(e.path());
      std::sort(files.begin(), files.end());
      inputs.insert(inputs.end(), files.begin(), files.end());
    } else if (fs::exists(p)) {
      inputs.push_back(p);
    }
  }
  if (inputs.empty()) {
    fprintf(stderr, "%s: no inputs (give files or directories)\n", argv[0]);
    return 1;
  }
  for (const fs::path& p : inputs) {
    std::ifstream in(p, std::ios::binary);
    const std::vector<char> bytes{std::istreambuf_iterator<char>(in), {}};
    if (!in.eof() && in.fail()) {
      fprintf(stderr, "%s: cannot read %s\n", argv[0], p.c_str());
      return 1;
    }
    // A copy of its own, so that reading past the end hits the heap's redzone under ASan.
    std::vector<uint8_t> data(bytes.begin(), bytes.end());
    LLVMFuzzerTestOneInput(data.data(), data.size());
  }
  printf("%zu inputs replayed\n", inputs.size());
  return 0;
}
