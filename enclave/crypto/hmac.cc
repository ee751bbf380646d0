#include "enclave/crypto/hmac.h"

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/params.h>

#include "enclave/base/check.h"
#include "enclave/base/hex.h"

namespace enclave::crypto {
namespace {

// Fetched once per process and never freed (lives as long as the library context).
EVP_MAC* HmacImpl() {
  static EVP_MAC* const mac = EVP_MAC_fetch(nullptr, "HMAC", nullptr);
  ENCLAVE_CHECK(mac != nullptr);
  return mac;
}

// An HMAC-SHA256 context keyed with `key`; aborts if OpenSSL fails.
EVP_MAC_CTX* NewKeyedContext(std::span<const std::uint8_t> key) {
  EVP_MAC_CTX* ctx = EVP_MAC_CTX_new(HmacImpl());
  ENCLAVE_CHECK(ctx != nullptr);
  char digest[] = "SHA256";
  const OSSL_PARAM params[] = {
      OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, digest, 0),
      OSSL_PARAM_construct_end()};
  ENCLAVE_CHECK(EVP_MAC_init(ctx, key.data(), key.size(), params) == 1);
  return ctx;
}

struct CtxDeleter {
  void operator()(EVP_MAC_CTX* ctx) const { EVP_MAC_CTX_free(ctx); }
};
using CtxPtr = std::unique_ptr<EVP_MAC_CTX, CtxDeleter>;

std::uint32_t First32(const std::array<std::uint8_t, 32>& mac) {
  return (static_cast<std::uint32_t>(mac[0]) << 24) | (static_cast<std::uint32_t>(mac[1]) << 16) |
         (static_cast<std::uint32_t>(mac[2]) << 8) | static_cast<std::uint32_t>(mac[3]);
}

void Update(EVP_MAC_CTX* ctx, std::string_view data) {
  ENCLAVE_CHECK(EVP_MAC_update(ctx, reinterpret_cast<const unsigned char*>(data.data()),
                               data.size()) == 1);
}

std::array<std::uint8_t, 32> Final(EVP_MAC_CTX* ctx) {
  std::array<std::uint8_t, 32> out{};
  std::size_t len = 0;
  ENCLAVE_CHECK(EVP_MAC_final(ctx, out.data(), &len, out.size()) == 1);
  ENCLAVE_CHECK(len == out.size());
  return out;
}

bool HasNul(std::string_view s) { return s.find('\0') != std::string_view::npos; }

}  // namespace

std::array<std::uint8_t, 32> HmacSha256(std::span<const std::uint8_t> key, std::string_view data) {
  CtxPtr ctx(NewKeyedContext(key));
  Update(ctx.get(), data);
  return Final(ctx.get());
}

struct KeyedHmacSha256::Impl {
  CtxPtr keyed;  // holds the key; never updated, duplicated by Mac
  // Re-initialised for every MacReusing with EVP_MAC_init(ctx, NULL, 0, NULL), which keeps the
  // key (the HMAC pads are computed once).
  CtxPtr work;
};

KeyedHmacSha256::KeyedHmacSha256(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

KeyedHmacSha256::KeyedHmacSha256(std::span<const std::uint8_t> key)
    : impl_(std::make_unique<Impl>()) {
  ENCLAVE_CHECK(!key.empty());
  impl_->keyed.reset(NewKeyedContext(key));
  impl_->work.reset(EVP_MAC_CTX_dup(impl_->keyed.get()));
  ENCLAVE_CHECK(impl_->work != nullptr);
}

KeyedHmacSha256::~KeyedHmacSha256() = default;

std::unique_ptr<KeyedHmacSha256> KeyedHmacSha256::Clone() const {
  auto impl = std::make_unique<Impl>();
  impl->keyed.reset(EVP_MAC_CTX_dup(impl_->keyed.get()));
  ENCLAVE_CHECK(impl->keyed != nullptr);
  impl->work.reset(EVP_MAC_CTX_dup(impl_->keyed.get()));
  ENCLAVE_CHECK(impl->work != nullptr);
  return std::unique_ptr<KeyedHmacSha256>(new KeyedHmacSha256(std::move(impl)));
}

std::array<std::uint8_t, 32> KeyedHmacSha256::Mac(std::string_view a, std::string_view b) const {
  CtxPtr ctx(EVP_MAC_CTX_dup(impl_->keyed.get()));
  ENCLAVE_CHECK(ctx != nullptr);
  Update(ctx.get(), a);
  Update(ctx.get(), b);
  return Final(ctx.get());
}

std::array<std::uint8_t, 32> KeyedHmacSha256::MacReusing(std::string_view data) {
  EVP_MAC_CTX* ctx = impl_->work.get();
  ENCLAVE_CHECK(EVP_MAC_init(ctx, nullptr, 0, nullptr) == 1);
  Update(ctx, data);
  return Final(ctx);
}

RecordKeyer::RecordKeyer(const Secret& key) : mac_(key.bytes()) {
  const std::array<std::uint8_t, 32> id = mac_.Mac("enclave record-key id/1");
  key_id_ = "rk-" + base::Hex(std::span(id).first(8));
}

RecordKeyer::~RecordKeyer() = default;

std::uint32_t RecordKeyer::RecordKey(std::string_view unit_type, std::string_view pseudonym) const {
  ENCLAVE_CHECK(!unit_type.empty() && !HasNul(unit_type));
  // unit_type || 0x00 in one buffer (unit types are short program constants).
  std::string prefix(unit_type);
  prefix.push_back('\0');
  return First32(mac_.Mac(prefix, pseudonym));
}

std::uint32_t RecordKeyer::MagnitudeKey(std::string_view variable, std::uint32_t j,
                                        std::uint32_t cell_key) const {
  ENCLAVE_CHECK(!HasNul(variable));
  std::string msg;
  msg.reserve(variable.size() + 10);
  msg.push_back('\0');
  msg.append(variable);
  msg.push_back('\0');
  for (std::uint32_t v : {j, cell_key}) {
    for (int shift = 24; shift >= 0; shift -= 8) {
      msg.push_back(static_cast<char>((v >> shift) & 0xffU));
    }
  }
  return First32(mac_.Mac(msg));
}

}  // namespace enclave::crypto
