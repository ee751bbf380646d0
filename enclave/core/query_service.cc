#include "enclave/core/query_service.h"

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <string>
#include <utility>

#include "absl/status/status.h"
#include "enclave/core/internal/ids.h"
#include "enclave/base/log.h"
#include "enclave/base/status_macros.h"
#include "enclave/core/request_record.h"
#include "enclave/templates/binding.h"

namespace enclave::core {
namespace {

using internal::Base36;
using internal::Bounded;
using internal::NotFoundMessage;

// Privacy officers review every template; other roles see those that name their role.
bool MaySee(templates::Role role, const templates::Template& t) {
  return role == templates::Role::kPrivacyOfficer || t.AllowsRole(role);
}


}  // namespace

std::vector<LedgerLimit> BudgetLimits(const policy::Agreement& agreement,
                                      const std::string& data_version,
                                      const policy::AgreementBook* book) {
  std::vector<LedgerLimit> limits;
  limits.push_back({"agreement:" + agreement.id, agreement.budget_micro});
  if (book != nullptr) {
    limits.push_back({"project:" + agreement.project, book->ProjectCapMicro(agreement.project)});
    limits.push_back({"data-version:" + data_version, book->data_version_cap_micro()});
  }
  return limits;
}

std::vector<LedgerLimit> QueryService::BudgetLimits(const policy::Agreement& agreement,
                                                    const std::string& data_version) const {
  return core::BudgetLimits(agreement, data_version, options_.agreements.get());
}

absl::StatusOr<std::vector<LedgerBalance>> QueryService::GetBudget(
    const policy::CallerIdentity& caller) {
  RequestRecord record(*log_, "GetBudget", NextRequestId());
  absl::StatusOr<policy::Principal> principal = Identify(caller, record.entry());
  if (!principal.ok()) return record.Refuse(principal.status());
  if (principal->role != templates::Role::kResearcher) {
    return record.Refuse(absl::PermissionDeniedError(
        "role '" + record.entry().role + "' has no privacy budget; budgets belong to researchers' "
        "agreements"));
  }
  if (options_.agreements == nullptr || options_.dp_releaser == nullptr) {
    return record.Refuse(absl::FailedPreconditionError(
        "privacy budgets are not configured on this enclave"));
  }
  // The current data version, from a (pooled) source: no rows are read.
  absl::StatusOr<std::unique_ptr<MicrodataSource>> source = TakeSource();
  if (!source.ok()) {
    return record.Refuse(absl::UnavailableError("the microdata store is unavailable; try again later"));
  }
  const std::string data_version = (*source)->DataVersion();
  ReturnSource(*std::move(source));
  std::vector<LedgerLimit> limits;
  for (const policy::Agreement* a : options_.agreements->AgreementsOf(*principal)) {
    for (LedgerLimit& l : BudgetLimits(*a, data_version)) {
      bool seen = false;
      for (const LedgerLimit& have : limits) seen = seen || have.ledger == l.ledger;
      if (!seen) limits.push_back(std::move(l));
    }
  }
  if (limits.empty()) {
    return record.Refuse(absl::PermissionDeniedError(
        "no researcher agreement covers your organisation and project; ask the privacy officer "
        "to register your signed agreement"));
  }
  absl::StatusOr<std::vector<LedgerBalance>> balances = options_.dp_releaser->Balances(limits);
  if (!balances.ok()) return record.Refuse(balances.status());
  return balances;
}

const templates::Template* TemplateCatalog::Find(const std::string& id) const {
  auto it = std::lower_bound(
      templates.begin(), templates.end(), id,
      [](const templates::Template& t, const std::string& key) { return t.id < key; });
  if (it != templates.end() && it->id == id) return &*it;
  // Not sorted after all (a hand-built catalog): fall back to a scan rather than miss.
  for (const templates::Template& t : templates) {
    if (t.id == id) return &t;
  }
  return nullptr;
}

QueryService::QueryService(std::shared_ptr<const TemplateCatalog> catalog,
                           std::shared_ptr<const policy::PrincipalDirectory> principals,
                           SourceFactory source_factory, std::shared_ptr<QueryLog> log,
                           QueryServiceOptions options)
    : catalog_(std::move(catalog)),
      principals_(std::move(principals)),
      source_factory_(std::move(source_factory)),
      log_(std::move(log)),
      options_(std::move(options)),
      limiter_(options_.steady_now),
      admission_(AdmissionOptions{options_.max_concurrent_queries, options_.max_queued_queries,
                                  options_.max_queue_wait}) {
  const auto now = std::chrono::system_clock::now().time_since_epoch();
  const auto millis = std::chrono::duration_cast<std::chrono::milliseconds>(now).count();
  request_prefix_ = "q-" + Base36(static_cast<std::uint64_t>(millis > 0 ? millis : 0)) + "-";
}

std::string QueryService::NextRequestId() {
  std::uint64_t n = 0;
  {
    std::lock_guard<std::mutex> lock(mu_);
    n = next_request_++;
  }
  return request_prefix_ + std::to_string(n);
}

absl::StatusOr<policy::Principal> QueryService::Identify(const policy::CallerIdentity& caller,
                                                         QueryLogEntry& entry) {
  entry.caller = caller.uri;
  entry.caller_cert_sha256 = caller.cert_sha256;
  // A certificate without extendedKeyUsage clientAuth is refused, and logged as any refusal.
  ENCLAVE_RETURN_IF_ERROR(policy::CheckClientCertificateUsage(caller));
  absl::StatusOr<policy::Principal> principal = principals_->Find(caller.uri);
  if (!principal.ok()) {
    return absl::PermissionDeniedError("caller is not a registered principal");
  }
  entry.role = templates::RoleName(principal->role);
  entry.project.clear();
  for (std::size_t i = 0; i < principal->projects.size(); ++i) {
    if (i > 0) entry.project += '+';
    entry.project += principal->projects[i];
  }
  // Revocation takes effect on the next call, whatever connection it arrives on.
  if (options_.revocations != nullptr) {
    absl::StatusOr<std::shared_ptr<const policy::RevocationList>> list =
        options_.revocations->Current();
    if (!list.ok() || *list == nullptr) {
      base::LogError("revocation_list_unreadable", {{"code", list.status().code()}});
      return absl::PermissionDeniedError(
          "the enclave cannot read its revocation list and refuses every call until it is "
          "fixed; try again later");
    }
    ENCLAVE_RETURN_IF_ERROR((*list)->Check(caller));
  }
  return principal;
}

absl::StatusOr<policy::Principal> QueryService::AuthorizeBrowse(
    const policy::CallerIdentity& caller, const char* rpc, const std::string& template_id,
    const templates::Template** tmpl) {
  RequestRecord record(*log_, rpc, NextRequestId());
  QueryLogEntry& entry = record.entry();
  entry.template_id = Bounded(template_id);
  absl::StatusOr<policy::Principal> principal = Identify(caller, entry);
  if (!principal.ok()) return record.Refuse(principal.status());
  if (!policy::MayListTemplates(principal->role)) {
    return record.Refuse(absl::PermissionDeniedError("role '" + entry.role +
                                              "' may not list or describe templates"));
  }
  if (tmpl != nullptr) {
    *tmpl = catalog_->Find(template_id);
    if (*tmpl == nullptr || !MaySee(principal->role, **tmpl)) {
      return record.Refuse(absl::NotFoundError(NotFoundMessage(template_id)));
    }
  }
  return principal;
}

absl::StatusOr<std::vector<const templates::Template*>> QueryService::ListTemplates(
    const std::string& caller_uri) {
  return ListTemplates(policy::CallerIdentity::FromUri(caller_uri));
}

absl::StatusOr<std::vector<const templates::Template*>> QueryService::ListTemplates(
    const policy::CallerIdentity& caller) {
  ENCLAVE_ASSIGN_OR_RETURN(policy::Principal principal,
                           AuthorizeBrowse(caller, "ListTemplates", "", nullptr));
  std::vector<const templates::Template*> visible;
  for (const templates::Template& t : catalog_->templates) {
    if (MaySee(principal.role, t)) visible.push_back(&t);
  }
  return visible;
}

absl::StatusOr<const templates::Template*> QueryService::DescribeTemplate(
    const std::string& caller_uri, const std::string& template_id) {
  return DescribeTemplate(policy::CallerIdentity::FromUri(caller_uri), template_id);
}

absl::StatusOr<const templates::Template*> QueryService::DescribeTemplate(
    const policy::CallerIdentity& caller, const std::string& template_id) {
  const templates::Template* tmpl = nullptr;
  ENCLAVE_RETURN_IF_ERROR(AuthorizeBrowse(caller, "DescribeTemplate", template_id, &tmpl).status());
  return tmpl;
}

absl::StatusOr<QueryService::Layout> QueryService::DescribeLayout(
    const policy::CallerIdentity& caller, const std::string& template_id,
    const std::vector<std::pair<std::string, std::string>>& params) {
  const templates::Template* tmpl = nullptr;
  ENCLAVE_ASSIGN_OR_RETURN(policy::Principal principal,
                           AuthorizeBrowse(caller, "DescribeTemplate", template_id, &tmpl));
  absl::StatusOr<templates::BoundQuery> bound = templates::Bind(*tmpl, params);
  if (!bound.ok()) {
    RequestRecord record(*log_, "DescribeTemplate", NextRequestId());
    record.entry().caller = caller.uri;
    record.entry().caller_cert_sha256 = caller.cert_sha256;
    record.entry().role = templates::RoleName(principal.role);
    record.entry().template_id = tmpl->id;
    return record.Refuse(bound.status());
  }
  Layout layout;
  layout.tmpl = tmpl;
  layout.params = bound->params;
  for (const templates::Dimension* d : bound->dimensions) {
    if (d == nullptr) return absl::InternalError("template " + tmpl->id + ": a null dimension");
    layout.dimensions.push_back(ReleasedDimensionOf(*d));
  }
  return layout;
}

absl::StatusOr<std::unique_ptr<MicrodataSource>> QueryService::TakeSource() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (!idle_sources_.empty()) {
      std::unique_ptr<MicrodataSource> source = std::move(idle_sources_.back());
      idle_sources_.pop_back();
      return source;
    }
  }
  if (!source_factory_) return absl::InternalError("no microdata source factory configured");
  ENCLAVE_ASSIGN_OR_RETURN(std::unique_ptr<MicrodataSource> made, source_factory_());
  if (made == nullptr) return absl::InternalError("the microdata source factory returned no source");
  return made;
}

void QueryService::ReturnSource(std::unique_ptr<MicrodataSource> source) {
  std::lock_guard<std::mutex> lock(mu_);
  if (idle_sources_.size() < static_cast<std::size_t>(std::max(options_.max_concurrent_queries, 1))) {
    idle_sources_.push_back(std::move(source));
  }
}

}  // namespace enclave::core
