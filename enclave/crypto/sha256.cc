#include "enclave/crypto/sha256.h"

#include <openssl/evp.h>

#include <array>

#include "enclave/base/check.h"
#include "enclave/base/hex.h"

namespace enclave::crypto {

std::string Sha256Hex(std::string_view data) {
  std::array<unsigned char, EVP_MAX_MD_SIZE> digest{};
  unsigned int len = 0;
  ENCLAVE_CHECK(EVP_Digest(data.data(), data.size(), digest.data(), &len, EVP_sha256(), nullptr) == 1);
  ENCLAVE_CHECK(len == 32);
  return base::Hex(std::span<const std::uint8_t>(digest.data(), len));
}

}  // namespace enclave::crypto
