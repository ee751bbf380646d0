// Caller identity from the AuthContext's "peer_uri" property only (security.md §2.1).
#include "enclave/rpc/caller.h"

#include <grpcpp/security/auth_context.h>
#include <openssl/asn1.h>
#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <ctime>
#include <memory>

#include <mutex>

#include "absl/status/status.h"
#include "enclave/base/hex.h"
#include "enclave/base/log.h"

namespace enclave::rpc {
namespace {

constexpr char kExactlyOneUri[] = "the client certificate must carry exactly one URI SAN";

std::mutex& RevocationsMu() {
  static std::mutex mu;
  return mu;
}
std::shared_ptr<policy::RevocationSource>& Revocations() {
  static auto* source = new std::shared_ptr<policy::RevocationSource>();
  return *source;
}

}  // namespace

void SetProcessRevocations(std::shared_ptr<policy::RevocationSource> revocations) {
  std::lock_guard<std::mutex> lock(RevocationsMu());
  Revocations() = std::move(revocations);
}

absl::Status CheckProcessRevocations(const policy::CallerIdentity& caller) {
  std::shared_ptr<policy::RevocationSource> source;
  {
    std::lock_guard<std::mutex> lock(RevocationsMu());
    source = Revocations();
  }
  if (source == nullptr) return absl::OkStatus();
  absl::StatusOr<std::shared_ptr<const policy::RevocationList>> list = source->Current();
  if (!list.ok() || *list == nullptr) {
    base::LogError("revocation_list_unreadable", {{"code", list.status().code()}});
    return absl::PermissionDeniedError(
        "the enclave cannot read its revocation list and refuses every call until it is fixed; "
        "try again later");
  }
  return (*list)->Check(caller);
}

absl::StatusOr<std::string> CallerFromPeerUris(const std::vector<std::string_view>& peer_uris) {
  if (peer_uris.empty()) return absl::UnauthenticatedError(kExactlyOneUri);
  if (peer_uris.size() > 1) return absl::PermissionDeniedError(kExactlyOneUri);
  if (peer_uris.front().empty()) return absl::UnauthenticatedError(kExactlyOneUri);
  return std::string(peer_uris.front());
}

absl::StatusOr<policy::CallerIdentity> CertificateFacts(std::string_view pem) {
  constexpr char kBad[] = "the client certificate could not be read";
  if (pem.empty() || pem.size() > 64 * 1024) return absl::UnauthenticatedError(kBad);
  std::unique_ptr<BIO, decltype(&BIO_free)> bio(
      BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())), &BIO_free);
  if (bio == nullptr) return absl::InternalError("out of memory reading the client certificate");
  std::unique_ptr<X509, decltype(&X509_free)> cert(
      PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr), &X509_free);
  if (cert == nullptr) return absl::UnauthenticatedError(kBad);

  policy::CallerIdentity id;
  unsigned char* der = nullptr;
  const int der_len = i2d_X509(cert.get(), &der);
  if (der_len <= 0 || der == nullptr) return absl::UnauthenticatedError(kBad);
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int digest_len = 0;
  const int hashed = EVP_Digest(der, static_cast<std::size_t>(der_len), digest, &digest_len,
                                EVP_sha256(), nullptr);
  OPENSSL_free(der);
  if (hashed != 1) return absl::InternalError("cannot hash the client certificate");
  id.cert_sha256 = base::Hex(std::span<const std::uint8_t>(digest, digest_len));

  const ASN1_INTEGER* serial = X509_get0_serialNumber(cert.get());
  std::unique_ptr<BIGNUM, decltype(&BN_free)> bn(ASN1_INTEGER_to_BN(serial, nullptr), &BN_free);
  if (bn == nullptr) return absl::UnauthenticatedError(kBad);
  char* hex = BN_bn2hex(bn.get());
  if (hex == nullptr) return absl::InternalError("out of memory reading the certificate serial");
  id.serial_hex = policy::NormalizeSerial(hex);
  OPENSSL_free(hex);

  std::tm tm{};
  if (ASN1_TIME_to_tm(X509_get0_notAfter(cert.get()), &tm) != 1) {
    return absl::UnauthenticatedError(kBad);
  }
  const absl::CivilSecond not_after(tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour,
                                    tm.tm_min, tm.tm_sec);
  id.not_after = absl::FromCivil(not_after, absl::UTCTimeZone());

  // extendedKeyUsage: OpenSSL's handshake rejects a client certificate whose EKU lacks clientAuth
  // but accepts one with no EKU at all; the policy requires clientAuth explicitly (security.md
  // §2.1), so record whether it is there (policy::CheckClientCertificateUsage refuses otherwise).
  const std::uint32_t flags = X509_get_extension_flags(cert.get());
  id.client_auth = (flags & EXFLAG_XKUSAGE) != 0 &&
                   (X509_get_extended_key_usage(cert.get()) & XKU_SSL_CLIENT) != 0;
  return id;
}

absl::StatusOr<policy::CallerIdentity> CallerIdentityFromAuthContext(
    const grpc::AuthContext* context) {
  absl::StatusOr<std::string> uri = CallerFromAuthContext(context);
  if (!uri.ok()) return uri.status();
  std::vector<grpc::string_ref> pems = context->FindPropertyValues(kPeerPemCertProperty);
  if (pems.size() != 1) {
    return absl::UnauthenticatedError("the call did not present exactly one client certificate");
  }
  absl::StatusOr<policy::CallerIdentity> id =
      CertificateFacts(std::string_view(pems.front().data(), pems.front().size()));
  if (!id.ok()) return id.status();
  id->uri = *std::move(uri);
  return id;
}

absl::StatusOr<std::string> CallerFromAuthContext(const grpc::AuthContext* context) {
  if (context == nullptr || !context->IsPeerAuthenticated()) {
    return absl::UnauthenticatedError("the call did not present a verified client certificate");
  }
  std::vector<std::string_view> uris;
  for (const grpc::string_ref& value : context->FindPropertyValues(kPeerUriProperty)) {
    uris.emplace_back(value.data(), value.size());
  }
  return CallerFromPeerUris(uris);
}

}  // namespace enclave::rpc
