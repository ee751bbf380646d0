// Deterministic dp::RandomSource for tests only (disclosure-control.md §7.4, §7.8): the synthetic
// data generator's xoshiro256** seeded through SplitMix64 (datagen::Rng), so golden outputs and statistical tests are reproducible. It exists
// only in the test tree, and only a target that defines ENCLAVE_DETERMINISTIC_RNG_FOR_TEST can
// include it: a production build that tried to would not compile.
//
//   enclave::testing::TestRandom rng(42);
//   auto z = enclave::dp::DiscreteLaplace(rng, 4, 1);
#pragma once

#ifndef ENCLAVE_DETERMINISTIC_RNG_FOR_TEST
#error "tests/dp/test_random.h is a deterministic RNG for tests; production code must not use it"
#endif

#include <cstddef>
#include <cstdint>
#include <deque>
#include <span>
#include <utility>

#include "absl/status/status.h"
#include "enclave/datagen/rng.h"
#include "enclave/dp/random.h"

namespace enclave::testing {

class TestRandom final : public dp::RandomSource {
 public:
  explicit TestRandom(std::uint64_t seed) : rng_(seed) {}

  absl::Status Fill(std::span<std::uint8_t> out) override {
    std::size_t i = 0;
    while (i < out.size()) {
      std::uint64_t v = rng_.Next();
      for (int b = 0; b < 8 && i < out.size(); ++b, ++i) {
        out[i] = static_cast<std::uint8_t>(v >> 56);
        v <<= 8;
      }
    }
    bytes_ += out.size();
    return absl::OkStatus();
  }

  std::uint64_t bytes_drawn() const { return bytes_; }

 private:
  datagen::Rng rng_;  // the generator's xoshiro256** (enclave/datagen/rng.h)
  std::uint64_t bytes_ = 0;
};

// Returns the given 64-bit words (big-endian) in order, then fails with kUnavailable: for
// exact tests of rejection steps and of failure propagation.
class ScriptedRandom final : public dp::RandomSource {
 public:
  explicit ScriptedRandom(std::deque<std::uint64_t> words) : words_(std::move(words)) {}
  absl::Status Fill(std::span<std::uint8_t> out) override {
    if (out.size() != 8 || words_.empty()) return absl::UnavailableError("scripted source exhausted");
    std::uint64_t v = words_.front();
    words_.pop_front();
    for (std::uint8_t& b : out) {
      b = static_cast<std::uint8_t>(v >> 56);
      v <<= 8;
    }
    return absl::OkStatus();
  }
  std::size_t remaining() const { return words_.size(); }

 private:
  std::deque<std::uint64_t> words_;
};

// Fails every call after `ok_calls` successful ones (those come from the stream of seed 1), as
// RAND_priv_bytes would when its DRBG cannot reseed.
class FailingRandom final : public dp::RandomSource {
 public:
  explicit FailingRandom(int ok_calls = 0) : ok_calls_(ok_calls), inner_(1) {}
  absl::Status Fill(std::span<std::uint8_t> out) override {
    ++calls_;
    if (ok_calls_ > 0) {
      --ok_calls_;
      return inner_.Fill(out);
    }
    return absl::UnavailableError("randomness source failed");
  }
  int calls() const { return calls_; }

 private:
  int ok_calls_;
  int calls_ = 0;
  TestRandom inner_;
};

}  // namespace enclave::testing
