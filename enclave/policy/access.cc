#include "enclave/policy/access.h"

#include <algorithm>
#include <cctype>
#include <utility>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "enclave/base/retry_hint.h"

namespace enclave::policy {
namespace {

std::string Day(absl::CivilDay day) { return absl::FormatCivilTime(day); }

bool Contains(const std::vector<std::string>& list, const std::string& value) {
  return std::find(list.begin(), list.end(), value) != list.end();
}

}  // namespace

bool Agreement::CoversTemplate(const std::string& template_id) const {
  return Contains(templates, template_id);
}

bool Agreement::CoversDataset(const std::string& data_version) const {
  return datasets.empty() || Contains(datasets, data_version);
}

absl::Time Agreement::End() const {
  return absl::FromCivil(valid_until + 1, absl::UTCTimeZone());
}

absl::Status CheckClientCertificateUsage(const CallerIdentity& caller) {
  if (caller.client_auth) return absl::OkStatus();
  return absl::PermissionDeniedError(
      "the client certificate is not for client authentication: its extendedKeyUsage must "
      "include clientAuth (TLS Web Client Authentication); ask the operator for a certificate "
      "issued as docs/operator.md describes");
}

absl::StatusOr<AgreementBook> AgreementBook::Create(std::vector<Agreement> agreements,
                                                    std::map<std::string, std::int64_t> project_caps,
                                                    std::int64_t data_version_cap_micro) {
  AgreementBook book;
  if (data_version_cap_micro <= 0) {
    return absl::InvalidArgumentError(
        "data_version_cap_micro must be positive (micro-ε; 12000000 is ε 12.0)");
  }
  for (const auto& [project, cap] : project_caps) {
    if (project.empty() || cap <= 0) {
      return absl::InvalidArgumentError("project budget '" + project +
                                        "' needs a name and a positive cap_micro");
    }
  }
  std::sort(agreements.begin(), agreements.end(),
            [](const Agreement& a, const Agreement& b) { return a.id < b.id; });
  for (std::size_t i = 0; i < agreements.size(); ++i) {
    const Agreement& a = agreements[i];
    if (a.id.empty()) return absl::InvalidArgumentError("an agreement has an empty id");
    if (i > 0 && agreements[i - 1].id == a.id) {
      return absl::InvalidArgumentError("agreement '" + a.id + "' is listed more than once");
    }
    if (a.organisation.empty() || a.project.empty()) {
      return absl::InvalidArgumentError("agreement '" + a.id +
                                        "' needs an organisation and a project");
    }
    if (a.valid_from > a.valid_until) {
      return absl::InvalidArgumentError("agreement '" + a.id + "': valid_from " +
                                        Day(a.valid_from) + " is after valid_until " +
                                        Day(a.valid_until));
    }
    if (a.budget_micro <= 0) {
      return absl::InvalidArgumentError("agreement '" + a.id +
                                        "': budget_micro must be positive (micro-ε)");
    }
    if (a.templates.empty()) {
      return absl::InvalidArgumentError("agreement '" + a.id + "' covers no template");
    }
    if (!project_caps.contains(a.project)) {
      return absl::InvalidArgumentError("agreement '" + a.id + "': project '" + a.project +
                                        "' has no project budget; add one");
    }
  }
  book.agreements_ = std::move(agreements);
  book.project_caps_ = std::move(project_caps);
  book.data_version_cap_micro_ = data_version_cap_micro;
  return book;
}

std::vector<const Agreement*> AgreementBook::All() const {
  std::vector<const Agreement*> out;
  out.reserve(agreements_.size());
  for (const Agreement& a : agreements_) out.push_back(&a);
  return out;
}

std::vector<const Agreement*> AgreementBook::AgreementsOf(const Principal& principal) const {
  std::vector<const Agreement*> out;
  for (const Agreement& a : agreements_) {
    if (a.organisation == principal.organisation && Contains(principal.projects, a.project)) {
      out.push_back(&a);
    }
  }
  return out;
}

std::int64_t AgreementBook::ProjectCapMicro(const std::string& project) const {
  auto it = project_caps_.find(project);
  return it == project_caps_.end() ? 0 : it->second;
}

absl::StatusOr<const Agreement*> AgreementBook::Authorize(const Principal& principal,
                                                          const CallerIdentity& caller,
                                                          const std::string& template_id,
                                                          absl::Time now) const {
  std::vector<const Agreement*> mine = AgreementsOf(principal);
  if (mine.empty()) {
    return absl::PermissionDeniedError(
        "no researcher agreement covers your organisation and project; ask the privacy officer "
        "to register your signed agreement");
  }
  const absl::CivilDay today = absl::ToCivilDay(now, absl::UTCTimeZone());
  // Of the agreements covering the template, the first problem found is the one reported; an
  // agreement without problems wins.
  std::string problem;
  for (const Agreement* a : mine) {
    if (!a->CoversTemplate(template_id)) continue;
    if (today < a->valid_from) {
      if (problem.empty()) {
        problem = "agreement " + a->id + " is valid from " + Day(a->valid_from) +
                  "; no query runs under it before that day";
      }
      continue;
    }
    if (today > a->valid_until) {
      if (problem.empty()) {
        problem = "agreement " + a->id + " ended on " + Day(a->valid_until) +
                  "; ask the privacy officer about an extension or a new agreement";
      }
      continue;
    }
    if (a->suspended) {
      if (problem.empty()) {
        problem = "agreement " + a->id + " is suspended" +
                  (a->suspension_reason.empty() ? "" : " (" + a->suspension_reason + ")") +
                  "; contact the privacy officer";
      }
      continue;
    }
    if (!caller.not_after.has_value()) {
      if (problem.empty()) {
        problem = "the certificate's expiry is unknown; researchers need a certificate issued "
                  "no longer than their agreement";
      }
      continue;
    }
    if (*caller.not_after > a->End()) {
      if (problem.empty()) {
        problem = "your certificate is valid until " +
                  absl::FormatTime("%Y-%m-%d", *caller.not_after, absl::UTCTimeZone()) +
                  ", after agreement " + a->id + " ends on " + Day(a->valid_until) +
                  "; certificates are issued no longer than their agreement: ask for a new "
                  "certificate that expires by then";
      }
      continue;
    }
    return a;
  }
  if (!problem.empty()) return absl::PermissionDeniedError(problem);
  std::string ids;
  for (const Agreement* a : mine) absl::StrAppend(&ids, ids.empty() ? "" : ", ", a->id);
  return absl::PermissionDeniedError("template '" + template_id.substr(0, 64) +
                                     "' is outside the scope of your agreement(s) " + ids +
                                     "; ask the privacy officer to add it to an agreement");
}

std::string NormalizeSerial(std::string serial) {
  std::string out;
  std::string_view s = serial;
  if (s.size() >= 2 && s[0] == '0' && (s[1] == 'x' || s[1] == 'X')) s.remove_prefix(2);
  for (char c : s) {
    if (c == ':' || c == ' ') continue;
    out.push_back(static_cast<char>(std::tolower(static_cast<unsigned char>(c))));
  }
  std::size_t first = out.find_first_not_of('0');
  if (first == std::string::npos) return out.empty() ? out : "0";
  return out.substr(first);
}

absl::Status RevocationList::Check(const CallerIdentity& caller) const {
  if (principals.contains(caller.uri)) {
    return absl::PermissionDeniedError(
        "your access has been revoked (principal on the deny-list); contact the privacy officer");
  }
  if ((!caller.serial_hex.empty() && serials.contains(caller.serial_hex)) ||
      (!caller.cert_sha256.empty() && cert_sha256.contains(caller.cert_sha256))) {
    return absl::PermissionDeniedError(
        "your certificate has been revoked; ask for a new certificate");
  }
  return absl::OkStatus();
}

PrincipalLimiter::PrincipalLimiter(Clock clock) : clock_(std::move(clock)) {
  if (!clock_) clock_ = [] { return std::chrono::steady_clock::now(); };
}

void PrincipalLimiter::Slot::Reset() {
  if (limiter_ != nullptr) limiter_->Release(id_);
  limiter_ = nullptr;
}

void PrincipalLimiter::Release(const std::string& principal_id) {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = buckets_.find(principal_id);
  if (it != buckets_.end() && it->second.running > 0) --it->second.running;
}

absl::StatusOr<PrincipalLimiter::Slot> PrincipalLimiter::Acquire(const std::string& principal_id,
                                                                 const PrincipalLimits& limits) {
  constexpr std::int64_t kPerQuery = 60000;  // units per query; q queries/min earn q units per ms
  const auto now = clock_();
  std::lock_guard<std::mutex> lock(mu_);
  Bucket& b = buckets_[principal_id];
  if (limits.max_concurrent > 0 && b.running >= limits.max_concurrent) {
    return base::WithRetryAfter(
        absl::ResourceExhaustedError(
            absl::StrCat("you are running your maximum of ", limits.max_concurrent,
                         " queries at once; retry after 1 s, when one has finished")),
        std::chrono::seconds(1));
  }
  if (limits.queries_per_minute > 0) {
    const std::int64_t rate = limits.queries_per_minute;
    const std::int64_t capacity = kPerQuery * rate;
    if (b.units < 0) {
      b.units = capacity;
    } else {
      const auto elapsed_ms =
          std::chrono::duration_cast<std::chrono::milliseconds>(now - b.last).count();
      if (elapsed_ms > 0) b.units = std::min(capacity, b.units + elapsed_ms * rate);
    }
    b.last = now;
    if (b.units < kPerQuery) {
      const std::int64_t wait_ms = (kPerQuery - b.units + rate - 1) / rate;
      const std::int64_t wait_s = std::max<std::int64_t>(1, (wait_ms + 999) / 1000);
      return base::WithRetryAfter(
          absl::ResourceExhaustedError(
              absl::StrCat("you have used your limit of ", limits.queries_per_minute,
                           " queries per minute; retry after ", wait_s, " s")),
          std::chrono::seconds(wait_s));
    }
    b.units -= kPerQuery;
  }
  ++b.running;
  return Slot(this, principal_id);
}

}  // namespace enclave::policy
