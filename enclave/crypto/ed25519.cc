#include "enclave/crypto/ed25519.h"

#include <openssl/bio.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/pem.h>

#include <array>
#include <utility>

namespace enclave::crypto {
namespace {

struct PkeyFree {
  void operator()(EVP_PKEY* p) const { EVP_PKEY_free(p); }
};
struct MdCtxFree {
  void operator()(EVP_MD_CTX* p) const { EVP_MD_CTX_free(p); }
};
struct BioFree {
  void operator()(BIO* p) const { BIO_free(p); }
};
using PkeyPtr = std::unique_ptr<EVP_PKEY, PkeyFree>;
using MdCtxPtr = std::unique_ptr<EVP_MD_CTX, MdCtxFree>;
using BioPtr = std::unique_ptr<BIO, BioFree>;

const unsigned char* Bytes(std::string_view s) {
  return reinterpret_cast<const unsigned char*>(s.data());
}

absl::StatusOr<std::string> RawPublicKey(EVP_PKEY* pkey) {
  std::string out(kEd25519PublicKeySize, '\0');
  std::size_t len = out.size();
  if (EVP_PKEY_get_raw_public_key(pkey, reinterpret_cast<unsigned char*>(out.data()), &len) != 1 ||
      len != kEd25519PublicKeySize) {
    return absl::InternalError("ed25519: cannot read the public key");
  }
  return out;
}

// Reads a memory BIO into a string and wipes the BIO's copy.
std::string DrainBio(BIO* bio) {
  char* data = nullptr;
  const long len = BIO_get_mem_data(bio, &data);
  std::string out;
  if (len > 0 && data != nullptr) {
    out.assign(data, static_cast<std::size_t>(len));
    OPENSSL_cleanse(data, static_cast<std::size_t>(len));
  }
  return out;
}

}  // namespace

struct Ed25519PrivateKey::Impl {
  PkeyPtr pkey;
  std::string public_key;
};

Ed25519PrivateKey::Ed25519PrivateKey(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Ed25519PrivateKey::Ed25519PrivateKey(Ed25519PrivateKey&&) noexcept = default;
Ed25519PrivateKey& Ed25519PrivateKey::operator=(Ed25519PrivateKey&&) noexcept = default;
Ed25519PrivateKey::~Ed25519PrivateKey() = default;  // EVP_PKEY_free clears the key material

absl::StatusOr<Ed25519PrivateKey> Ed25519PrivateKey::Generate() {
  EVP_PKEY* raw = EVP_PKEY_Q_keygen(nullptr, nullptr, "ED25519");
  if (raw == nullptr) return absl::InternalError("ed25519: key generation failed");
  auto impl = std::make_unique<Impl>();
  impl->pkey.reset(raw);
  absl::StatusOr<std::string> pub = RawPublicKey(raw);
  if (!pub.ok()) return pub.status();
  impl->public_key = *std::move(pub);
  return Ed25519PrivateKey(std::move(impl));
}

absl::StatusOr<Ed25519PrivateKey> Ed25519PrivateKey::FromSeed(std::string_view seed) {
  if (seed.size() != kEd25519SeedSize) {
    return absl::InvalidArgumentError("ed25519: a private key seed must be exactly 32 bytes");
  }
  EVP_PKEY* raw = EVP_PKEY_new_raw_private_key(EVP_PKEY_ED25519, nullptr, Bytes(seed), seed.size());
  if (raw == nullptr) return absl::InvalidArgumentError("ed25519: the private key is not usable");
  auto impl = std::make_unique<Impl>();
  impl->pkey.reset(raw);
  absl::StatusOr<std::string> pub = RawPublicKey(raw);
  if (!pub.ok()) return pub.status();
  impl->public_key = *std::move(pub);
  return Ed25519PrivateKey(std::move(impl));
}

absl::StatusOr<Ed25519PrivateKey> Ed25519PrivateKey::FromPem(std::string_view pem) {
  if (pem.size() > 64 * 1024) return absl::InvalidArgumentError("ed25519: PEM input too large");
  BioPtr bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
  if (!bio) return absl::InternalError("ed25519: cannot allocate a BIO");
  EVP_PKEY* raw = PEM_read_bio_PrivateKey(bio.get(), nullptr, nullptr, nullptr);
  if (raw == nullptr) {
    return absl::InvalidArgumentError("ed25519: not a readable PKCS#8 private key PEM block");
  }
  PkeyPtr pkey(raw);
  if (EVP_PKEY_get_id(raw) != EVP_PKEY_ED25519) {
    return absl::InvalidArgumentError("ed25519: the PEM key is not an Ed25519 key");
  }
  auto impl = std::make_unique<Impl>();
  impl->pkey = std::move(pkey);
  absl::StatusOr<std::string> pub = RawPublicKey(raw);
  if (!pub.ok()) return pub.status();
  impl->public_key = *std::move(pub);
  return Ed25519PrivateKey(std::move(impl));
}

const std::string& Ed25519PrivateKey::public_key() const { return impl_->public_key; }

absl::StatusOr<std::string> Ed25519PrivateKey::Sign(std::string_view message) const {
  MdCtxPtr ctx(EVP_MD_CTX_new());
  if (!ctx) return absl::InternalError("ed25519: cannot allocate a digest context");
  // NULL digest: Ed25519 is one-shot (PureEdDSA); EVP_DigestSignUpdate is unsupported.
  if (EVP_DigestSignInit(ctx.get(), nullptr, nullptr, nullptr, impl_->pkey.get()) != 1) {
    return absl::InternalError("ed25519: sign init failed");
  }
  std::string sig(kEd25519SignatureSize, '\0');
  std::size_t len = sig.size();
  if (EVP_DigestSign(ctx.get(), reinterpret_cast<unsigned char*>(sig.data()), &len, Bytes(message),
                     message.size()) != 1 ||
      len != kEd25519SignatureSize) {
    return absl::InternalError("ed25519: signing failed");
  }
  return sig;
}

absl::StatusOr<std::string> Ed25519PrivateKey::ToPem() const {
  BioPtr bio(BIO_new(BIO_s_mem()));
  if (!bio) return absl::InternalError("ed25519: cannot allocate a BIO");
  if (PEM_write_bio_PrivateKey(bio.get(), impl_->pkey.get(), nullptr, nullptr, 0, nullptr,
                               nullptr) != 1) {
    return absl::InternalError("ed25519: cannot write the private key");
  }
  return DrainBio(bio.get());
}

absl::StatusOr<std::string> Ed25519PrivateKey::PublicKeyPem() const {
  BioPtr bio(BIO_new(BIO_s_mem()));
  if (!bio) return absl::InternalError("ed25519: cannot allocate a BIO");
  if (PEM_write_bio_PUBKEY(bio.get(), impl_->pkey.get()) != 1) {
    return absl::InternalError("ed25519: cannot write the public key");
  }
  return DrainBio(bio.get());
}

absl::Status Ed25519Verify(std::string_view public_key, std::string_view message,
                           std::string_view signature) {
  if (public_key.size() != kEd25519PublicKeySize) {
    return absl::InvalidArgumentError("ed25519: a public key must be exactly 32 bytes");
  }
  if (signature.size() != kEd25519SignatureSize) {
    return absl::UnauthenticatedError("ed25519: a signature must be exactly 64 bytes");
  }
  PkeyPtr pkey(EVP_PKEY_new_raw_public_key(EVP_PKEY_ED25519, nullptr, Bytes(public_key),
                                           public_key.size()));
  if (!pkey) return absl::InvalidArgumentError("ed25519: the public key is not usable");
  MdCtxPtr ctx(EVP_MD_CTX_new());
  if (!ctx) return absl::InternalError("ed25519: cannot allocate a digest context");
  if (EVP_DigestVerifyInit(ctx.get(), nullptr, nullptr, nullptr, pkey.get()) != 1) {
    return absl::InternalError("ed25519: verify init failed");
  }
  if (EVP_DigestVerify(ctx.get(), Bytes(signature), signature.size(), Bytes(message),
                       message.size()) != 1) {
    return absl::UnauthenticatedError("ed25519: the signature does not verify");
  }
  return absl::OkStatus();
}

absl::StatusOr<std::string> Ed25519PublicKeyFromPem(std::string_view pem) {
  if (pem.size() > 64 * 1024) return absl::InvalidArgumentError("ed25519: PEM input too large");
  BioPtr bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
  if (!bio) return absl::InternalError("ed25519: cannot allocate a BIO");
  PkeyPtr pkey(PEM_read_bio_PUBKEY(bio.get(), nullptr, nullptr, nullptr));
  if (!pkey) return absl::InvalidArgumentError("ed25519: not a readable public key PEM block");
  if (EVP_PKEY_get_id(pkey.get()) != EVP_PKEY_ED25519) {
    return absl::InvalidArgumentError("ed25519: the PEM key is not an Ed25519 key");
  }
  absl::StatusOr<std::string> pub = RawPublicKey(pkey.get());
  if (!pub.ok()) return absl::InvalidArgumentError("ed25519: cannot read the public key");
  return pub;
}

}  // namespace enclave::crypto
