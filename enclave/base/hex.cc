#include "enclave/base/hex.h"

#include <array>

namespace enclave::base {
namespace {

int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  return -1;
}

}  // namespace

void HexInto(std::span<const std::uint8_t> bytes, char* out) {
  static constexpr char kHex[] = "0123456789abcdef";
  for (const std::uint8_t b : bytes) {
    *out++ = kHex[b >> 4];
    *out++ = kHex[b & 0x0f];
  }
}

std::string Hex(std::span<const std::uint8_t> bytes) {
  std::string out(2 * bytes.size(), '\0');
  HexInto(bytes, out.data());
  return out;
}

std::string Hex(std::string_view bytes) {
  return Hex(std::span(reinterpret_cast<const std::uint8_t*>(bytes.data()), bytes.size()));
}

std::string Hex64(std::uint64_t v) {
  std::array<std::uint8_t, 8> bytes{};
  for (std::size_t i = 0; i < bytes.size(); ++i) {
    bytes[i] = static_cast<std::uint8_t>(v >> (56 - 8 * i));
  }
  return Hex(bytes);
}

std::optional<std::string> HexDecodeStrict(std::string_view text) {
  if (text.size() % 2 != 0) return std::nullopt;
  std::string out;
  out.reserve(text.size() / 2);
  for (std::size_t i = 0; i < text.size(); i += 2) {
    const int hi = HexValue(text[i]);
    const int lo = HexValue(text[i + 1]);
    if (hi < 0 || lo < 0) return std::nullopt;
    out.push_back(static_cast<char>((hi << 4) | lo));
  }
  return out;
}

}  // namespace enclave::base
