// Writing enclavectl's output to a file without ever leaving a half-written one behind.
#pragma once

#include <string>
#include <string_view>

#include "absl/status/status.h"

namespace enclave::client::cli {

// Writes `contents` to a temporary file next to `path`, flushes it to disk and renames it over
// `path`. On failure `path` is untouched and the temporary file removed. The file gets mode
// 0666 minus the umask. kInvalidArgument naming the path and the system error otherwise.
[[nodiscard]] absl::Status WriteFileAtomically(const std::string& path, std::string_view contents);

}  // namespace enclave::client::cli
