// The query use cases, free of gRPC: list, describe and run templates for an authenticated caller.
//
// Every call authorises the caller (role from the policy) and writes the query log before it
// returns anything; if the log write fails, the call fails and nothing is released.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <functional>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "enclave/core/admission.h"
#include "enclave/core/aggregate.h"
#include "enclave/core/dp_release.h"
#include "enclave/core/ports.h"
#include "enclave/core/query_log.h"
#include "enclave/core/record_keys.h"
#include "enclave/disclosure/cell_key.h"
#include "enclave/disclosure/differencing.h"
#include "enclave/disclosure/integer_solver.h"
#include "enclave/disclosure/lp_solver.h"
#include "enclave/core/release.h"
#include "enclave/disclosure/threshold.h"
#include "enclave/policy/access.h"
#include "enclave/policy/principals.h"
#include "enclave/templates/hints.h"
#include "enclave/templates/template.h"

namespace enclave::core {

struct TemplateCatalog {
  std::vector<templates::Template> templates;                 // sorted by id
  std::map<std::string, disclosure::RuleSetParams> rule_sets;  // by rule set id
  const templates::Template* Find(const std::string& id) const;
};

// What a differentially private release charged the caller (docs/differential-privacy.md §4).
struct DpCharge {
  std::int64_t charged_micro = 0;  // micro-ε; 0 for an identical repeat served from the store
  bool repeat = false;
  // The request's ledgers after the charge; empty when the ledger could not be read then (the
  // release stands: the charge itself is durable).
  std::vector<LedgerBalance> balances;
};

struct RunResult {
  Release release;
  std::string request_id;
  // Set for differentially private releases only.
  std::optional<DpCharge> dp_charge;
  // Alternatives when every inner cell is withheld (core/alternatives.h); from the template and
  // the parameters only, never from the data.
  std::vector<templates::Suggestion> suggestions;
};

struct QueryServiceOptions {
  // Queries running at once across all callers (admission.h). A caller beyond it waits in a FIFO
  // queue of at most max_queued_queries callers, up to its deadline and at most max_queue_wait;
  // when it still cannot run, RunQuery answers kResourceExhausted with "retry after N s" and the
  // hint of base/retry_hint.h. max_queued_queries 0 or max_queue_wait 0: refused at once.
  int max_concurrent_queries = 8;
  int max_queued_queries = 64;
  std::chrono::milliseconds max_queue_wait{10000};
  // SHA-256 (lower-case hex) used for the released bytes' digest in the query log.
  std::function<std::string(std::string_view)> sha256_hex;

  // Disclosure control (disclosure-control.md §2). All required: RunQuery refuses with kInternal,
  // before reading any data, when one is missing.
  // The unit index of a unit type ("person", ...); nullptr when there is none.
  std::function<UnitIndex*(const std::string& unit_type)> unit_index;
  // One LP solver per query (solvers are not thread-safe).
  std::function<std::unique_ptr<disclosure::LpSolver>()> solver_factory;
  // One integer solver per query for the integer check (§4.6), and its time limits. Optional:
  // without it, a table whose LP bounds may not be integral (more than two dimensions, a
  // multi-valued dimension) is refused when it has withheld cells.
  std::function<std::unique_ptr<disclosure::IntegerSolver>()> integer_solver_factory;
  absl::Duration integer_per_solve = absl::Seconds(2);
  absl::Duration integer_per_table = absl::Seconds(10);
  // crypto::RecordKeyer::MagnitudeKey, and the key's public id (logged and in the metadata).
  disclosure::MagnitudeKeyFn magnitude_key;
  std::string record_key_version;
  // The differencing guard and its durable history (populations of a unit index without a basis
  // are kept in memory only).
  std::shared_ptr<disclosure::DifferencingGuard> guard;
  std::shared_ptr<ReleaseHistory> history;

  // Differentially private researcher templates (Template::dp set) run through this releaser;
  // without one, RunQuery refuses them with kFailedPrecondition before reading any data.
  std::shared_ptr<DpReleaser> dp_releaser;

  // Access policy (security.md §2.3–2.6). Researchers run queries only under an agreement of
  // this book; without one every researcher query is refused. The deny-list is asked on every
  // call (an error refuses everything: fail closed); null means no deny-list.
  std::shared_ptr<const policy::AgreementBook> agreements;
  std::shared_ptr<policy::RevocationSource> revocations;
  // The wall clock for agreement dates; absl::Now when unset.
  std::function<absl::Time()> now;
  // The steady clock of the per-principal rate limits; steady_clock::now when unset.
  std::function<std::chrono::steady_clock::time_point()> steady_now;
};

class QueryService {
 public:
  // `source_factory` makes one MicrodataSource per concurrent query (connections are not shared).
  using SourceFactory = std::function<absl::StatusOr<std::unique_ptr<MicrodataSource>>()>;

  QueryService(std::shared_ptr<const TemplateCatalog> catalog,
               std::shared_ptr<const policy::PrincipalDirectory> principals,
               SourceFactory source_factory, std::shared_ptr<QueryLog> log,
               QueryServiceOptions options);

  // kPermissionDenied for unknown callers or roles that may not list templates. Privacy officers
  // see every template; other roles those whose roles include theirs. Only refusals are logged
  // (as kRefused): a successful listing or description reveals no data.
  absl::StatusOr<std::vector<const templates::Template*>> ListTemplates(
      const std::string& caller_uri);
  // The same for a full certificate identity (what the rpc layer passes): the deny-list is
  // checked on the serial and fingerprint too, and log entries carry caller_cert_sha256.
  absl::StatusOr<std::vector<const templates::Template*>> ListTemplates(
      const policy::CallerIdentity& caller);

  // kNotFound (unknown template, or one the caller's role may not see; the two are not told
  // apart), kPermissionDenied for unknown callers.
  absl::StatusOr<const templates::Template*> DescribeTemplate(const std::string& caller_uri,
                                                              const std::string& template_id);
  absl::StatusOr<const templates::Template*> DescribeTemplate(const policy::CallerIdentity& caller,
                                                              const std::string& template_id);

  // DescribeTemplate with parameters (issue 12): the layout every release of the template for
  // these parameters has (its dimensions with their codes, each ReleasedDimensionOf, in the
  // release's order; the statistics are the template's), from the template and the parameters
  // only, never from data: what the privacy officer needs to decode a query-result entry's
  // cell_rules. The same authorisation as DescribeTemplate (officers see every template);
  // parameters the template refuses are kInvalidArgument, logged as refusals.
  struct Layout {
    const templates::Template* tmpl = nullptr;
    std::vector<templates::BoundParam> params;  // canonical (sorted by name)
    std::vector<ReleasedDimension> dimensions;
  };
  absl::StatusOr<Layout> DescribeLayout(
      const policy::CallerIdentity& caller, const std::string& template_id,
      const std::vector<std::pair<std::string, std::string>>& params);

  // kPermissionDenied, kNotFound, kInvalidArgument (parameters), kDeadlineExceeded, kCancelled,
  // kUnavailable (log, store or release history), kInternal, kFailedPrecondition (the table cannot
  // be protected, or the differencing guard refuses its populations; the message is safe to
  // show). Logs kAccepted before running and kResult before returning; refusals are logged as
  // kRefused, and failures after kAccepted as kAborted. The query-result entry carries the rule
  // set's parameters, the record-key version, the count ptable and per-cell rule ids with
  // parameters (officer-only). The operational log's query_done has disclosure_us: the time of
  // the disclosure step (rules, secondary suppression, cell keys, guard) in microseconds.
  //
  // Access (every call): a revoked certificate or principal (deny-list), or a deny-list that
  // cannot be read, is kPermissionDenied. A researcher needs an agreement in force that covers
  // the template and whose end is not before the certificate's notAfter (kPermissionDenied with
  // the agreement and what to do). Per-principal limits answer kResourceExhausted with
  // "retry after N s". Entries carry caller_cert_sha256 and project ("project" or, for
  // researchers, "project/agreement").
  absl::StatusOr<RunResult> RunQuery(
      const std::string& caller_uri, const std::string& template_id,
      const std::vector<std::pair<std::string, std::string>>& params, const Cancellation& cancel);
  absl::StatusOr<RunResult> RunQuery(
      const policy::CallerIdentity& caller, const std::string& template_id,
      const std::vector<std::pair<std::string, std::string>>& params, const Cancellation& cancel);
  // A FAILED_PRECONDITION refusal (the table cannot be released safely, or the differencing
  // guard or decomposition quota refuses it) carries alternatives (templates::WithSuggestions), and so does a release
  // whose inner cells are all withheld (RunResult::suggestions): core/alternatives.h.

  // The caller's privacy budgets: for a researcher, every ledger of each of their agreements
  // (agreement, project, current data version) with cap, spent, reserved and remaining, micro-ε.
  // kPermissionDenied for other roles (refusals logged as kRefused), kFailedPrecondition when no
  // budget ledger is configured, kUnavailable when the ledger or store fails.
  absl::StatusOr<std::vector<LedgerBalance>> GetBudget(const policy::CallerIdentity& caller);

  const TemplateCatalog& catalog() const { return *catalog_; }
  // The admission queue's counters (queued, shed, waits), for the operator and the benchmark.
  AdmissionStats admission_stats() const { return admission_.stats(); }

 private:
  // One RunQuery on its way through the steps of disclosure-control.md §2 (run_query.cc), each a
  // method that either moves the request on or refuses it through its RequestRecord.
  struct Request;
  // RunQuery without the alternatives (AddAlternatives adds them).
  absl::StatusOr<RunResult> Run(
      const policy::CallerIdentity& caller, const std::string& template_id,
      const std::vector<std::pair<std::string, std::string>>& params, const Cancellation& cancel);
  // Step 0, admit: who asks, whether their role may run queries, which template (unknown and
  // not-for-this-role are told apart by no one), and a researcher's agreement.
  absl::Status Admit(Request& r, const std::string& template_id);
  // Step 1, bind: the parameters checked against their declared domains.
  absl::Status BindParameters(Request& r,
                              const std::vector<std::pair<std::string, std::string>>& params);
  // What must hold before anything runs: the release path of the template is configured, and the
  // effective rule set (the template's floors applied).
  absl::Status CheckConfiguration(Request& r);
  // The principal's rate and concurrency limits (refused at once), then the enclave's admission
  // queue (may wait for a slot; refused with a retry hint when none comes in time).
  absl::Status TakeSlot(Request& r);
  // Step 2-10 for a differentially private template: DpReleaser (reserve, query, noise, charge).
  absl::StatusOr<RunResult> ReleaseDp(Request& r, std::unique_ptr<MicrodataSource> source);
  // Steps 3-4 and 6-9 for a cell-key template: scan the unit rows, aggregate, primary rules,
  // secondary suppression, perturbation (aggregate.h).
  absl::StatusOr<FinishedTable> BuildTable(Request& r, std::unique_ptr<MicrodataSource> source);
  // Step 5 (§6.1, §6.2): the differencing guard and decomposition quota over every SDC release
  // of the data version; records what the release adds to the history.
  absl::Status Guard(Request& r, FinishedTable& table, disclosure::GuardRecord* added);
  // Step 10: the query-result entry, then the history durable, then the answer.
  absl::StatusOr<RunResult> Publish(Request& r, FinishedTable table,
                                    const disclosure::GuardRecord& added);

  // A microdata source from the pool (or the factory), and back into the pool after a clean use.
  absl::StatusOr<std::unique_ptr<MicrodataSource>> TakeSource();
  void ReturnSource(std::unique_ptr<MicrodataSource> source);
  std::string NextRequestId();
  std::vector<LedgerLimit> BudgetLimits(const policy::Agreement& agreement,
                                        const std::string& data_version) const;
  // Shared by ListTemplates and DescribeTemplate: the caller must be a principal whose role may
  // browse templates; with `tmpl` set, the template must exist and be visible to that role.
  // Refusals are logged before they are returned.
  // The principal of `caller` when it is registered and not revoked; fills the entry's caller,
  // certificate digest, role and project. The refusal status otherwise (not yet logged).
  absl::StatusOr<policy::Principal> Identify(const policy::CallerIdentity& caller,
                                             QueryLogEntry& entry);
  absl::StatusOr<policy::Principal> AuthorizeBrowse(const policy::CallerIdentity& caller,
                                                    const char* rpc,
                                                    const std::string& template_id,
                                                    const templates::Template** tmpl);

  std::shared_ptr<const TemplateCatalog> catalog_;
  std::shared_ptr<const policy::PrincipalDirectory> principals_;
  SourceFactory source_factory_;
  std::shared_ptr<QueryLog> log_;
  QueryServiceOptions options_;
  std::mutex mu_;
  std::uint64_t next_request_ = 1;   // guarded by mu_
  std::string request_prefix_;       // "q-<construction time, base 36>-"
  std::vector<std::unique_ptr<MicrodataSource>> idle_sources_;  // guarded by mu_
  policy::PrincipalLimiter limiter_;
  AdmissionQueue admission_;
};

// The ledgers a DP release under `agreement` is charged to, with their caps: "agreement:<id>",
// and with `book` also "project:<project>" and "data-version:<version>" (§7.6).
std::vector<LedgerLimit> BudgetLimits(const policy::Agreement& agreement,
                                      const std::string& data_version,
                                      const policy::AgreementBook* book);

// SHA-256-free canonical bytes of a release (what the response carries); the rpc layer hashes
// the serialised response instead. Provided for tests of determinism.
std::string CanonicalReleaseText(const Release& release);

}  // namespace enclave::core
