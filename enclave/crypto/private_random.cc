#include "enclave/crypto/private_random.h"

#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/rand.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <cstring>
#include <utility>

namespace enclave::crypto {
namespace {

std::atomic<std::uint64_t> next_id{1};

struct ThreadBuffer {
  std::uint64_t owner = 0;  // PrivateRandom::id_ of the bytes held, 0 = empty
  std::size_t pos = PrivateRandom::kBufferSize;
  std::array<std::uint8_t, PrivateRandom::kBufferSize> bytes{};

  void Wipe() {
    OPENSSL_cleanse(bytes.data(), bytes.size());
    pos = bytes.size();
    owner = 0;
  }
  ~ThreadBuffer() { OPENSSL_cleanse(bytes.data(), bytes.size()); }
};

thread_local ThreadBuffer buffer;

}  // namespace

PrivateRandom::PrivateRandom()
    : PrivateRandom([](unsigned char* out, int n) { return RAND_priv_bytes(out, n); }) {}

PrivateRandom::PrivateRandom(Generator generator)
    : generator_(std::move(generator)), id_(next_id.fetch_add(1)) {}

PrivateRandom PrivateRandom::WithGeneratorForTest(Generator generator) {
  return PrivateRandom(std::move(generator));
}

absl::Status PrivateRandom::Fill(std::span<std::uint8_t> out) {
  ThreadBuffer& b = buffer;
  if (b.owner != id_) {
    b.Wipe();
    b.owner = id_;
  }
  std::size_t done = 0;
  while (done < out.size()) {
    if (b.pos == b.bytes.size()) {
      if (generator_(b.bytes.data(), static_cast<int>(b.bytes.size())) != 1) {
        ERR_clear_error();
        b.Wipe();
        std::fill(out.begin(), out.end(), std::uint8_t{0});
        return absl::UnavailableError(
            "the private random generator failed; nothing is released (retry later)");
      }
      b.pos = 0;
    }
    const std::size_t n = std::min(out.size() - done, b.bytes.size() - b.pos);
    std::memcpy(out.data() + done, b.bytes.data() + b.pos, n);
    OPENSSL_cleanse(b.bytes.data() + b.pos, n);  // a byte is handed out once
    b.pos += n;
    done += n;
  }
  return absl::OkStatus();
}

}  // namespace enclave::crypto
