#include "enclave/base/file.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <vector>

namespace enclave::base {
namespace {

absl::Status Unavailable(std::string_view step, const std::string& file, int error) {
  return absl::UnavailableError(std::string(step) + " " + file + ": " + std::strerror(error));
}

std::string DirectoryOf(const std::string& path) {
  const std::string dir = std::filesystem::path(path).parent_path().string();
  return dir.empty() ? "." : dir;
}

}  // namespace

mode_t DefaultFileMode() {
  const mode_t mask = ::umask(0);
  ::umask(mask);
  return static_cast<mode_t>(0666) & ~mask;
}

absl::Status WriteAll(int fd, std::string_view data, std::string_view what) {
  while (!data.empty()) {
    const ssize_t n = ::write(fd, data.data(), data.size());
    if (n < 0) {
      if (errno == EINTR) continue;
      return Unavailable("cannot write", std::string(what), errno);
    }
    data.remove_prefix(static_cast<std::size_t>(n));
  }
  return absl::OkStatus();
}

absl::Status FsyncDirectory(const std::string& dir) {
  const int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return Unavailable("cannot open", dir, errno);
  const int rc = ::fsync(fd);
  const int error = errno;
  ::close(fd);
  if (rc != 0) return Unavailable("cannot fsync", dir, error);
  return absl::OkStatus();
}

absl::Status ReplaceFile(const std::string& from, const std::string& to) {
  if (::rename(from.c_str(), to.c_str()) != 0) {
    const int error = errno;
    ::unlink(from.c_str());
    return absl::UnavailableError("cannot rename " + from + " to " + to + ": " +
                                  std::strerror(error));
  }
  return FsyncDirectory(DirectoryOf(to));
}

absl::Status WriteFileAtomically(const std::string& path, std::string_view content, mode_t mode) {
  const std::string pattern = path + ".tmp.XXXXXX";
  std::vector<char> name(pattern.begin(), pattern.end());
  name.push_back('\0');
  const int fd = ::mkostemp(name.data(), O_CLOEXEC);
  if (fd < 0) return Unavailable("cannot create a temporary file for", path, errno);
  const std::string temp(name.data());
  absl::Status s = ::fchmod(fd, mode) == 0 ? WriteAll(fd, content, temp)
                                          : Unavailable("cannot set the mode of", temp, errno);
  if (s.ok() && ::fsync(fd) != 0) s = Unavailable("cannot fsync", temp, errno);
  if (::close(fd) != 0 && s.ok()) s = Unavailable("cannot write", temp, errno);
  if (!s.ok()) {
    ::unlink(temp.c_str());
    return s;
  }
  return ReplaceFile(temp, path);
}

}  // namespace enclave::base
