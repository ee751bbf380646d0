// Synthetic BSNs and their keyed pseudonyms (docs/security.md §5, docs/domain.md §3.1).
//
// The generator draws unique random 9-digit numbers that pass the 11-check
// (delivery::IsCanonicalBsn) and stores only their pseudonyms, computed by the one pseudonymiser
// the steward uses too (crypto::Pseudonymiser: first 128 bits of HMAC-SHA256(key, BSN)). In the
// synthetic data the key is derived from the seed so runs are reproducible; in production the key
// is the secret K_project held by the linkage authority and never derived from anything public.
#pragma once

#include <cstdint>
#include <string>
#include <unordered_set>

#include "enclave/datagen/rng.h"

namespace enclave::datagen {

// The synthetic pseudonymisation key for a seed (32 bytes, SHA-256 of a fixed label and the seed).
std::string SyntheticKeyFromSeed(std::uint64_t seed);

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
