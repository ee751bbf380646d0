// Writing enclavectl's output to a file without ever leaving a half-written one behind.
#pragma once

#include <string>
#include <string_view>

#include "absl/status/status.h"

namespace enclave::client::cli {

// base::WriteFileAtomically (enclave/base/file.h): a temporary file next to `path`, flushed to
// disk, renamed over `path`, the directory flushed. On failure `path` is untouched and the
// temporary file removed. The file gets mode 0666 minus the umask. kInvalidArgument
// "--output: ..." naming the path and the system error otherwise.
[[nodiscard]] absl::Status WriteFileAtomically(const std::string& path, std::string_view contents);

}  // namespace enclave::client::cli
