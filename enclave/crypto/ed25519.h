// Ed25519 signing keys for the audit log's checkpoints (OpenSSL behind the header).
//
// OpenSSL 3.0 supports Ed25519 one-shot only: every Sign/Verify is a single EVP_DigestSign /
// EVP_DigestVerify over the exact message bytes (EVP_SIGNATURE-ED25519(7)); there is no streaming.
// Private key material never appears in a status message or log line; the PEM text of a private
// key (ToPem) is the only way it leaves this class, and temporary copies are wiped with
// OPENSSL_cleanse.
//
//   ENCLAVE_ASSIGN_OR_RETURN(auto key, crypto::Ed25519PrivateKey::FromPem(pem_text));
//   ENCLAVE_ASSIGN_OR_RETURN(std::string sig, key.Sign(body));
//   ENCLAVE_RETURN_IF_ERROR(crypto::Ed25519Verify(key.public_key(), body, sig));
#pragma once

#include <cstddef>
#include <memory>
#include <string>
#include <string_view>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace enclave::crypto {

inline constexpr std::size_t kEd25519SeedSize = 32;       // RFC 8032 private key
inline constexpr std::size_t kEd25519PublicKeySize = 32;
inline constexpr std::size_t kEd25519SignatureSize = 64;

class Ed25519PrivateKey {
 public:
  // A fresh key from the OpenSSL CSPRNG. kInternal if OpenSSL fails.
  static absl::StatusOr<Ed25519PrivateKey> Generate();
  // From the 32-byte RFC 8032 private key (seed). kInvalidArgument if not 32 bytes.
  static absl::StatusOr<Ed25519PrivateKey> FromSeed(std::string_view seed);
  // From a PKCS#8 "PRIVATE KEY" PEM block holding an Ed25519 key (as written by ToPem or
  // `openssl genpkey -algorithm ed25519`). kInvalidArgument if unreadable or another algorithm.
  static absl::StatusOr<Ed25519PrivateKey> FromPem(std::string_view pem);

  Ed25519PrivateKey(Ed25519PrivateKey&&) noexcept;
  Ed25519PrivateKey& operator=(Ed25519PrivateKey&&) noexcept;
  ~Ed25519PrivateKey();

  // The 32-byte raw public key.
  const std::string& public_key() const;
  // One-shot RFC 8032 signature (64 bytes) over `message`. kInternal if OpenSSL fails.
  absl::StatusOr<std::string> Sign(std::string_view message) const;
  // PKCS#8 PEM of the private key. SECRET: the caller stores it with owner-only permissions and
  // never logs it.
  absl::StatusOr<std::string> ToPem() const;
  // "PUBLIC KEY" (SubjectPublicKeyInfo) PEM of the public key.
  absl::StatusOr<std::string> PublicKeyPem() const;

 private:
  struct Impl;
  explicit Ed25519PrivateKey(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

// OK if `signature` is a valid Ed25519 signature of `message` under the 32-byte `public_key`.
// kInvalidArgument if the key or signature has the wrong size or the key is not a valid point;
// kUnauthenticated if the signature does not verify.
absl::Status Ed25519Verify(std::string_view public_key, std::string_view message,
                           std::string_view signature);

// The 32-byte raw public key from a "PUBLIC KEY" PEM block. kInvalidArgument otherwise.
absl::StatusOr<std::string> Ed25519PublicKeyFromPem(std::string_view pem);

}  // namespace enclave::crypto
