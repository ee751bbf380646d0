// Helpers shared by the fuzz targets (tests/fuzz/*_fuzz.cc): a property check that aborts, so that
// libFuzzer and the corpus replay both report it, a small byte reader, and the fixed log key that
// the generated seeds (make_corpus.cc) are signed with.
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>

// The entry point every target defines (libFuzzer's interface; replay_main.cc calls it with GCC).
extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size);

// A property every input must keep; otherwise abort with what broke. Never depends on the input's
// bytes beyond what is printed (no record data exists in these targets).
#define FUZZ_CHECK(cond, what)                                                          \
  do {                                                                                 \
    if (!(cond)) {                                                                     \
      std::fprintf(stderr, "fuzz property failed at %s:%d: %s\n  %s\n", __FILE__,      \
                   __LINE__, #cond, std::string(what).c_str());                        \
      std::abort();                                                                    \
    }                                                                                  \
  } while (false)

namespace enclave::fuzz {

// The log every generated seed belongs to, and the Ed25519 seed of its (public, test-only) key.
inline constexpr std::string_view kOrigin = "enclave.fuzz/log";
inline constexpr std::string_view kKeySeed = "enclave-fuzz-key-not-a-secret-32";  // 32 bytes
static_assert(kKeySeed.size() == 32);

// ENCLAVE_FUZZ_VERBOSE=1 makes targets print their main verdict per input (for writing seeds:
// does this seed reach the accepting path?).
inline bool Verbose() {
  static const bool verbose = [] {
    const char* v = std::getenv("ENCLAVE_FUZZ_VERBOSE");
    return v != nullptr && *v != '\0' && *v != '0';
  }();
  return verbose;
}
inline void Say(std::string_view what, std::string_view verdict) {
  if (Verbose()) {
    std::fprintf(stderr, "  %.*s: %.*s\n", static_cast<int>(what.size()), what.data(),
                 static_cast<int>(std::min<std::size_t>(verdict.size(), 2000)), verdict.data());
  }
}

// Reads fixed-width big-endian integers and byte strings off the front of the input; once the
// input is exhausted every read returns zeros / empty.
class Reader {
 public:
  Reader(const std::uint8_t* data, std::size_t size)
      : rest_(reinterpret_cast<const char*>(data), size) {}
  explicit Reader(std::string_view rest) : rest_(rest) {}

  std::uint64_t Int(std::size_t width) {
    std::uint64_t v = 0;
    for (std::size_t i = 0; i < width; ++i) {
      v <<= 8;
      if (!rest_.empty()) {
        v |= static_cast<unsigned char>(rest_.front());
        rest_.remove_prefix(1);
      }
    }
    return v;
  }
  std::uint8_t Byte() { return static_cast<std::uint8_t>(Int(1)); }
  std::string_view Bytes(std::size_t n) {
    const std::string_view out = rest_.substr(0, n);
    rest_.remove_prefix(out.size());
    return out;
  }
  std::string_view Rest() {
    const std::string_view out = rest_;
    rest_ = {};
    return out;
  }
  bool empty() const { return rest_.empty(); }
  std::size_t size() const { return rest_.size(); }

 private:
  std::string_view rest_;
};

}  // namespace enclave::fuzz
