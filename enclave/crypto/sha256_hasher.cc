#include "enclave/crypto/sha256_hasher.h"

#include <openssl/evp.h>

#include "enclave/base/check.h"

namespace enclave::crypto {
namespace {

// Fetched once per process; EVP_MD objects are reference counted and thread-safe to share.
const EVP_MD* FetchedSha256() {
  static EVP_MD* const md = EVP_MD_fetch(nullptr, "SHA256", nullptr);
  ENCLAVE_CHECK(md != nullptr);
  return md;
}

}  // namespace

struct Sha256Hasher::Impl {
  EVP_MD_CTX* ctx = nullptr;
  bool started = false;
};

Sha256Hasher::Sha256Hasher() : impl_(std::make_unique<Impl>()) {
  impl_->ctx = EVP_MD_CTX_new();
  ENCLAVE_CHECK(impl_->ctx != nullptr);
}

Sha256Hasher::~Sha256Hasher() { EVP_MD_CTX_free(impl_->ctx); }

void Sha256Hasher::Update(const std::uint8_t* data, std::size_t size) {
  if (!impl_->started) {
    ENCLAVE_CHECK(EVP_DigestInit_ex2(impl_->ctx, FetchedSha256(), nullptr) == 1);
    impl_->started = true;
  }
  if (size > 0) ENCLAVE_CHECK(EVP_DigestUpdate(impl_->ctx, data, size) == 1);
}

void Sha256Hasher::Update(std::string_view data) {
  Update(reinterpret_cast<const std::uint8_t*>(data.data()), data.size());
}

Sha256Digest Sha256Hasher::Finish() {
  if (!impl_->started) Update(nullptr, 0);
  Sha256Digest out{};
  unsigned int len = 0;
  ENCLAVE_CHECK(EVP_DigestFinal_ex(impl_->ctx, out.data(), &len) == 1);
  ENCLAVE_CHECK(len == out.size());
  impl_->started = false;
  return out;
}

Sha256Digest Sha256(std::string_view data) {
  thread_local Sha256Hasher hasher;
  hasher.Update(data);
  return hasher.Finish();
}

}  // namespace enclave::crypto
