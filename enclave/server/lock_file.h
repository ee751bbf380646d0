// The state directory's lock file: exactly one enclaved per state directory (security.md §2.5).
#pragma once

#include <string>

#include "absl/status/statusor.h"

namespace enclave::server {

// Holds an exclusive flock(2) on a file until destroyed. Move-only.
class LockFile {
 public:
  // Creates `path` (mode 0600) if needed and takes LOCK_EX|LOCK_NB. kFailedPrecondition
  // "another enclaved holds PATH" when it is held (by this or another process: flock locks belong
  // to the open file description); kUnavailable when the file cannot be opened.
  static absl::StatusOr<LockFile> Acquire(const std::string& path);

  LockFile(LockFile&& other) noexcept;
  LockFile& operator=(LockFile&& other) noexcept;
  LockFile(const LockFile&) = delete;
  LockFile& operator=(const LockFile&) = delete;
  ~LockFile();

 private:
  explicit LockFile(int fd) : fd_(fd) {}
  int fd_ = -1;
};

}  // namespace enclave::server
