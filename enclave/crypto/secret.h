// A 256-bit secret held in memory, wiped on destruction, and its file on disk.
//
// The record-key secret K_ck (disclosure-control.md §5.1) lives in
// `state_dir/record_key.secret`: exactly 32 random bytes, mode 0600, owned by the service user. In
// production deliver it as an encrypted systemd credential (security.md §3.3) and point the server
// at `$CREDENTIALS_DIRECTORY/record_key`; LoadOrCreateSecret then only loads it.
//
//   ENCLAVE_ASSIGN_OR_RETURN(crypto::Secret k, crypto::LoadOrCreateSecret(dir + "/record_key.secret"));
//   crypto::RecordKeyer keyer(k);   // see hmac.h
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <span>
#include <string>

#include "absl/status/statusor.h"

namespace enclave::crypto {

class Secret {
 public:
  static constexpr std::size_t kSize = 32;

  // REQUIRES: bytes.size() == kSize (checked; aborts otherwise).
  explicit Secret(std::span<const std::uint8_t> bytes);
  ~Secret();  // OPENSSL_cleanse
  Secret(Secret&& other) noexcept;
  Secret& operator=(Secret&& other) noexcept;
  Secret(const Secret&) = delete;
  Secret& operator=(const Secret&) = delete;

  std::span<const std::uint8_t, kSize> bytes() const { return bytes_; }

 private:
  std::array<std::uint8_t, kSize> bytes_{};
};

// Fills `out` with secret random bytes; false on failure. Tests inject failing sources.
using RandomSource = std::function<bool(std::span<std::uint8_t> out)>;

// RAND_priv_bytes.
bool SystemRandom(std::span<std::uint8_t> out);

// Loads the secret at `path`, or, when no file exists there, creates one atomically: 32 bytes from
// `random`, written to a temporary file (mode 0600) in the same directory, fsync'ed, then linked to
// `path` only if `path` still does not exist (a concurrent creator wins and its secret is loaded),
// and the directory fsync'ed. Errors, nothing created on any of them:
//   kFailedPrecondition  `path` is not a regular file, is not exactly 32 bytes, is readable or
//                        writable by group or others (wider than 0600), or is owned by another user;
//   kUnavailable         the file or directory cannot be read or written;
//   kInternal            the random source failed (fail closed: no weak secret is ever made).
// Messages name the path and the problem, never the content.
absl::StatusOr<Secret> LoadOrCreateSecret(const std::string& path,
                                          const RandomSource& random = SystemRandom);

}  // namespace enclave::crypto
