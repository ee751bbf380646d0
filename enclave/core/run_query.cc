// QueryService::RunQuery: one request through the steps of disclosure-control.md §2, in order.
// Each step either moves the request on or refuses it through its RequestRecord, so that every
// decision is in the query log before the caller hears of it.
#include <algorithm>
#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <utility>

#include "absl/status/status.h"
#include "enclave/base/log.h"
#include "enclave/base/status_macros.h"
#include "enclave/core/aggregate.h"
#include "enclave/core/alternatives.h"
#include "enclave/core/internal/ids.h"
#include "enclave/core/query_service.h"
#include "enclave/core/request_record.h"
#include "enclave/templates/binding.h"

namespace enclave::core {
namespace {

using internal::Bounded;
using internal::NotFoundMessage;

// The visitor checks the cancellation once per this many rows (the source checks too).
constexpr std::uint64_t kCancelCheckRows = 4096;

absl::Status ExpiredStatus(const Cancellation& cancel) {
  if (std::chrono::steady_clock::now() >= cancel.deadline) {
    return absl::DeadlineExceededError("the query ran past its deadline and was stopped");
  }
  return absl::CancelledError("the query was cancelled by the caller");
}

// Officer-only provenance of a release, enough to replay it: every rule-set parameter, the
// record-key version, the count ptable, and per cell the rule that decided with its parameters.
std::string CellRules(const Release& release) {
  std::string out = "rules{" + release.rule_set_text + "} record_key{" +
                    release.record_key_version + "} counts{" + release.ptable + "} cells{";
  out.reserve(out.size() + release.provenance.size() * 12);
  for (std::size_t i = 0; i < release.provenance.size(); ++i) {
    if (i > 0) out += ',';
    out += release.provenance[i].rule;
    if (!release.provenance[i].params.empty()) {
      out += '[';
      out += release.provenance[i].params;
      out += ']';
    }
  }
  out += '}';
  return out;
}

}  // namespace

struct QueryService::Request {
  Request(QueryLog& log, std::string id, const policy::CallerIdentity& who, const Cancellation& c)
      : record(log, "RunQuery", std::move(id)), caller(who), cancel(c) {}

  RequestRecord record;
  const policy::CallerIdentity& caller;
  const Cancellation& cancel;
  policy::Principal principal;
  const templates::Template* tmpl = nullptr;
  const policy::Agreement* agreement = nullptr;  // researchers
  std::optional<templates::BoundQuery> bound;
  disclosure::RuleSetParams rules;  // the effective rule set (cell-key templates)
  UnitIndex* units = nullptr;
  // Of the template's disclosure.threshold_entity, when it declares one: the guard's populations
  // and the history's numbering are then in entities (disclosure-control.md §6.1).
  UnitIndex* entities = nullptr;
  std::optional<policy::PrincipalLimiter::Slot> principal_slot;
  std::optional<AdmissionQueue::Slot> enclave_slot;
  std::string data_version;
  std::uint64_t rows = 0;
  std::int64_t disclosure_us = 0;

  const std::string& id() const { return record.entry().request_id; }
};

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
  Request r(*log_, NextRequestId(), caller, cancel);
  r.record.entry().template_id = Bounded(template_id);
  ENCLAVE_RETURN_IF_ERROR(Admit(r, template_id));
  ENCLAVE_RETURN_IF_ERROR(BindParameters(r, params));
  ENCLAVE_RETURN_IF_ERROR(CheckConfiguration(r));
  ENCLAVE_RETURN_IF_ERROR(TakeSlot(r));
  // No query runs unlogged.
  ENCLAVE_RETURN_IF_ERROR(r.record.Accept());

  absl::StatusOr<std::unique_ptr<MicrodataSource>> source = TakeSource();
  if (!source.ok()) return r.record.Abort(source.status());
  r.data_version = (*source)->DataVersion();
  if (r.agreement != nullptr && !r.agreement->CoversDataset(r.data_version)) {
    return r.record.Abort(absl::PermissionDeniedError(
        "agreement " + r.agreement->id + " does not cover the current data version " +
        Bounded(r.data_version) + "; ask the privacy officer to extend it"));
  }
  if (r.tmpl->dp.has_value()) return ReleaseDp(r, *std::move(source));

  absl::StatusOr<FinishedTable> table = BuildTable(r, *std::move(source));
  if (!table.ok()) return r.record.Abort(table.status());
  disclosure::GuardRecord added;
  if (absl::Status guarded = Guard(r, *table, &added); !guarded.ok()) {
    return r.record.Abort(guarded);
  }
  return Publish(r, *std::move(table), added);
}

absl::Status QueryService::Admit(Request& r, const std::string& template_id) {
  QueryLogEntry& entry = r.record.entry();
  absl::StatusOr<policy::Principal> principal = Identify(r.caller, entry);
  if (!principal.ok()) return r.record.Refuse(principal.status());
  r.principal = *std::move(principal);
  if (!policy::MayRunQueries(r.principal.role)) {
    return r.record.Refuse(absl::PermissionDeniedError(
        "role '" + entry.role +
        "' may not run queries (separation of duties); only municipal analysts and researchers "
        "may"));
  }
  r.tmpl = catalog_->Find(template_id);
  if (r.tmpl == nullptr || !r.tmpl->AllowsRole(r.principal.role)) {
    return r.record.Refuse(absl::NotFoundError(NotFoundMessage(template_id)));
  }
  entry.template_id = r.tmpl->id;
  entry.template_version = r.tmpl->version;
  entry.template_sha256 = r.tmpl->text_sha256;
  if (r.tmpl->approval.has_value()) entry.template_approval = r.tmpl->approval->LogText();
  // Researchers only under an agreement in force that covers this template.
  if (r.principal.role == templates::Role::kResearcher) {
    if (options_.agreements == nullptr) {
      return r.record.Refuse(absl::PermissionDeniedError(
          "no researcher agreements are loaded; researchers cannot run queries"));
    }
    absl::StatusOr<const policy::Agreement*> found = options_.agreements->Authorize(
        r.principal, r.caller, r.tmpl->id, options_.now ? options_.now() : absl::Now());
    if (!found.ok()) return r.record.Refuse(found.status());
    r.agreement = *found;
    entry.project = r.agreement->project + "/" + r.agreement->id;
  }
  return absl::OkStatus();
}

absl::Status QueryService::BindParameters(
    Request& r, const std::vector<std::pair<std::string, std::string>>& params) {
  absl::StatusOr<templates::BoundQuery> bound = templates::Bind(*r.tmpl, params);
  if (!bound.ok()) return r.record.Refuse(bound.status());
  r.bound = *std::move(bound);
  r.record.entry().canonical_params = r.bound->CanonicalParams();
  return absl::OkStatus();
}

absl::Status QueryService::CheckConfiguration(Request& r) {
  const templates::Template& t = *r.tmpl;
  if (!options_.sha256_hex) {
    return r.record.Refuse(absl::InternalError("the query service has no digest function configured"));
  }
  if (t.dp.has_value()) {
    // Differential privacy (§7): only for a researcher under an agreement, with a budget charge.
    if (r.agreement == nullptr) {
      return r.record.Refuse(absl::PermissionDeniedError(
          "template " + t.id +
          " is released under differential privacy, for researchers under an agreement only"));
    }
    if (options_.dp_releaser == nullptr) {
      return r.record.Refuse(absl::FailedPreconditionError(
          "differentially private releases are not configured on this enclave; nothing was run"));
    }
    return absl::OkStatus();
  }
  auto rule_set = catalog_->rule_sets.find(t.disclosure.rule_set);
  if (rule_set == catalog_->rule_sets.end()) {
    return r.record.Refuse(absl::InternalError("template " + t.id + " names rule set '" +
                                               t.disclosure.rule_set + "', which is not loaded"));
  }
  r.rules = rule_set->second;
  r.rules.min_units = std::max(r.rules.min_units, t.disclosure.min_units);
  r.rules.min_share_denominator =
      std::max(r.rules.min_share_denominator, t.disclosure.min_share_denominator);
  r.units = options_.unit_index ? options_.unit_index(t.unit) : nullptr;
  if (!t.disclosure.threshold_entity.empty()) {
    r.entities = options_.unit_index ? options_.unit_index(t.disclosure.threshold_entity) : nullptr;
    if (r.entities == nullptr) {
      return r.record.Refuse(absl::InternalError(
          "disclosure control is not configured for the entities of template " + t.id + " (" +
          t.disclosure.threshold_entity + "); nothing was run"));
    }
  }
  if (r.units == nullptr || !options_.solver_factory || !options_.magnitude_key ||
      options_.guard == nullptr || options_.history == nullptr) {
    return r.record.Refuse(absl::InternalError("disclosure control is not configured for unit type '" +
                                               t.unit + "'; nothing was run"));
  }
  return absl::OkStatus();
}

absl::Status QueryService::TakeSlot(Request& r) {
  absl::StatusOr<policy::PrincipalLimiter::Slot> slot =
      limiter_.Acquire(r.principal.id, r.principal.limits);
  if (!slot.ok()) return r.record.Refuse(slot.status());
  r.principal_slot.emplace(*std::move(slot));
  // Waits (first in, first out) while the enclave runs its maximum; the principal's slot is held
  // meanwhile, so one principal never has more than its max_concurrent running or waiting.
  absl::StatusOr<AdmissionQueue::Slot> admitted = admission_.Acquire(r.cancel);
  if (!admitted.ok()) return r.record.Refuse(admitted.status());
  r.enclave_slot.emplace(*std::move(admitted));
  return absl::OkStatus();
}

absl::StatusOr<RunResult> QueryService::ReleaseDp(Request& r,
                                                  std::unique_ptr<MicrodataSource> source) {
  // The DpReleaser reserves the charge on every ledger before reading any row, draws the noise,
  // charges durably and logs kBudget entries; an identical repeat is served free.
  DpRequest request;
  request.query = &*r.bound;
  request.request_id = r.id();
  request.caller = r.caller.uri;
  request.role = r.record.entry().role;
  request.project = r.agreement->project;
  request.agreement = r.agreement->id;
  request.data_version = r.data_version;
  request.limits = BudgetLimits(*r.agreement, request.data_version);
  absl::StatusOr<DpOutcome> outcome = options_.dp_releaser->Run(request, *source, r.cancel);
  if (!outcome.ok()) return r.record.Abort(outcome.status());  // the source is dropped
  ReturnSource(std::move(source));

  core::Release release = std::move(outcome->release);
  QueryLogEntry& entry = r.record.entry();
  entry.rule_set = release.rule_set;
  entry.data_version = release.data_version;
  entry.cells_released = release.CountReleased();
  entry.cells_confidential = release.CountConfidential();
  entry.detail = "dp charged_micro=" + std::to_string(outcome->charged_micro) +
                 " repeat=" + (outcome->repeat ? "1" : "0") + " agreement=" + r.agreement->id;
  entry.result_sha256 = options_.sha256_hex(CanonicalReleaseText(release));
  ENCLAVE_RETURN_IF_ERROR(r.record.Result());
  base::LogInfo("query_done", {{"template", base::TemplateName(r.tmpl->id)},
                               {"cells", base::RowCount{entry.cells_released +
                                                        entry.cells_confidential}},
                               {"charged_micro", base::RowCount{outcome->charged_micro}},
                               {"code", absl::StatusCode::kOk}});
  // What the caller was charged, and what is left (best effort: the charge is durable).
  DpCharge charge{outcome->charged_micro, outcome->repeat, {}};
  if (auto balances = options_.dp_releaser->Balances(request.limits); balances.ok()) {
    charge.balances = *std::move(balances);
  }
  return RunResult{std::move(release), r.id(), std::move(charge), {}};
}

absl::StatusOr<FinishedTable> QueryService::BuildTable(Request& r,
                                                       std::unique_ptr<MicrodataSource> source) {
  // Step 3: one pass over the template's unit-level rows.
  TableBuilder builder(*r.bound);
  absl::Status scanned =
      source->Scan(*r.bound, r.cancel, [&](const RowView& row) -> absl::Status {
        if (++r.rows % kCancelCheckRows == 0 && r.cancel.Expired()) return ExpiredStatus(r.cancel);
        return builder.Add(row);
      });
  if (!scanned.ok()) return scanned;  // the source is dropped, not pooled
  ReturnSource(std::move(source));

  // Steps 4 and 6-9: primary rules, secondary suppression, perturbation (aggregate.h).
  std::unique_ptr<disclosure::LpSolver> solver = options_.solver_factory();
  if (solver == nullptr) return absl::InternalError("no LP solver available");
  std::unique_ptr<disclosure::IntegerSolver> integer_solver;
  if (options_.integer_solver_factory) integer_solver = options_.integer_solver_factory();
  DisclosureTools tools;
  tools.rules = &r.rules;
  tools.units = r.units;
  tools.entities = r.entities;
  tools.solver = solver.get();
  tools.integer.solver = integer_solver.get();  // null: tables that need it are refused
  tools.integer.per_solve = options_.integer_per_solve;
  tools.integer.per_table = options_.integer_per_table;
  tools.magnitude_key = options_.magnitude_key;
  ENCLAVE_ASSIGN_OR_RETURN(FinishedTable table, std::move(builder).Finish(tools, r.data_version));
  table.release.record_key_version = options_.record_key_version;
  r.disclosure_us = table.disclosure_micros;
  return table;
}

absl::Status QueryService::Guard(Request& r, FinishedTable& table, disclosure::GuardRecord* added) {
  // One history per data version and unit type for every caller: SDC releases are publishable.
  const auto start = std::chrono::steady_clock::now();
  // A template whose thresholds count entities (T10: enterprises) is guarded in entities: its
  // populations are entity populations, kept per data version and entity type.
  const disclosure::GuardKey key{r.data_version,
                                 r.entities != nullptr ? r.entities->unit_type() : r.tmpl->unit};
  disclosure::GuardLimits limits;
  limits.min_units = static_cast<std::uint64_t>(std::max<std::int64_t>(r.rules.min_units, 1));
  const std::size_t identity = r.entities != nullptr ? 1 : 0;  // EntityPopulation's element
  const std::string noun = r.entities != nullptr ? r.entities->unit_type() + "s" : "";
  limits.max_partitions = static_cast<std::uint32_t>(
      r.tmpl->disclosure.max_partitions > 0
          ? r.tmpl->disclosure.max_partitions
          : std::max<std::int64_t>(r.rules.decomposition_quota, 1));
  // Populations below T carry no released statistic (their counts fail the threshold), and two
  // disjoint small groups would otherwise "differ" by fewer than T: only populations of at least
  // T units are guarded.
  std::vector<disclosure::GuardedPopulation> guarded;
  for (disclosure::GuardedPopulation& p : table.populations) {
    if (p.units.size() >= limits.min_units + identity) guarded.push_back(std::move(p));
  }
  absl::Status status = options_.guard->CheckAndRecord(key, guarded, limits, added, noun);
  r.disclosure_us += std::chrono::duration_cast<std::chrono::microseconds>(
                         std::chrono::steady_clock::now() - start)
                         .count();
  return status;
}

absl::StatusOr<RunResult> QueryService::Publish(Request& r, FinishedTable table,
                                                const disclosure::GuardRecord& added) {
  core::Release& release = table.release;
  QueryLogEntry& entry = r.record.entry();
  entry.rule_set = release.rule_set;
  entry.data_version = release.data_version;
  entry.cells_released = release.CountReleased();
  entry.cells_confidential = release.CountConfidential();
  entry.cell_rules = CellRules(release);
  entry.result_sha256 = options_.sha256_hex(CanonicalReleaseText(release));
  // No answer leaves unlogged.
  ENCLAVE_RETURN_IF_ERROR(r.record.Result());
  // The guard's history is durable before anything is sent.
  const UnitIndex* numbering = r.entities != nullptr ? r.entities : r.units;
  if (!added.empty() && !numbering->basis().empty()) {
    const disclosure::GuardKey key{r.data_version, numbering->unit_type()};
    if (absl::Status kept = options_.history->Append(key, numbering->basis(), added); !kept.ok()) {
      base::LogError("release_history_write_failed", {{"code", kept.code()}});
      return r.record.Abort(absl::UnavailableError(
          "the release history is unavailable; the result was not released"));
    }
  }
  base::LogInfo("query_done", {{"template", base::TemplateName(r.tmpl->id)},
                               {"rows", base::RowCount{static_cast<std::int64_t>(r.rows)}},
                               {"cells", base::RowCount{entry.cells_released +
                                                        entry.cells_confidential}},
                               {"disclosure_us", base::RowCount{r.disclosure_us}},
                               {"code", absl::StatusCode::kOk}});
  return RunResult{std::move(release), r.id(), std::nullopt, {}};
}

}  // namespace enclave::core
