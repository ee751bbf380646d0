// The production randomness of the differential-privacy samplers (disclosure-control.md §7.4):
// OpenSSL's private DRBG (RAND_priv_bytes, kept apart from the public generator that also serves
// TLS nonces), read 64 KiB at a time into a per-thread buffer, as Google's DP library buffers
// RAND_bytes. Any generator failure is kUnavailable and the request that drew releases nothing:
// there is no fallback generator.
//
//   auto random = std::make_shared<crypto::PrivateRandom>();
//   core::DpReleaser releaser(ledger, random, log);
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <span>

#include "absl/status/status.h"
#include "enclave/dp/random.h"

namespace enclave::crypto {

class PrivateRandom final : public dp::RandomSource {
 public:
  static constexpr std::size_t kBufferSize = 64 * 1024;

  // A generator with RAND_priv_bytes' contract: fills `n` bytes, returns 1 on success.
  using Generator = std::function<int(unsigned char* out, int n)>;

  PrivateRandom();  // RAND_priv_bytes
  // Tests only: another generator in its place, e.g. one that fails.
  static PrivateRandom WithGeneratorForTest(Generator generator);

  // Thread-safe: each thread has its own buffer (per instance). kUnavailable when the generator
  // does not return 1; the buffer is then wiped and nothing is written to `out` that a caller
  // could use (it is zeroed).
  absl::Status Fill(std::span<std::uint8_t> out) override;

 private:
  explicit PrivateRandom(Generator generator);
  Generator generator_;
  std::uint64_t id_;  // tells per-thread buffers of different instances apart
};

}  // namespace enclave::crypto
