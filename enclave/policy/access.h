// Access policy beyond roles (security.md §2.3–2.6): who the caller's certificate is, researcher
// agreements (dates, scope, budget caps, suspension), the revocation deny-list, and per-principal
// rate and concurrency limits. Pure: the rpc layer extracts the certificate facts, an adapter reads
// the files, and core::QueryService asks these classes on every call.
//
//   policy::CallerIdentity id{.uri = "spiffe://lv/researcher/r1", .not_after = ...};
//   absl::StatusOr<const policy::Agreement*> a = book.Authorize(principal, id, "t12_dp", now);
#pragma once

#include <chrono>
#include <functional>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/civil_time.h"
#include "absl/time/time.h"
#include "enclave/policy/principals.h"

namespace enclave::policy {

// What the verified client certificate says, extracted by the rpc layer from the TLS AuthContext
// only. Metadata a client adds never contributes to it.
struct CallerIdentity {
  std::string uri;           // the single URI SAN
  std::string cert_sha256;   // lower-case hex SHA-256 of the DER certificate; "" when unknown
  std::string serial_hex;    // lower-case hex serial number without leading zeros; "" when unknown
  std::optional<absl::Time> not_after;  // certificate expiry; nullopt when unknown
  // The certificate's extendedKeyUsage names clientAuth (security.md §2.1). False for a
  // certificate with no extendedKeyUsage at all, or one without clientAuth: such a caller is
  // refused (CheckClientCertificateUsage). FromUri identities (no certificate) count as true.
  bool client_auth = false;

  // An identity of which only the URI SAN is known (tests and in-process callers).
  static CallerIdentity FromUri(std::string uri) {
    CallerIdentity id;
    id.uri = std::move(uri);
    id.client_auth = true;
    return id;
  }
};

// OK when the caller's certificate is meant for client authentication; kPermissionDenied naming
// what is missing and what is required otherwise. Asked on every call, before anything else of
// the caller is looked at (core::QueryService::Identify, rpc::Caller for the AuditService).
absl::Status CheckClientCertificateUsage(const CallerIdentity& caller);

// The ledger caps of the data-version ledger when the policy names none: ε 12.0 across all
// agreements per data version (disclosure-control.md §7.6).
inline constexpr std::int64_t kDefaultDataVersionCapMicro = 12'000'000;

struct Agreement {
  std::string id;
  std::string organisation;
  std::string project;
  absl::CivilDay valid_from;   // first day (UTC) the agreement is in force
  absl::CivilDay valid_until;  // last day (UTC), inclusive
  std::vector<std::string> templates;  // template ids covered
  std::vector<std::string> datasets;   // data versions covered; empty: every version
  std::int64_t budget_micro = 0;       // the agreement's own ε cap, micro-ε
  bool suspended = false;
  std::string suspension_reason;       // shown to the researcher; no data

  bool CoversTemplate(const std::string& template_id) const;
  bool CoversDataset(const std::string& data_version) const;
  // The first instant after the agreement: 00:00 UTC the day after valid_until.
  absl::Time End() const;
};

class AgreementBook {
 public:
  AgreementBook() = default;
  // kInvalidArgument for an empty or duplicate id, valid_from after valid_until, a cap <= 0, a
  // project without a cap, or a data-version cap <= 0.
  static absl::StatusOr<AgreementBook> Create(std::vector<Agreement> agreements,
                                              std::map<std::string, std::int64_t> project_caps,
                                              std::int64_t data_version_cap_micro);

  // The agreement a researcher's call runs under: the principal's organisation, one of its
  // projects, in force on `now`, not suspended, covering `template_id`, and whose end is not
  // before the certificate's notAfter. kPermissionDenied with a reason the researcher can act on
  // (which agreement, what is wrong, what to do) otherwise.
  absl::StatusOr<const Agreement*> Authorize(const Principal& principal,
                                             const CallerIdentity& caller,
                                             const std::string& template_id, absl::Time now) const;

  // Every agreement, in id order.
  std::vector<const Agreement*> All() const;
  // Every agreement of the principal (organisation and one of its projects), in id order.
  std::vector<const Agreement*> AgreementsOf(const Principal& principal) const;

  // 0 when the project has no cap (Create refuses that for a project with agreements).
  std::int64_t ProjectCapMicro(const std::string& project) const;
  std::int64_t data_version_cap_micro() const { return data_version_cap_micro_; }
  std::size_t size() const { return agreements_.size(); }

 private:
  std::vector<Agreement> agreements_;  // sorted by id
  std::map<std::string, std::int64_t> project_caps_;
  std::int64_t data_version_cap_micro_ = kDefaultDataVersionCapMicro;
};

// The revocation deny-list: certificate serials, certificate SHA-256 fingerprints, principals.
struct RevocationList {
  std::set<std::string> serials;       // lower-case hex, no leading zeros
  std::set<std::string> cert_sha256;   // lower-case hex
  std::set<std::string> principals;    // URI SANs

  // kPermissionDenied naming what is revoked (certificate or principal) and what to do.
  absl::Status Check(const CallerIdentity& caller) const;
};

// Normalises a serial as written by a person ("0x01:A3", "01a3") to the form CallerIdentity uses.
std::string NormalizeSerial(std::string serial);

// The current deny-list, re-read by the adapter when its file changes. A source that cannot give
// a list (malformed file) answers an error, and every call is refused (fail closed).
class RevocationSource {
 public:
  virtual ~RevocationSource() = default;
  virtual absl::StatusOr<std::shared_ptr<const RevocationList>> Current() = 0;
};

// Thread-safe. Acquire before a query runs; Release when it ends (the returned slot does it).
class PrincipalLimiter {
 public:
  using Clock = std::function<std::chrono::steady_clock::time_point()>;
  explicit PrincipalLimiter(Clock clock = nullptr);

  class Slot {
   public:
    Slot() = default;
    Slot(PrincipalLimiter* limiter, std::string id) : limiter_(limiter), id_(std::move(id)) {}
    Slot(Slot&& other) noexcept : limiter_(other.limiter_), id_(std::move(other.id_)) {
      other.limiter_ = nullptr;
    }
    Slot& operator=(Slot&& other) noexcept {
      if (this != &other) {
        Reset();
        limiter_ = other.limiter_;
        id_ = std::move(other.id_);
        other.limiter_ = nullptr;
      }
      return *this;
    }
    Slot(const Slot&) = delete;
    Slot& operator=(const Slot&) = delete;
    ~Slot() { Reset(); }

   private:
    void Reset();
    PrincipalLimiter* limiter_ = nullptr;
    std::string id_;
  };

  // kResourceExhausted with "retry after N s" (N >= 1, whole seconds; the same hint as a
  // base/retry_hint.h payload) when the principal has no token left or runs its maximum of
  // queries; else a slot that ends the query when destroyed.
  absl::StatusOr<Slot> Acquire(const std::string& principal_id, const PrincipalLimits& limits);

 private:
  struct Bucket {
    // One query costs 60000 units; a principal with q queries per minute earns q units per ms
    // and holds at most a minute's worth (60000 * q).
    std::int64_t units = -1;  // < 0: not yet used (full)
    std::chrono::steady_clock::time_point last;
    int running = 0;
  };
  void Release(const std::string& principal_id);

  Clock clock_;
  std::mutex mu_;
  std::map<std::string, Bucket> buckets_;  // guarded by mu_
};

}  // namespace enclave::policy
