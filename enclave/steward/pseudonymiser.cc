// HMAC-SHA256 pseudonyms with a pre-keyed EVP_MAC context, and the key file.
#include "enclave/steward/pseudonymiser.h"

#include <fcntl.h>
#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/params.h>
#include <openssl/rand.h>
#include <sys/stat.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <cstring>

#include "enclave/base/check.h"

namespace enclave::steward {

struct Pseudonymiser::Impl {
  EVP_MAC* mac = nullptr;
  EVP_MAC_CTX* keyed = nullptr;  // holds the key; never updated
  // Re-initialised for every pseudonym with EVP_MAC_init(ctx, NULL, 0, NULL), which keeps the
  // key (the HMAC pads are computed once): half the cost of duplicating `keyed` per call.
  EVP_MAC_CTX* work = nullptr;
  ~Impl() {
    EVP_MAC_CTX_free(work);
    EVP_MAC_CTX_free(keyed);
    EVP_MAC_free(mac);
  }
};

Pseudonymiser::Pseudonymiser(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Pseudonymiser::~Pseudonymiser() = default;

absl::StatusOr<std::unique_ptr<Pseudonymiser>> Pseudonymiser::FromKey(std::string_view key) {
  if (key.empty()) return absl::InvalidArgumentError("pseudonymisation key is empty");
  auto impl = std::make_unique<Impl>();
  impl->mac = EVP_MAC_fetch(nullptr, "HMAC", nullptr);
  if (impl->mac == nullptr) return absl::InternalError("HMAC unavailable");
  impl->keyed = EVP_MAC_CTX_new(impl->mac);
  if (impl->keyed == nullptr) return absl::InternalError("HMAC context allocation failed");
  char digest_name[] = "SHA256";
  OSSL_PARAM params[] = {
      OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, digest_name, 0),
      OSSL_PARAM_construct_end()};
  if (EVP_MAC_init(impl->keyed, reinterpret_cast<const unsigned char*>(key.data()), key.size(),
                   params) != 1) {
    return absl::InternalError("HMAC key setup failed");
  }
  impl->work = EVP_MAC_CTX_dup(impl->keyed);
  if (impl->work == nullptr) return absl::InternalError("HMAC context allocation failed");
  return std::unique_ptr<Pseudonymiser>(new Pseudonymiser(std::move(impl)));
}

void Pseudonymiser::Pseudonym(std::string_view bsn, std::string* out) const {
  EVP_MAC_CTX* ctx = impl_->work;
  std::array<unsigned char, EVP_MAX_MD_SIZE> mac{};
  std::size_t len = 0;
  const bool ok =
      EVP_MAC_init(ctx, nullptr, 0, nullptr) == 1 &&
      EVP_MAC_update(ctx, reinterpret_cast<const unsigned char*>(bsn.data()), bsn.size()) == 1 &&
      EVP_MAC_final(ctx, mac.data(), &len, mac.size()) == 1 && len == 32;
  ENCLAVE_CHECK(ok);
  static constexpr char kHex[] = "0123456789abcdef";
  out->resize(32);
  for (std::size_t i = 0; i < 16; ++i) {
    (*out)[2 * i] = kHex[mac[i] >> 4];
    (*out)[2 * i + 1] = kHex[mac[i] & 0x0f];
  }
  OPENSSL_cleanse(mac.data(), mac.size());
}

std::unique_ptr<Pseudonymiser> Pseudonymiser::Clone() const {
  auto impl = std::make_unique<Impl>();
  ENCLAVE_CHECK(EVP_MAC_up_ref(impl_->mac) == 1);
  impl->mac = impl_->mac;
  impl->keyed = EVP_MAC_CTX_dup(impl_->keyed);
  ENCLAVE_CHECK(impl->keyed != nullptr);
  impl->work = EVP_MAC_CTX_dup(impl_->keyed);
  ENCLAVE_CHECK(impl->work != nullptr);
  return std::unique_ptr<Pseudonymiser>(new Pseudonymiser(std::move(impl)));
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

}  // namespace enclave::steward
