// Strict base64 (RFC 4648 §4, padded) and lower-case hex for the audit log's text formats.
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>

namespace enclave::audit {

std::string Base64Encode(std::string_view bytes);
// nullopt unless `text` is the canonical padded encoding of some bytes (so that re-encoding
// reproduces `text` exactly): alphabet A-Z a-z 0-9 + /, length a multiple of 4, '=' only as final
// padding, unused bits zero.
std::optional<std::string> Base64DecodeStrict(std::string_view text);

// Length of the valid UTF-8 sequence starting at s[i] (1-4), or 0 if invalid (RFC 3629: no
// overlong forms, no surrogates, nothing above U+10FFFF). REQUIRES: i < s.size().
std::size_t Utf8SequenceLength(std::string_view s, std::size_t i);
// The code point of the valid sequence of length `len` at s[i].
char32_t Utf8Decode(std::string_view s, std::size_t i, std::size_t len);

}  // namespace enclave::audit
