// Helpers private to the verifier library (not shared with enclave/audit on purpose).
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "client/verifier/verifier.h"

namespace enclave::verifier::internal {

// SHA-256 over the concatenation of up to three parts (OpenSSL EVP, digest fetched once,
// one context per thread).
Hash Sha256Parts(std::string_view a, std::string_view b = {}, std::string_view c = {});

// Strict RFC 4648 base64: canonical padded encoding only.
std::optional<std::string> DecodeBase64(std::string_view text);

// True if `s` is valid UTF-8 and has no control character except (if allowed) newline/tab.
bool CleanUtf8(std::string_view s, bool allow_newline, bool allow_tab);

}  // namespace enclave::verifier::internal
