// Atomic output files: temp file in the same folder, fsync, rename.
#include "client/cli/output.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <vector>

namespace enclave::client::cli {
namespace {

absl::Status Failure(const std::string& path, std::string_view what, int error) {
  return absl::InvalidArgumentError("--output: cannot " + std::string(what) + " '" + path +
                                    "': " + std::strerror(error));
}

}  // namespace

absl::Status WriteFileAtomically(const std::string& path, std::string_view contents) {
  if (path.empty()) return absl::InvalidArgumentError("--output: empty file name");
  std::error_code ec;
  if (std::filesystem::is_directory(path, ec)) {
    return absl::InvalidArgumentError("--output: '" + path + "' is a directory");
  }
  std::string pattern = path + ".tmp.XXXXXX";
  std::vector<char> name(pattern.begin(), pattern.end());
  name.push_back('\0');
  const int fd = ::mkstemp(name.data());
  if (fd < 0) return Failure(path, "create a temporary file for", errno);
  const std::string temp(name.data());

  const auto fail = [&](std::string_view what, int error) {
    ::close(fd);
    ::unlink(temp.c_str());
    return Failure(path, what, error);
  };

  const mode_t mask = ::umask(0);
  ::umask(mask);
  if (::fchmod(fd, static_cast<mode_t>(0666) & ~mask) != 0) return fail("set the mode of", errno);

  std::size_t written = 0;
  while (written < contents.size()) {
    const ssize_t n = ::write(fd, contents.data() + written, contents.size() - written);
    if (n < 0) {
      if (errno == EINTR) continue;
      return fail("write", errno);
    }
    written += static_cast<std::size_t>(n);
  }
  if (::fsync(fd) != 0) return fail("flush", errno);
  if (::close(fd) != 0) {
    const int error = errno;
    ::unlink(temp.c_str());
    return Failure(path, "write", error);
  }
  if (::rename(temp.c_str(), path.c_str()) != 0) {
    const int error = errno;
    ::unlink(temp.c_str());
    return Failure(path, "replace", error);
  }
  return absl::OkStatus();
}

}  // namespace enclave::client::cli
