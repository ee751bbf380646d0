// The one hex encoder and decoder (enclave/base/hex.h).
#include "enclave/base/hex.h"

#include <doctest/doctest.h>

#include <array>
#include <cstdint>
#include <string>

namespace enclave::base {
namespace {

TEST_CASE("bytes become two lower-case hex digits each, and decode back") {
  const std::string all = [] {
    std::string s;
    for (int i = 0; i < 256; ++i) s.push_back(static_cast<char>(i));
    return s;
  }();
  const std::string hex = Hex(all);
  CHECK(hex.size() == 512);
  CHECK(hex.substr(0, 8) == "00010203");
  CHECK(hex.substr(504) == "fcfdfeff");
  CHECK(HexDecodeStrict(hex) == all);
  const std::array<std::uint8_t, 3> bytes = {0xde, 0xad, 0x01};
  CHECK(Hex(bytes) == "dead01");
  char buf[4];
  HexInto(std::span(bytes).first(2), buf);
  CHECK(std::string(buf, 4) == "dead");
  CHECK(Hex64(0xff) == "00000000000000ff");
  CHECK(Hex64(0x0123456789abcdefULL) == "0123456789abcdef");
}

TEST_CASE("decoding refuses odd lengths, upper case and non-hex characters") {
  CHECK(HexDecodeStrict("") == std::string());
  CHECK_FALSE(HexDecodeStrict("abc").has_value());
  CHECK_FALSE(HexDecodeStrict("AB").has_value());
  CHECK_FALSE(HexDecodeStrict("0g").has_value());
  CHECK(HexDecodeStrict("0a") == std::string("\n"));  // negative control
}

}  // namespace
}  // namespace enclave::base
