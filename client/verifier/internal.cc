#include "client/verifier/internal.h"

#include <openssl/evp.h>

#include <array>
#include <cstdlib>

namespace enclave::verifier::internal {
namespace {

class Ctx {
 public:
  Ctx() : md_(EVP_MD_fetch(nullptr, "SHA2-256", nullptr)), ctx_(EVP_MD_CTX_new()) {
    if (md_ == nullptr || ctx_ == nullptr) std::abort();  // fail closed: no hashing, no verdict
  }
  ~Ctx() {
    EVP_MD_CTX_free(ctx_);
    EVP_MD_free(md_);
  }
  Ctx(const Ctx&) = delete;
  Ctx& operator=(const Ctx&) = delete;
  Hash Digest(std::string_view a, std::string_view b, std::string_view c) {
    Hash out{};
    unsigned int len = 0;
    const bool ok = EVP_DigestInit_ex2(ctx_, md_, nullptr) == 1 &&
                    EVP_DigestUpdate(ctx_, a.data(), a.size()) == 1 &&
                    EVP_DigestUpdate(ctx_, b.data(), b.size()) == 1 &&
                    EVP_DigestUpdate(ctx_, c.data(), c.size()) == 1 &&
                    EVP_DigestFinal_ex(ctx_, out.data(), &len) == 1 && len == out.size();
    if (!ok) std::abort();
    return out;
  }

 private:
  EVP_MD* md_;
  EVP_MD_CTX* ctx_;
};

constexpr std::array<std::int8_t, 256> MakeTable() {
  std::array<std::int8_t, 256> t{};
  for (auto& v : t) v = -1;
  const char* alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  for (int i = 0; i < 64; ++i) t[static_cast<unsigned char>(alphabet[i])] = static_cast<std::int8_t>(i);
  return t;
}
constexpr std::array<std::int8_t, 256> kTable = MakeTable();

}  // namespace

Hash Sha256Parts(std::string_view a, std::string_view b, std::string_view c) {
  thread_local Ctx ctx;
  return ctx.Digest(a, b, c);
}

std::optional<std::string> DecodeBase64(std::string_view text) {
  if (text.size() % 4 != 0) return std::nullopt;
  std::size_t pad = 0;
  if (!text.empty() && text.back() == '=') pad = (text[text.size() - 2] == '=') ? 2 : 1;
  std::string out;
  std::uint32_t acc = 0;
  int bits = 0;
  for (std::size_t i = 0; i < text.size() - pad; ++i) {
    const std::int8_t v = kTable[static_cast<unsigned char>(text[i])];
    if (v < 0) return std::nullopt;
    acc = (acc << 6) | static_cast<std::uint32_t>(v);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out.push_back(static_cast<char>((acc >> bits) & 0xFF));
    }
  }
  // Leftover bits must be zero (canonical) and match the padding.
  if ((acc & ((1u << bits) - 1)) != 0) return std::nullopt;
  if ((pad == 1 && bits != 2) || (pad == 2 && bits != 4) || (pad == 0 && bits != 0)) {
    return std::nullopt;
  }
  return out;
}

bool CleanUtf8(std::string_view s, bool allow_newline, bool allow_tab) {
  std::size_t i = 0;
  while (i < s.size()) {
    const auto c = static_cast<unsigned char>(s[i]);
    if (c < 0x80) {
      if (c == 0x7F) return false;
      if (c < 0x20 && !((c == '\n' && allow_newline) || (c == '\t' && allow_tab))) return false;
      ++i;
      continue;
    }
    int n = 0;
    std::uint32_t cp = 0;
    std::uint32_t min = 0;
    if ((c & 0xE0) == 0xC0) {
      n = 1, cp = c & 0x1F, min = 0x80;
    } else if ((c & 0xF0) == 0xE0) {
      n = 2, cp = c & 0x0F, min = 0x800;
    } else if ((c & 0xF8) == 0xF0) {
      n = 3, cp = c & 0x07, min = 0x10000;
    } else {
      return false;
    }
    if (i + static_cast<std::size_t>(n) >= s.size()) return false;
    for (int k = 1; k <= n; ++k) {
      const auto cc = static_cast<unsigned char>(s[i + static_cast<std::size_t>(k)]);
      if ((cc & 0xC0) != 0x80) return false;
      cp = (cp << 6) | (cc & 0x3F);
    }
    if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return false;
    i += static_cast<std::size_t>(n) + 1;
  }
  return true;
}

}  // namespace enclave::verifier::internal
