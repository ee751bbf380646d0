// The randomness port of the differential-privacy samplers (disclosure-control.md §7.4).
//
// Production: crypto::PrivateRandom (OpenSSL RAND_priv_bytes into a per-thread buffer). Tests: a
// deterministic generator that exists only in the test tree. There is no fallback: when Fill
// fails, the sampler fails and the request releases nothing (fail closed).
#pragma once

#include <cstdint>
#include <span>

#include "absl/status/status.h"

namespace enclave::dp {

class RandomSource {
 public:
  virtual ~RandomSource() = default;
  // Fills `out` with uniformly random bytes. kUnavailable (or another non-OK code) on failure.
  virtual absl::Status Fill(std::span<std::uint8_t> out) = 0;
};

}  // namespace enclave::dp
