// crypto::PrivateRandom: RAND_priv_bytes through a per-thread 64 KiB buffer; any generator failure
// is kUnavailable and fails the sample that needed it (disclosure-control.md §7.4).
#include <atomic>
#include <cstdint>
#include <set>
#include <thread>
#include <vector>

#include "doctest/doctest.h"
#include "enclave/crypto/private_random.h"
#include "enclave/dp/sampler.h"

namespace enclave::crypto {
namespace {

TEST_SUITE("PrivateRandom") {
  TEST_CASE("fills with bytes that are not constant and do not repeat across calls") {
    PrivateRandom rng;
    std::set<std::vector<std::uint8_t>> seen;
    for (int i = 0; i < 100; ++i) {
      std::vector<std::uint8_t> b(16);
      REQUIRE(rng.Fill(b).ok());
      seen.insert(b);
    }
    CHECK(seen.size() == 100);
  }
  TEST_CASE("the generator is called once per 64 KiB, and requests larger than the buffer work") {
    std::atomic<int> calls{0};
    std::uint8_t next = 0;
    PrivateRandom rng = PrivateRandom::WithGeneratorForTest([&](unsigned char* out, int n) {
      ++calls;
      CHECK(n == static_cast<int>(PrivateRandom::kBufferSize));
      for (int i = 0; i < n; ++i) out[i] = next++;
      return 1;
    });
    std::vector<std::uint8_t> small(8);
    for (int i = 0; i < 8192; ++i) REQUIRE(rng.Fill(small).ok());  // exactly 64 KiB
    CHECK(calls == 1);
    std::vector<std::uint8_t> big(3 * PrivateRandom::kBufferSize + 5);
    REQUIRE(rng.Fill(big).ok());
    CHECK(calls == 5);
    // The stream continues where it left off: bytes are handed out once, in order.
    CHECK(big[0] == 0);
    CHECK(big[1] == 1);
  }
  TEST_CASE("a failing generator is kUnavailable, zeroes the output, and fails the sampler") {
    bool fail = true;
    PrivateRandom rng = PrivateRandom::WithGeneratorForTest([&](unsigned char* out, int n) {
      if (fail) return 0;
      for (int i = 0; i < n; ++i) out[i] = 0xAB;
      return 1;
    });
    std::vector<std::uint8_t> b(8, 0x55);
    absl::Status s = rng.Fill(b);
    CHECK(s.code() == absl::StatusCode::kUnavailable);
    CHECK(b == std::vector<std::uint8_t>(8, 0));
    CHECK(dp::DiscreteLaplace(rng, 4, 1).status().code() == absl::StatusCode::kUnavailable);
    CHECK(dp::DiscreteGaussian(rng, 50, 1).status().code() == absl::StatusCode::kUnavailable);
    fail = false;  // the next refill succeeds again: no state stuck in a failed mode
    CHECK(rng.Fill(b).ok());
    CHECK(b == std::vector<std::uint8_t>(8, 0xAB));
  }
  TEST_CASE("a generator that fails after a while fails the draw that needs the next block") {
    int calls = 0;
    PrivateRandom rng = PrivateRandom::WithGeneratorForTest([&](unsigned char* out, int n) {
      if (++calls > 1) return -1;
      for (int i = 0; i < n; ++i) out[i] = static_cast<unsigned char>(i);
      return 1;
    });
    std::vector<std::uint8_t> b(PrivateRandom::kBufferSize);
    CHECK(rng.Fill(b).ok());
    std::vector<std::uint8_t> one(1);
    CHECK(rng.Fill(one).code() == absl::StatusCode::kUnavailable);
  }
  TEST_CASE("threads draw from their own buffers concurrently") {
    PrivateRandom rng;
    std::atomic<int> failures{0};
    std::vector<std::thread> threads;
    for (int t = 0; t < 4; ++t) {
      threads.emplace_back([&] {
        for (int i = 0; i < 2000; ++i) {
          if (!dp::DiscreteLaplace(rng, 4, 1).ok()) ++failures;
        }
      });
    }
    for (std::thread& th : threads) th.join();
    CHECK(failures == 0);
  }
}

}  // namespace
}  // namespace enclave::crypto
