#include "enclave/datagen/pseudonym.h"

#include <array>

#include "enclave/crypto/sha256_hasher.h"

namespace enclave::datagen {

std::string SyntheticKeyFromSeed(std::uint64_t seed) {
  const std::string label = "enclave-datagen synthetic pseudonym key v1:" + std::to_string(seed);
  const crypto::Sha256Digest digest = crypto::Sha256(label);
  return std::string(reinterpret_cast<const char*>(digest.data()), digest.size());
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
