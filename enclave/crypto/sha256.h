// Digests for the enclave (OpenSSL behind the header; callers see no OpenSSL types).
#pragma once

#include <string>
#include <string_view>

namespace enclave::crypto {

// SHA-256 of `data` as 64 lower-case hex characters. Aborts (fail closed) if OpenSSL fails.
std::string Sha256Hex(std::string_view data);

}  // namespace enclave::crypto
