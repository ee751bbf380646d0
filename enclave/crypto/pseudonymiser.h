// Keyed pseudonyms of canonical BSNs (docs/security.md §5, docs/domain.md §3.1, §4): the one
// pseudonymiser, used by the steward (real deliveries) and the generator (synthetic data), so
// that both compute the same pseudonym for the same BSN and key and records link.
//
//   rinpersoon = first 128 bits of HMAC-SHA256(K, canonical BSN), as 32 lower-case hex
//
// computed with KeyedHmacSha256 (hmac.h). K is the pseudonymisation key: a file of exactly 32
// bytes, mode 0600 or stricter, owned by the user running the steward (in production delivered
// as an encrypted systemd credential, security.md §3.3). The same BSN in any delivery gets the
// same pseudonym under one key, so deliveries link; under another key the pseudonyms are
// unrelated. The key is never printed or logged.
#pragma once

#include <memory>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"
#include "enclave/crypto/hmac.h"

namespace enclave::crypto {

class Pseudonymiser {
 public:
  static constexpr std::size_t kKeySize = 32;

  // Loads the key file. kFailedPrecondition when it is not a regular file (symlinks refused),
  // is readable or writable by group or others, is owned by another user, or is not exactly
  // 32 bytes; kNotFound when it does not exist; kUnavailable when it cannot be read;
  // Messages name the path, never content.
  static absl::StatusOr<std::unique_ptr<Pseudonymiser>> FromKeyFile(const std::string& path);
  // From key bytes (the generator's synthetic key, tests, benchmarks). kInvalidArgument when
  // the key is empty. Aborts (fail closed) if OpenSSL cannot provide HMAC-SHA256.
  static absl::StatusOr<std::unique_ptr<Pseudonymiser>> FromKey(std::string_view key);

  ~Pseudonymiser();
  Pseudonymiser(const Pseudonymiser&) = delete;
  Pseudonymiser& operator=(const Pseudonymiser&) = delete;

  // Another instance with the same key, for another thread (the key is not copied out of
  // OpenSSL's context). Aborts if OpenSSL cannot allocate it.
  std::unique_ptr<Pseudonymiser> Clone() const;

  // 32 lower-case hex characters into `out` (resized). REQUIRES: `canonical_bsn` is canonical
  // (delivery::CanonicalBsn). Not thread-safe (one instance per thread). Aborts if OpenSSL fails.
  void Pseudonym(std::string_view canonical_bsn, std::string* out) const;
  std::string Pseudonym(std::string_view canonical_bsn) const;

 private:
  explicit Pseudonymiser(std::unique_ptr<KeyedHmacSha256> mac);
  std::unique_ptr<KeyedHmacSha256> mac_;
};

// Creates a new key file at `path`: 32 random bytes (RAND_priv_bytes), mode 0600, O_EXCL.
// kAlreadyExists if the file exists (a key is never overwritten: that would break all linkage);
// kUnavailable on I/O errors; kInternal if the random source fails.
absl::Status CreateKeyFile(const std::string& path);

}  // namespace enclave::crypto
