// Raw SHA-256 digests for hashing many small inputs (the audit log's Merkle tree).
//
// Sha256Hasher fetches the OpenSSL digest once and reuses one context, so it avoids the per-call
// algorithm fetch of EVP_sha256()/EVP_Digest in OpenSSL 3.0 (security.md §8, pitfall 15). One
// hasher per thread: it is not thread-safe. Aborts (fail closed) if OpenSSL fails.
//
//   crypto::Sha256Hasher h;
//   h.Update("\x00", 1); h.Update(leaf);
//   crypto::Sha256Digest leaf_hash = h.Finish();  // ready for the next digest
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string_view>

namespace enclave::crypto {

using Sha256Digest = std::array<std::uint8_t, 32>;

class Sha256Hasher {
 public:
  Sha256Hasher();
  ~Sha256Hasher();
  Sha256Hasher(const Sha256Hasher&) = delete;
  Sha256Hasher& operator=(const Sha256Hasher&) = delete;

  void Update(std::string_view data);
  void Update(const std::uint8_t* data, std::size_t size);
  // Returns the digest of everything passed to Update since the last Finish, and resets.
  Sha256Digest Finish();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// One-shot convenience; uses a thread-local Sha256Hasher.
Sha256Digest Sha256(std::string_view data);

}  // namespace enclave::crypto
