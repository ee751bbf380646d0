// What `enclavectl serve` knows about its session: the per-session token and the user's identity
// as the certificate names it (the enclave decides the role; /api/session only shows it).
#pragma once

#include <string>
#include <string_view>

#include "absl/status/statusor.h"

namespace enclave::web {

// 32 bytes from the operating system's CSPRNG (getrandom), as 64 lowercase hex digits.
// kInternal if the OS cannot supply them (fail closed: no server without a token).
absl::StatusOr<std::string> NewSessionToken();

// a == b in time that depends only on the lengths.
bool ConstantTimeEquals(std::string_view a, std::string_view b);

// The first URI subjectAltName of the PEM certificate in `cert_file` ("" if it has none).
// kInvalidArgument naming the file if it cannot be read or parsed.
absl::StatusOr<std::string> CertificateUri(const std::string& cert_file);

// The role in a SPIFFE-style URI: the first path segment after the trust domain
// ("spiffe://udc-lv.local/municipal_analyst/analyst1" -> "municipal_analyst"); "" if none.
std::string RoleOfUri(std::string_view uri);

}  // namespace enclave::web
