// Synthetic BSNs and their keyed pseudonyms (docs/security.md §5, docs/domain.md §3.1).
//
// The generator draws unique random 9-digit numbers that pass the 11-check and stores only
// rinpersoon = HMAC-SHA256(key, canonical BSN), first 128 bits as 32 lower-case hex. In the
// synthetic data the key is derived from the seed so runs are reproducible; in production the key
// is the secret K_project held by the linkage authority and never derived from anything public.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <unordered_set>

#include "absl/status/statusor.h"
#include "enclave/datagen/rng.h"

namespace enclave::datagen {

// True iff `bsn` is exactly 9 ASCII digits with 9·d1 + 8·d2 + … + 2·d8 − d9 ≡ 0 (mod 11).
bool IsValidBsn(std::string_view bsn);

// The synthetic pseudonymisation key for a seed (32 bytes, SHA-256 of a fixed label and the seed).
std::string SyntheticKeyFromSeed(std::uint64_t seed);

// HMAC-SHA256(key, bsn), first 16 bytes as 32 lower-case hex. kInternal if OpenSSL fails.
absl::StatusOr<std::string> PseudonymHex(std::string_view key, std::string_view bsn);

// Unique valid BSNs in a fixed order for a seed. The generator assigns them to persons in
// gbapersoontab insertion order, so tests can recompute every rinpersoon.
class BsnSource {
 public:
  explicit BsnSource(std::uint64_t seed);
  std::string Next();

 private:
  Rng rng_;
  std::unordered_set<std::uint32_t> used_;
};

}  // namespace enclave::datagen
