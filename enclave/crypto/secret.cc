#include "enclave/crypto/secret.h"

#include <fcntl.h>
#include <openssl/crypto.h>
#include <openssl/rand.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <climits>
#include <cstring>
#include <string_view>
#include <utility>

#include "absl/status/status.h"
#include "enclave/base/check.h"
#include "enclave/base/status_macros.h"
#include "enclave/crypto/secret_file.h"

namespace enclave::crypto {
namespace {

constexpr char kWhat[] = "record-key secret";

// Closes a descriptor on scope exit.
class Fd {
 public:
  explicit Fd(int fd) : fd_(fd) {}
  ~Fd() {
    if (fd_ >= 0) ::close(fd_);
  }
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  int get() const { return fd_; }
  int Release() { return std::exchange(fd_, -1); }

 private:
  int fd_;
};

absl::Status Unavailable(const std::string& path, std::string_view what, int err) {
  return absl::UnavailableError("record-key secret " + path + ": " + std::string(what) + " (" +
                                std::strerror(err) + ")");
}

std::string DirOf(const std::string& path) {
  const std::size_t slash = path.rfind('/');
  if (slash == std::string::npos) return ".";
  if (slash == 0) return "/";
  return path.substr(0, slash);
}

bool WriteAll(int fd, std::span<const std::uint8_t> data) {
  std::size_t done = 0;
  while (done < data.size()) {
    const ssize_t n = ::write(fd, data.data() + done, data.size() - done);
    if (n < 0) {
      if (errno == EINTR) continue;
      return false;
    }
    done += static_cast<std::size_t>(n);
  }
  return true;
}

absl::StatusOr<Secret> LoadExisting(const std::string& path, int fd) {
  struct stat st {};
  if (::fstat(fd, &st) != 0) return Unavailable(path, "cannot stat", errno);
  // The same rules as every secret file (secret_file.h): regular, 0600 or narrower, ours.
  ENCLAVE_RETURN_IF_ERROR(
      CheckPrivateFileStat(kWhat, path, st, IsSystemdCredential(path)));
  if (st.st_size != static_cast<off_t>(Secret::kSize)) {
    return absl::FailedPreconditionError("record-key secret " + path + " has " +
                                         std::to_string(st.st_size) + " bytes; allowed: exactly " +
                                         std::to_string(Secret::kSize));
  }
  std::array<std::uint8_t, Secret::kSize> buf{};
  std::size_t got = 0;
  while (got < buf.size()) {
    const ssize_t n = ::read(fd, buf.data() + got, buf.size() - got);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      OPENSSL_cleanse(buf.data(), buf.size());
      return Unavailable(path, "cannot read", errno);
    }
    if (n == 0) break;
    got += static_cast<std::size_t>(n);
  }
  if (got != buf.size()) {
    OPENSSL_cleanse(buf.data(), buf.size());
    return absl::FailedPreconditionError("record-key secret " + path +
                                         " changed size while being read");
  }
  Secret secret(buf);
  OPENSSL_cleanse(buf.data(), buf.size());
  return secret;
}

absl::StatusOr<Secret> Create(const std::string& path, const RandomSource& random) {
  std::array<std::uint8_t, Secret::kSize> buf{};
  if (!random || !random(buf)) {
    OPENSSL_cleanse(buf.data(), buf.size());
    return absl::InternalError("record-key secret " + path +
                               ": the random source failed; no secret was created");
  }
  Secret secret(buf);
  OPENSSL_cleanse(buf.data(), buf.size());

  const std::string dir = DirOf(path);
  std::string tmp = path + ".tmp-XXXXXX";
  // mkstemp creates with mode 0600 and O_EXCL.
  Fd fd(::mkostemp(tmp.data(), O_CLOEXEC));
  if (fd.get() < 0) return Unavailable(path, "cannot create a temporary file", errno);
  auto fail = [&](std::string_view what, int err) {
    ::unlink(tmp.c_str());
    return Unavailable(path, what, err);
  };
  if (::fchmod(fd.get(), S_IRUSR | S_IWUSR) != 0) return fail("cannot set mode 0600", errno);
  if (!WriteAll(fd.get(), secret.bytes())) return fail("cannot write", errno);
  if (::fsync(fd.get()) != 0) return fail("cannot fsync", errno);
  if (::close(fd.Release()) != 0) return fail("cannot close", errno);
  // link() fails with EEXIST instead of replacing: never overwrite a secret someone else created.
  if (::link(tmp.c_str(), path.c_str()) != 0) {
    const int err = errno;
    ::unlink(tmp.c_str());
    if (err != EEXIST) return Unavailable(path, "cannot link into place", err);
    Fd existing(::open(path.c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC));
    if (existing.get() < 0) return Unavailable(path, "cannot open", errno);
    return LoadExisting(path, existing.get());
  }
  ::unlink(tmp.c_str());
  Fd dirfd(::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (dirfd.get() < 0 || ::fsync(dirfd.get()) != 0) {
    return Unavailable(path, "cannot fsync the directory", errno);
  }
  return secret;
}

}  // namespace

Secret::Secret(std::span<const std::uint8_t> bytes) {
  ENCLAVE_CHECK(bytes.size() == kSize);
  std::memcpy(bytes_.data(), bytes.data(), kSize);
}

Secret::~Secret() { OPENSSL_cleanse(bytes_.data(), bytes_.size()); }

Secret::Secret(Secret&& other) noexcept : bytes_(other.bytes_) {
  OPENSSL_cleanse(other.bytes_.data(), other.bytes_.size());
}

Secret& Secret::operator=(Secret&& other) noexcept {
  if (this != &other) {
    bytes_ = other.bytes_;
    OPENSSL_cleanse(other.bytes_.data(), other.bytes_.size());
  }
  return *this;
}

bool SystemRandom(std::span<std::uint8_t> out) {
  if (out.size() > static_cast<std::size_t>(INT_MAX)) return false;
  return RAND_priv_bytes(out.data(), static_cast<int>(out.size())) == 1;
}

absl::StatusOr<Secret> LoadOrCreateSecret(const std::string& path, const RandomSource& random) {
  Fd fd(::open(path.c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC));
  if (fd.get() >= 0) return LoadExisting(path, fd.get());
  if (errno == ELOOP) {
    return absl::FailedPreconditionError("record-key secret " + path +
                                         " is a symbolic link; allowed: a regular file");
  }
  if (errno != ENOENT) return Unavailable(path, "cannot open", errno);
  return Create(path, random);
}

}  // namespace enclave::crypto
