#include "enclave/datagen/pseudonym.h"

#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/params.h>

#include <array>
#include <memory>

namespace enclave::datagen {
namespace {

struct MacDeleter {
  void operator()(EVP_MAC* m) const { EVP_MAC_free(m); }
};
struct MacCtxDeleter {
  void operator()(EVP_MAC_CTX* c) const { EVP_MAC_CTX_free(c); }
};

}  // namespace

bool IsValidBsn(std::string_view bsn) {
  if (bsn.size() != 9) return false;
  int sum = 0;
  for (std::size_t i = 0; i < 9; ++i) {
    const char c = bsn[i];
    if (c < '0' || c > '9') return false;
    const int d = c - '0';
    sum += i < 8 ? static_cast<int>(9 - i) * d : -d;
  }
  return sum % 11 == 0;
}

std::string SyntheticKeyFromSeed(std::uint64_t seed) {
  const std::string label = "enclave-datagen synthetic pseudonym key v1:" + std::to_string(seed);
  std::array<unsigned char, EVP_MAX_MD_SIZE> digest{};
  unsigned int len = 0;
  if (EVP_Digest(label.data(), label.size(), digest.data(), &len, EVP_sha256(), nullptr) != 1) {
    return std::string();
  }
  return std::string(reinterpret_cast<const char*>(digest.data()), len);
}

absl::StatusOr<std::string> PseudonymHex(std::string_view key, std::string_view bsn) {
  // One fetched MAC per thread: fetching is the expensive part.
  thread_local std::unique_ptr<EVP_MAC, MacDeleter> mac(EVP_MAC_fetch(nullptr, "HMAC", nullptr));
  if (!mac || key.empty()) return absl::InternalError("HMAC unavailable");
  std::unique_ptr<EVP_MAC_CTX, MacCtxDeleter> ctx(EVP_MAC_CTX_new(mac.get()));
  if (!ctx) return absl::InternalError("HMAC context allocation failed");
  char digest_name[] = "SHA256";
  OSSL_PARAM params[] = {
      OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, digest_name, 0),
      OSSL_PARAM_construct_end()};
  std::array<unsigned char, 64> out{};
  std::size_t out_len = 0;
  if (EVP_MAC_init(ctx.get(), reinterpret_cast<const unsigned char*>(key.data()), key.size(),
                   params) != 1 ||
      EVP_MAC_update(ctx.get(), reinterpret_cast<const unsigned char*>(bsn.data()), bsn.size()) !=
          1 ||
      EVP_MAC_final(ctx.get(), out.data(), &out_len, out.size()) != 1 || out_len < 16) {
    return absl::InternalError("HMAC computation failed");
  }
  static constexpr char kHex[] = "0123456789abcdef";
  std::string hex;
  hex.reserve(32);
  for (std::size_t i = 0; i < 16; ++i) {
    hex.push_back(kHex[out[i] >> 4]);
    hex.push_back(kHex[out[i] & 0x0f]);
  }
  return hex;
}

BsnSource::BsnSource(std::uint64_t seed) : rng_(Mix(seed, 0xB5A5B5A5ULL)) {}

std::string BsnSource::Next() {
  for (;;) {
    std::array<int, 9> d{};
    d[0] = rng_.IntI(0, 6);  // issued BSNs start with 0..6
    int sum = 9 * d[0];
    for (int i = 1; i < 8; ++i) {
      d[static_cast<std::size_t>(i)] = rng_.IntI(0, 9);
      sum += (9 - i) * d[static_cast<std::size_t>(i)];
    }
    const int check = sum % 11;
    if (check == 10) continue;
    d[8] = check;
    std::uint32_t value = 0;
    std::string s(9, '0');
    for (std::size_t i = 0; i < 9; ++i) {
      value = value * 10 + static_cast<std::uint32_t>(d[i]);
      s[i] = static_cast<char>('0' + d[i]);
    }
    if (value == 0 || !used_.insert(value).second) continue;
    return s;
  }
}

}  // namespace enclave::datagen
