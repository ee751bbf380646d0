#include "enclave/crypto/secret_file.h"

#include <fcntl.h>
#include <openssl/crypto.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>

namespace enclave::crypto {
namespace {

std::string Named(std::string_view what, const std::string& path) {
  return std::string(what) + " " + path;
}

}  // namespace

std::string ModeText(mode_t mode) {
  char buf[8];
  std::snprintf(buf, sizeof buf, "%04o", static_cast<unsigned>(mode & 07777));
  return buf;
}

bool IsSystemdCredential(const std::string& path) {
  const char* credentials = std::getenv("CREDENTIALS_DIRECTORY");
  if (credentials == nullptr || credentials[0] == '\0') return false;
  return std::filesystem::path(path).parent_path().lexically_normal() ==
         std::filesystem::path(credentials).lexically_normal();
}

absl::Status CheckPrivateFileStat(std::string_view what, const std::string& path,
                                  const struct stat& st, bool systemd_credential) {
  if (S_ISLNK(st.st_mode)) {
    return absl::FailedPreconditionError(Named(what, path) +
                                         " is a symbolic link; allowed: a regular file");
  }
  if (!S_ISREG(st.st_mode)) {
    return absl::FailedPreconditionError(
        Named(what, path) +
        " is not a regular file; allowed: a regular file (not a directory, device or symbolic "
        "link)");
  }
  if (systemd_credential) return absl::OkStatus();
  if ((st.st_mode & 077) != 0) {
    return absl::FailedPreconditionError(
        Named(what, path) + " has mode " + ModeText(st.st_mode) +
        "; allowed: 0600 or narrower, readable by its owner only (chmod 600 " + path + ")");
  }
  if (st.st_uid != ::geteuid()) {
    return absl::FailedPreconditionError(
        Named(what, path) + " is owned by uid " + std::to_string(st.st_uid) +
        "; allowed: the user the server runs as (uid " + std::to_string(::geteuid()) + ")");
  }
  return absl::OkStatus();
}

absl::Status CheckPrivateDirStat(std::string_view what, const std::string& path,
                                 const struct stat& st) {
  if (!S_ISDIR(st.st_mode)) {
    return absl::FailedPreconditionError(Named(what, path) +
                                         " is not a directory; allowed: a directory");
  }
  if ((st.st_mode & 077) != 0) {
    return absl::FailedPreconditionError(
        Named(what, path) + " has mode " + ModeText(st.st_mode) +
        "; allowed: 0700 or narrower, usable by its owner only (chmod 700 " + path + ")");
  }
  if (st.st_uid != ::geteuid()) {
    return absl::FailedPreconditionError(
        Named(what, path) + " is owned by uid " + std::to_string(st.st_uid) +
        "; allowed: the user the server runs as (uid " + std::to_string(::geteuid()) + ")");
  }
  return absl::OkStatus();
}

absl::StatusOr<std::string> ReadSecretFile(std::string_view what, const std::string& path,
                                           std::size_t max_bytes) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NOCTTY);
  if (fd < 0) {
    const int err = errno;
    if (err == ENOENT) {
      return absl::NotFoundError(std::string(what) + ": cannot read " + path + ": " +
                                 std::strerror(err));
    }
    if (err == ELOOP) {
      return absl::FailedPreconditionError(Named(what, path) +
                                           " is a symbolic link; allowed: a regular file");
    }
    return absl::UnavailableError(std::string(what) + ": cannot read " + path + ": " +
                                  std::strerror(err));
  }
  struct stat st {};
  if (::fstat(fd, &st) != 0) {
    const int err = errno;
    ::close(fd);
    return absl::UnavailableError(std::string(what) + ": cannot stat " + path + ": " +
                                  std::strerror(err));
  }
  if (absl::Status s = CheckPrivateFileStat(what, path, st, IsSystemdCredential(path)); !s.ok()) {
    ::close(fd);
    return s;
  }
  std::string out;
  char buf[4096];
  for (;;) {
    const ssize_t n = ::read(fd, buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      const int err = errno;
      ::close(fd);
      OPENSSL_cleanse(buf, sizeof buf);
      OPENSSL_cleanse(out.data(), out.size());
      return absl::UnavailableError(std::string(what) + ": cannot read " + path + ": " +
                                    std::strerror(err));
    }
    if (n == 0) break;
    if (out.size() + static_cast<std::size_t>(n) > max_bytes) {
      ::close(fd);
      OPENSSL_cleanse(buf, sizeof buf);
      OPENSSL_cleanse(out.data(), out.size());
      return absl::FailedPreconditionError(Named(what, path) + " is larger than " +
                                           std::to_string(max_bytes) + " bytes");
    }
    out.append(buf, static_cast<std::size_t>(n));
  }
  ::close(fd);
  OPENSSL_cleanse(buf, sizeof buf);
  return out;
}

}  // namespace enclave::crypto
