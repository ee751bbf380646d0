// Pseudonyms on the one KeyedHmacSha256, and the key file.
#include "enclave/crypto/pseudonymiser.h"

#include <fcntl.h>
#include <openssl/crypto.h>
#include <openssl/rand.h>
#include <sys/stat.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <cstring>

#include "enclave/base/hex.h"

namespace enclave::crypto {

Pseudonymiser::Pseudonymiser(std::unique_ptr<KeyedHmacSha256> mac) : mac_(std::move(mac)) {}
Pseudonymiser::~Pseudonymiser() = default;

absl::StatusOr<std::unique_ptr<Pseudonymiser>> Pseudonymiser::FromKey(std::string_view key) {
  if (key.empty()) return absl::InvalidArgumentError("pseudonymisation key is empty");
  return std::unique_ptr<Pseudonymiser>(new Pseudonymiser(std::make_unique<KeyedHmacSha256>(
      std::span(reinterpret_cast<const std::uint8_t*>(key.data()), key.size()))));
}

void Pseudonymiser::Pseudonym(std::string_view bsn, std::string* out) const {
  std::array<std::uint8_t, 32> mac = mac_->MacReusing(bsn);
  out->resize(32);
  base::HexInto(std::span(mac).first(16), out->data());
  OPENSSL_cleanse(mac.data(), mac.size());
}

std::unique_ptr<Pseudonymiser> Pseudonymiser::Clone() const {
  return std::unique_ptr<Pseudonymiser>(new Pseudonymiser(mac_->Clone()));
}

std::string Pseudonymiser::Pseudonym(std::string_view bsn) const {
  std::string out;
  Pseudonym(bsn, &out);
  return out;
}

absl::StatusOr<std::unique_ptr<Pseudonymiser>> Pseudonymiser::FromKeyFile(const std::string& path) {
  const std::string who = "pseudonymisation key " + path + ": ";
  const int fd = ::open(path.c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
  if (fd < 0) {
    const int err = errno;
    if (err == ENOENT) return absl::NotFoundError(who + "does not exist");
    if (err == ELOOP) return absl::FailedPreconditionError(who + "is a symbolic link");
    return absl::UnavailableError(who + "cannot be opened: " + std::strerror(err));
  }
  struct Closer {
    int fd;
    ~Closer() { ::close(fd); }
  } closer{fd};
  struct stat st {};
  if (::fstat(fd, &st) != 0) return absl::UnavailableError(who + "cannot be examined");
  if (!S_ISREG(st.st_mode)) return absl::FailedPreconditionError(who + "is not a regular file");
  if ((st.st_mode & 077) != 0) {
    return absl::FailedPreconditionError(
        who + "is readable or writable by group or others (allowed: mode 0600 or 0400)");
  }
  if (st.st_uid != ::geteuid()) {
    return absl::FailedPreconditionError(who + "is owned by another user");
  }
  if (st.st_size != static_cast<off_t>(kKeySize)) {
    return absl::FailedPreconditionError(who + "must hold exactly 32 bytes");
  }
  std::array<char, kKeySize + 1> buf{};
  std::size_t got = 0;
  while (got < buf.size()) {
    const ssize_t n = ::read(fd, buf.data() + got, buf.size() - got);
    if (n < 0) {
      if (errno == EINTR) continue;
      OPENSSL_cleanse(buf.data(), buf.size());
      return absl::UnavailableError(who + "cannot be read");
    }
    if (n == 0) break;
    got += static_cast<std::size_t>(n);
  }
  if (got != kKeySize) {
    OPENSSL_cleanse(buf.data(), buf.size());
    return absl::FailedPreconditionError(who + "must hold exactly 32 bytes");
  }
  absl::StatusOr<std::unique_ptr<Pseudonymiser>> result =
      FromKey(std::string_view(buf.data(), kKeySize));
  OPENSSL_cleanse(buf.data(), buf.size());
  return result;
}

absl::Status CreateKeyFile(const std::string& path) {
  std::array<unsigned char, Pseudonymiser::kKeySize> key{};
  if (RAND_priv_bytes(key.data(), static_cast<int>(key.size())) != 1) {
    return absl::InternalError("random source failed; no key created");
  }
  const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
  if (fd < 0) {
    const int err = errno;
    OPENSSL_cleanse(key.data(), key.size());
    if (err == EEXIST) {
      return absl::AlreadyExistsError("key file " + path +
                                      " exists; a key is never overwritten (it would break linkage)");
    }
    return absl::UnavailableError("cannot create key file " + path + ": " + std::strerror(err));
  }
  const bool ok = ::write(fd, key.data(), key.size()) == static_cast<ssize_t>(key.size()) &&
                  ::fsync(fd) == 0;
  OPENSSL_cleanse(key.data(), key.size());
  ::close(fd);
  if (!ok) {
    ::unlink(path.c_str());
    return absl::UnavailableError("cannot write key file " + path);
  }
  return absl::OkStatus();
}

}  // namespace enclave::crypto
