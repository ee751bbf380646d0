// Lower-case hexadecimal, the one encoder of the code base (digests, pseudonyms, ids, key ids).
//
//   std::string id = base::Hex(digest);                   // "9f86d081..."
//   base::HexInto(std::span(mac).first(16), out.data());  // no allocation (the pseudonym path)
//
// Encoding is absl::BytesToHexString where an allocation per call does not matter; this one also
// writes into a caller's buffer. Decoding checks its input (absl::HexStringToBytes of Debian's
// Abseil does not).
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>

namespace enclave::base {

// Writes 2 * bytes.size() lower-case hex digits to out[0 ..). REQUIRES: `out` has room.
void HexInto(std::span<const std::uint8_t> bytes, char* out);

// 2 * size lower-case hex digits.
std::string Hex(std::span<const std::uint8_t> bytes);
std::string Hex(std::string_view bytes);
// 16 lower-case hex digits of `v`, most significant first ("00000000000000ff").
std::string Hex64(std::uint64_t v);

// The bytes of `text`; nullopt unless it is an even number of lower-case hex digits.
std::optional<std::string> HexDecodeStrict(std::string_view text);

}  // namespace enclave::base
