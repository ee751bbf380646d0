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
#include "enclave/core/aggregate.h"
#include "enclave/core/alternatives.h"
#include "enclave/templates/binding.h"

namespace enclave::core {
namespace {

using internal::Base36;
using internal::Bounded;

// The visitor checks the cancellation once per this many rows (the source checks too).
constexpr std::uint64_t kCancelCheckRows = 4096;

// Privacy officers review every template; other roles see those that name their role.
bool MaySee(templates::Role role, const templates::Template& t) {
  return role == templates::Role::kPrivacyOfficer || t.AllowsRole(role);
}

std::string NotFoundMessage(const std::string& template_id) {
  return "unknown template '" + Bounded(template_id) +
         "'; use ListTemplates to see the templates you may run";
}

absl::Status ExpiredStatus(const Cancellation& cancel) {
  if (std::chrono::steady_clock::now() >= cancel.deadline) {
    return absl::DeadlineExceededError("the query ran past its deadline and was stopped");
  }
  return absl::CancelledError("the query was cancelled by the caller");
}

// Decrements the running count however RunQuery leaves.
class RunningSlot {
 public:
  RunningSlot(std::mutex& mu, int& running) : mu_(mu), running_(running) {}
  ~RunningSlot() {
    std::lock_guard<std::mutex> lock(mu_);
    --running_;
  }
  RunningSlot(const RunningSlot&) = delete;
  RunningSlot& operator=(const RunningSlot&) = delete;

 private:
  std::mutex& mu_;
  int& running_;
};

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
  QueryLogEntry entry;
  entry.type = QueryLogEntry::Type::kRefused;
  entry.request_id = NextRequestId();
  entry.rpc = "GetBudget";
  auto refuse = [&](absl::Status status) -> absl::Status {
    entry.decision = absl::StatusCodeToString(status.code());
    entry.reason = std::string(status.message());
    if (!log_->Append(entry).ok()) {
      return absl::UnavailableError("the query log is unavailable; the request was not served");
    }
    return status;
  };
  absl::StatusOr<policy::Principal> principal = Identify(caller, entry);
  if (!principal.ok()) return refuse(principal.status());
  if (principal->role != templates::Role::kResearcher) {
    return refuse(absl::PermissionDeniedError(
        "role '" + entry.role + "' has no privacy budget; budgets belong to researchers' "
        "agreements"));
  }
  if (options_.agreements == nullptr || options_.dp_releaser == nullptr) {
    return refuse(absl::FailedPreconditionError(
        "privacy budgets are not configured on this enclave"));
  }
  // The current data version, from a (pooled) source: no rows are read.
  std::unique_ptr<MicrodataSource> source;
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (!idle_sources_.empty()) {
      source = std::move(idle_sources_.back());
      idle_sources_.pop_back();
    }
  }
  if (source == nullptr && source_factory_) {
    absl::StatusOr<std::unique_ptr<MicrodataSource>> made = source_factory_();
    if (made.ok()) source = *std::move(made);
  }
  if (source == nullptr) {
    return refuse(absl::UnavailableError("the microdata store is unavailable; try again later"));
  }
  const std::string data_version = source->DataVersion();
  {
    std::lock_guard<std::mutex> lock(mu_);
    idle_sources_.push_back(std::move(source));
  }
  std::vector<LedgerLimit> limits;
  for (const policy::Agreement* a : options_.agreements->AgreementsOf(*principal)) {
    for (LedgerLimit& l : BudgetLimits(*a, data_version)) {
      bool seen = false;
      for (const LedgerLimit& have : limits) seen = seen || have.ledger == l.ledger;
      if (!seen) limits.push_back(std::move(l));
    }
  }
  if (limits.empty()) {
    return refuse(absl::PermissionDeniedError(
        "no researcher agreement covers your organisation and project; ask the privacy officer "
        "to register your signed agreement"));
  }
  absl::StatusOr<std::vector<LedgerBalance>> balances = options_.dp_releaser->Balances(limits);
  if (!balances.ok()) return refuse(balances.status());
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
      limiter_(options_.steady_now) {
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
  QueryLogEntry entry;
  entry.type = QueryLogEntry::Type::kRefused;
  entry.request_id = NextRequestId();
  entry.rpc = rpc;
  entry.template_id = Bounded(template_id);
  // A refusal is durable in the log before the caller hears of it.
  auto refuse = [&](absl::Status status) -> absl::Status {
    entry.decision = absl::StatusCodeToString(status.code());
    entry.reason = std::string(status.message());
    if (!log_->Append(entry).ok()) {
      return absl::UnavailableError("the query log is unavailable; the request was not served");
    }
    return status;
  };

  absl::StatusOr<policy::Principal> principal = Identify(caller, entry);
  if (!principal.ok()) return refuse(principal.status());
  if (!policy::MayListTemplates(principal->role)) {
    return refuse(absl::PermissionDeniedError("role '" + entry.role +
                                              "' may not list or describe templates"));
  }
  if (tmpl != nullptr) {
    *tmpl = catalog_->Find(template_id);
    if (*tmpl == nullptr || !MaySee(principal->role, **tmpl)) {
      return refuse(absl::NotFoundError(NotFoundMessage(template_id)));
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

absl::StatusOr<RunResult> QueryService::RunQuery(
    const std::string& caller_uri, const std::string& template_id,
    const std::vector<std::pair<std::string, std::string>>& params, const Cancellation& cancel) {
  return RunQuery(policy::CallerIdentity::FromUri(caller_uri), template_id, params, cancel);
}

absl::StatusOr<RunResult> QueryService::RunQuery(
    const policy::CallerIdentity& caller, const std::string& template_id,
    const std::vector<std::pair<std::string, std::string>>& params, const Cancellation& cancel) {
  // What would work instead, from the parameters only (core/alternatives.h).
  return AddAlternatives(catalog_->Find(template_id), params,
                         Run(caller, template_id, params, cancel));
}

absl::StatusOr<RunResult> QueryService::Run(
    const policy::CallerIdentity& caller, const std::string& template_id,
    const std::vector<std::pair<std::string, std::string>>& params, const Cancellation& cancel) {
  const std::string request_id = NextRequestId();
  QueryLogEntry entry;
  entry.request_id = request_id;
  entry.rpc = "RunQuery";
  entry.template_id = Bounded(template_id);

  // Every refusal is durable in the log before the caller hears of it.
  auto refuse = [&](absl::Status status) -> absl::Status {
    entry.type = QueryLogEntry::Type::kRefused;
    entry.decision = absl::StatusCodeToString(status.code());
    entry.reason = std::string(status.message());
    if (!log_->Append(entry).ok()) {
      base::LogError("query_log_write_failed", {{"rpc", base::Word("RunQuery")},
                                                {"entry", base::Word("query-refused")}});
      return absl::UnavailableError("the query log is unavailable; the request was not served");
    }
    return status;
  };
  // After kAccepted: the query is closed as aborted. The caller's status stands either way.
  auto close_aborted = [&](absl::Status status) -> absl::Status {
    entry.type = QueryLogEntry::Type::kAborted;
    entry.decision = absl::StatusCodeToString(status.code());
    entry.reason = std::string(status.message());
    if (!log_->Append(entry).ok()) {
      base::LogError("query_log_write_failed", {{"rpc", base::Word("RunQuery")},
                                                {"entry", base::Word("query-aborted")}});
    }
    base::LogWarning("query_aborted", {{"template", base::TemplateName(entry.template_id)},
                                       {"code", status.code()}});
    return status;
  };

  // 1. Who is asking, and may their role run queries at all?
  absl::StatusOr<policy::Principal> principal = Identify(caller, entry);
  if (!principal.ok()) return refuse(principal.status());
  if (!policy::MayRunQueries(principal->role)) {
    return refuse(absl::PermissionDeniedError(
        "role '" + entry.role +
        "' may not run queries (separation of duties); only municipal analysts and researchers "
        "may"));
  }

  // 2. Which template? Unknown and not-for-this-role are told apart by no one.
  const templates::Template* tmpl = catalog_->Find(template_id);
  if (tmpl == nullptr || !tmpl->AllowsRole(principal->role)) {
    return refuse(absl::NotFoundError(NotFoundMessage(template_id)));
  }
  entry.template_id = tmpl->id;
  entry.template_version = tmpl->version;
  entry.template_sha256 = tmpl->text_sha256;
  if (tmpl->approval.has_value()) entry.template_approval = tmpl->approval->LogText();

  // 2b. Researchers only under an agreement in force that covers this template.
  const policy::Agreement* agreement = nullptr;
  if (principal->role == templates::Role::kResearcher) {
    if (options_.agreements == nullptr) {
      return refuse(absl::PermissionDeniedError(
          "no researcher agreements are loaded; researchers cannot run queries"));
    }
    absl::StatusOr<const policy::Agreement*> found = options_.agreements->Authorize(
        *principal, caller, tmpl->id, options_.now ? options_.now() : absl::Now());
    if (!found.ok()) return refuse(found.status());
    agreement = *found;
    entry.project = agreement->project + "/" + agreement->id;
  }

  // 3. Parameters.
  absl::StatusOr<templates::BoundQuery> bound = templates::Bind(*tmpl, params);
  if (!bound.ok()) return refuse(bound.status());
  entry.canonical_params = bound->CanonicalParams();

  // 4. Configuration that must hold before anything runs. A differentially private template
  // (Template::dp) runs through the DpReleaser instead of the cell key method and suppression:
  // only for a researcher under an agreement (step 2b), with a budget charge.
  const bool dp = tmpl->dp.has_value();
  if (dp && agreement == nullptr) {
    return refuse(absl::PermissionDeniedError(
        "template " + tmpl->id +
        " is released under differential privacy, for researchers under an agreement only"));
  }
  if (dp && options_.dp_releaser == nullptr) {
    return refuse(absl::FailedPreconditionError(
        "differentially private releases are not configured on this enclave; nothing was run"));
  }
  if (!options_.sha256_hex) {
    return refuse(absl::InternalError("the query service has no digest function configured"));
  }
  auto rule_set_it = catalog_->rule_sets.find(tmpl->disclosure.rule_set);
  if (!dp && rule_set_it == catalog_->rule_sets.end()) {
    return refuse(absl::InternalError("template " + tmpl->id + " names rule set '" +
                                      tmpl->disclosure.rule_set + "', which is not loaded"));
  }
  disclosure::RuleSetParams rules =
      rule_set_it != catalog_->rule_sets.end() ? rule_set_it->second : disclosure::RuleSetParams{};
  rules.min_units = std::max(rules.min_units, tmpl->disclosure.min_units);
  rules.min_share_denominator =
      std::max(rules.min_share_denominator, tmpl->disclosure.min_share_denominator);
  UnitIndex* unit_index = options_.unit_index ? options_.unit_index(tmpl->unit) : nullptr;
  if (!dp && (unit_index == nullptr || !options_.solver_factory || !options_.magnitude_key ||
              options_.guard == nullptr || options_.history == nullptr)) {
    return refuse(absl::InternalError("disclosure control is not configured for unit type '" +
                                      tmpl->unit + "'; nothing was run"));
  }

  // 5. Concurrency limits: the principal's own (rate and running queries), then the enclave's.
  absl::StatusOr<policy::PrincipalLimiter::Slot> principal_slot =
      limiter_.Acquire(principal->id, principal->limits);
  if (!principal_slot.ok()) return refuse(principal_slot.status());
  bool admitted = false;
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (running_ < options_.max_concurrent_queries) {
      ++running_;
      admitted = true;
    }
  }
  if (!admitted) {
    return refuse(absl::ResourceExhaustedError(
        "the enclave is running its maximum of " + std::to_string(options_.max_concurrent_queries) +
        " queries; retry after 2 s"));
  }
  RunningSlot slot(mu_, running_);

  // 6. No query runs unlogged.
  entry.type = QueryLogEntry::Type::kAccepted;
  entry.decision = "allowed";
  entry.reason.clear();
  if (!log_->Append(entry).ok()) {
    base::LogError("query_log_write_failed", {{"rpc", base::Word("RunQuery")},
                                              {"entry", base::Word("query-accepted")}});
    return absl::UnavailableError("the query log is unavailable; the query was not run");
  }

  // 7. Run it.
  std::unique_ptr<MicrodataSource> source;
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (!idle_sources_.empty()) {
      source = std::move(idle_sources_.back());
      idle_sources_.pop_back();
    }
  }
  if (source == nullptr) {
    absl::StatusOr<std::unique_ptr<MicrodataSource>> made =
        source_factory_ ? source_factory_()
                        : absl::StatusOr<std::unique_ptr<MicrodataSource>>(
                              absl::InternalError("no microdata source factory configured"));
    if (!made.ok()) return close_aborted(made.status());
    if (*made == nullptr) {
      return close_aborted(absl::InternalError("the microdata source factory returned no source"));
    }
    source = *std::move(made);
  }
  if (agreement != nullptr && !agreement->CoversDataset(source->DataVersion())) {
    return close_aborted(absl::PermissionDeniedError(
        "agreement " + agreement->id + " does not cover the current data version " +
        Bounded(source->DataVersion()) + "; ask the privacy officer to extend it"));
  }

  if (dp) {
    // 7dp. The DpReleaser reserves the charge on every ledger before reading any row, draws the
    // noise, charges durably and logs kBudget entries; an identical repeat is served free.
    DpRequest request;
    request.query = &*bound;
    request.request_id = request_id;
    request.caller = caller.uri;
    request.role = entry.role;
    request.project = agreement->project;
    request.agreement = agreement->id;
    request.data_version = source->DataVersion();
    request.limits = BudgetLimits(*agreement, request.data_version);
    absl::StatusOr<DpOutcome> outcome = options_.dp_releaser->Run(request, *source, cancel);
    if (!outcome.ok()) return close_aborted(outcome.status());  // the source is dropped
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (idle_sources_.size() <
          static_cast<std::size_t>(std::max(options_.max_concurrent_queries, 1))) {
        idle_sources_.push_back(std::move(source));
      }
    }
    Release release = std::move(outcome->release);
    entry.type = QueryLogEntry::Type::kResult;
    entry.decision = "allowed";
    entry.rule_set = release.rule_set;
    entry.data_version = release.data_version;
    entry.cells_released = release.CountReleased();
    entry.cells_confidential = release.CountConfidential();
    entry.detail = "dp charged_micro=" + std::to_string(outcome->charged_micro) +
                   " repeat=" + (outcome->repeat ? "1" : "0") + " agreement=" + agreement->id;
    entry.result_sha256 = options_.sha256_hex(CanonicalReleaseText(release));
    if (!log_->Append(entry).ok()) {
      base::LogError("query_log_write_failed", {{"rpc", base::Word("RunQuery")},
                                                {"entry", base::Word("query-result")}});
      return absl::UnavailableError("the query log is unavailable; the result was not released");
    }
    base::LogInfo("query_done", {{"template", base::TemplateName(tmpl->id)},
                                 {"cells", base::RowCount{entry.cells_released +
                                                          entry.cells_confidential}},
                                 {"charged_micro", base::RowCount{outcome->charged_micro}},
                                 {"code", absl::StatusCode::kOk}});
    // What the caller was charged, and what is left (best effort: the charge is durable).
    DpCharge charge{outcome->charged_micro, outcome->repeat, {}};
    if (auto balances = options_.dp_releaser->Balances(request.limits); balances.ok()) {
      charge.balances = *std::move(balances);
    }
    return RunResult{std::move(release), request_id, std::move(charge), {}};
  }

  TableBuilder builder(*bound);
  std::uint64_t rows = 0;
  absl::Status scanned =
      source->Scan(*bound, cancel, [&](const RowView& row) -> absl::Status {
        if (++rows % kCancelCheckRows == 0 && cancel.Expired()) return ExpiredStatus(cancel);
        return builder.Add(row);
      });
  if (!scanned.ok()) return close_aborted(scanned);  // the source is dropped, not pooled
  std::string data_version = source->DataVersion();
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (idle_sources_.size() < static_cast<std::size_t>(std::max(options_.max_concurrent_queries, 1))) {
      idle_sources_.push_back(std::move(source));
    }
  }

  // 8. Disclosure control: primary rules, secondary suppression, perturbation (aggregate.h).
  std::unique_ptr<disclosure::LpSolver> solver = options_.solver_factory();
  if (solver == nullptr) return close_aborted(absl::InternalError("no LP solver available"));
  std::unique_ptr<disclosure::IntegerSolver> integer_solver;
  if (options_.integer_solver_factory) integer_solver = options_.integer_solver_factory();
  DisclosureTools tools;
  tools.rules = &rules;
  tools.units = unit_index;
  tools.solver = solver.get();
  tools.integer.solver = integer_solver.get();  // null: tables needing it are refused
  tools.integer.per_solve = options_.integer_per_solve;
  tools.integer.per_table = options_.integer_per_table;
  tools.magnitude_key = options_.magnitude_key;
  absl::StatusOr<FinishedTable> finished = std::move(builder).Finish(tools, data_version);
  if (!finished.ok()) return close_aborted(finished.status());
  Release release = std::move(finished->release);
  release.record_key_version = options_.record_key_version;

  // 9. The differencing guard and the decomposition quota: the last refusable step (§6.1, §6.2).
  // One history per data version and unit type for every caller: SDC releases are publishable.
  const auto guard_start = std::chrono::steady_clock::now();
  disclosure::GuardKey guard_key{data_version, tmpl->unit};
  // Populations below T carry no released statistic (their counts fail the threshold), and two
  // disjoint small groups would otherwise "differ" by fewer than T: only populations of at least
  // T units are guarded.
  disclosure::GuardLimits limits;
  limits.min_units = static_cast<std::uint64_t>(std::max<std::int64_t>(rules.min_units, 1));
  limits.max_partitions = static_cast<std::uint32_t>(
      tmpl->disclosure.max_partitions > 0 ? tmpl->disclosure.max_partitions
                                          : std::max<std::int64_t>(rules.decomposition_quota, 1));
  std::vector<disclosure::GuardedPopulation> guarded_sets;
  for (disclosure::GuardedPopulation& p : finished->populations) {
    if (p.units.size() >= limits.min_units) guarded_sets.push_back(std::move(p));
  }
  disclosure::GuardRecord newly_recorded;
  absl::Status guarded =
      options_.guard->CheckAndRecord(guard_key, guarded_sets, limits, &newly_recorded);
  const std::int64_t disclosure_us =
      finished->disclosure_micros +
      std::chrono::duration_cast<std::chrono::microseconds>(std::chrono::steady_clock::now() -
                                                            guard_start)
          .count();
  if (!guarded.ok()) return close_aborted(guarded);

  // 10. No answer leaves unlogged.
  entry.type = QueryLogEntry::Type::kResult;
  entry.decision = "allowed";
  entry.rule_set = release.rule_set;
  entry.data_version = release.data_version;
  entry.cells_released = release.CountReleased();
  entry.cells_confidential = release.CountConfidential();
  // Officer-only provenance, enough to replay the release: every rule-set parameter, the
  // record-key version, the count ptable, and per cell the rule that decided with its parameters.
  std::string cell_rules = "rules{" + release.rule_set_text + "} record_key{" +
                           release.record_key_version + "} counts{" + release.ptable + "} cells{";
  cell_rules.reserve(cell_rules.size() + release.provenance.size() * 12);
  for (std::size_t i = 0; i < release.provenance.size(); ++i) {
    if (i > 0) cell_rules += ',';
    cell_rules += release.provenance[i].rule;
    if (!release.provenance[i].params.empty()) {
      cell_rules += '[';
      cell_rules += release.provenance[i].params;
      cell_rules += ']';
    }
  }
  cell_rules += '}';
  entry.cell_rules = std::move(cell_rules);
  entry.result_sha256 = options_.sha256_hex(CanonicalReleaseText(release));
  if (!log_->Append(entry).ok()) {
    base::LogError("query_log_write_failed", {{"rpc", base::Word("RunQuery")},
                                              {"entry", base::Word("query-result")}});
    return absl::UnavailableError("the query log is unavailable; the result was not released");
  }
  // 11. The guard's history is durable before anything is sent.
  if (!newly_recorded.empty() && !unit_index->basis().empty()) {
    if (absl::Status kept = options_.history->Append(guard_key, unit_index->basis(), newly_recorded);
        !kept.ok()) {
      base::LogError("release_history_write_failed", {{"code", kept.code()}});
      return close_aborted(
          absl::UnavailableError("the release history is unavailable; the result was not released"));
    }
  }
  base::LogInfo("query_done", {{"template", base::TemplateName(tmpl->id)},
                               {"rows", base::RowCount{static_cast<std::int64_t>(rows)}},
                               {"cells", base::RowCount{entry.cells_released +
                                                        entry.cells_confidential}},
                               {"disclosure_us", base::RowCount{disclosure_us}},
                               {"code", absl::StatusCode::kOk}});
  return RunResult{std::move(release), request_id, std::nullopt, {}};
}

}  // namespace enclave::core
