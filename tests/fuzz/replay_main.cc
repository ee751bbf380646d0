// Corpus replay for GCC builds: runs LLVMFuzzerTestOneInput once on every file named on the command
// line or found (not recursively) in a directory named there, in name order, each input in a heap
// buffer of exactly its size (so ASan sees an overread as libFuzzer's build would). Exit 0 when all
// ran; a failing property aborts (see fuzz_common.h); exit 1 if no input was found at all (an empty
// or misnamed corpus directory is a broken test, not a pass).
#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <memory>
#include <string>
#include <system_error>
#include <vector>

#include "tests/fuzz/fuzz_common.h"

namespace {

namespace fs = std::filesystem;

bool ReadFile(const fs::path& path, std::string* out) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return false;
  out->assign(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
  return !in.bad();
}

}  // namespace

int main(int argc, char** argv) {
  std::vector<fs::path> inputs;
  for (int i = 1; i < argc; ++i) {
    const fs::path arg(argv[i]);
    std::error_code ec;
    if (fs::is_directory(arg, ec)) {
      std::vector<fs::path> files;
      for (const fs::directory_entry& e : fs::directory_iterator(arg, ec)) {
        if (e.is_regular_file(ec)) files.push_back(e.path());
      }
      std::sort(files.begin(), files.end());
      inputs.insert(inputs.end(), files.begin(), files.end());
    } else {
      inputs.push_back(arg);
    }
  }
  if (inputs.empty()) {
    std::fprintf(stderr, "replay: no inputs (give corpus directories or files)\n");
    return 1;
  }
  std::size_t bytes = 0;
  for (const fs::path& path : inputs) {
    std::string content;
    if (!ReadFile(path, &content)) {
      std::fprintf(stderr, "replay: cannot read %s\n", path.c_str());
      return 1;
    }
    // Named before it runs, so that a crash shows which input did it.
    std::fprintf(stderr, "replay: %s (%zu bytes)\n", path.c_str(), content.size());
    std::fflush(stderr);
    auto buffer = std::make_unique<std::uint8_t[]>(content.size());
    std::copy(content.begin(), content.end(), buffer.get());
    LLVMFuzzerTestOneInput(buffer.get(), content.size());
    bytes += content.size();
  }
  std::fprintf(stderr, "replay: %zu inputs, %zu bytes, no failure\n", inputs.size(), bytes);
  return 0;
}
