// Atomic output files: base::WriteFileAtomically under enclavectl's --output wording.
#include "client/cli/output.h"

#include <filesystem>

#include "enclave/base/file.h"

namespace enclave::client::cli {

absl::Status WriteFileAtomically(const std::string& path, std::string_view contents) {
  if (path.empty()) return absl::InvalidArgumentError("--output: empty file name");
  std::error_code ec;
  if (std::filesystem::is_directory(path, ec)) {
    return absl::InvalidArgumentError("--output: '" + path + "' is a directory");
  }
  const absl::Status s = base::WriteFileAtomically(path, contents, base::DefaultFileMode());
  if (!s.ok()) return absl::InvalidArgumentError("--output: " + std::string(s.message()));
  return absl::OkStatus();
}

}  // namespace enclave::client::cli
