// Composition root: policies, microdata, query log, lock file, core service and the mTLS server.
#include "enclave/server/server.h"

#include <grpcpp/server.h>
#include <grpcpp/server_builder.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <condition_variable>
#include <map>
#include <set>
#include <unordered_map>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <mutex>
#include <string>
#include <utility>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "enclave/adapters/cbc/cbc_solver.h"
#include "enclave/adapters/clp/clp_solver.h"
#include "enclave/adapters/policy_files/approvals.h"
#include "enclave/adapters/policy_files/access_files.h"
#include "enclave/adapters/policy_files/loader.h"
#include "enclave/adapters/sqlite/microdata_source.h"
#include "enclave/adapters/sqlite/audit_log_store.h"
#include "enclave/adapters/sqlite/release_history_store.h"
#include "enclave/adapters/sqlite/budget_ledger_store.h"
#include "enclave/crypto/private_random.h"
#include "enclave/base/file.h"
#include "enclave/base/log.h"
#include "enclave/base/status_macros.h"
#include "enclave/core/health.h"
#include "enclave/core/observed_log.h"
#include "enclave/core/query_service.h"
#include "enclave/core/record_keys.h"
#include "enclave/crypto/hmac.h"
#include "enclave/crypto/secret.h"
#include "enclave/crypto/secret_file.h"
#include "enclave/crypto/sha256.h"
#include "enclave/disclosure/rule_set.h"
#include "enclave/rpc/audit_service_impl.h"
#include "enclave/rpc/caller.h"
#include "enclave/rpc/health_service_impl.h"
#include "enclave/rpc/query_service_impl.h"
#include "enclave/server/auth_failures.h"
#include "enclave/server/lock_file.h"
#include "enclave/server/metrics.h"
#include "enclave/server/transport.h"

namespace enclave::server {
namespace {

using adapters::sqlite::SqliteMicrodataSource;
// The query log: the tamper-evident AuditLogStore (issue 4).
using QueryLogStore = adapters::sqlite::AuditLogStore;

struct Loaded {
  adapters::policy_files::LoadedPolicies policies;
  std::string data_version;
  // Templates without a valid four-eyes approval: logged, then the start is refused.
  std::vector<adapters::policy_files::ApprovalRefusal> approval_refusals;
};

absl::Status WithContext(const std::string& what, const absl::Status& status) {
  return absl::Status(status.code(), absl::StrCat(what, ": ", status.message()));
}

absl::Status WithContextIfError(const std::string& what, const absl::Status& status) {
  return status.ok() ? status : WithContext(what, status);
}

// Four eyes (issue 5 item 5): every template must carry a privacy officer's valid approval of its
// exact bytes (adapters/policy_files/approvals.h). Sets each template's approval; the refused
// ones go to loaded.approval_refusals. Without approvers_file or approvals_dir nothing starts.
absl::Status CheckTemplateApprovals(const Config& config, Loaded& loaded) {
  if (config.approvers_file.empty() || config.approvals_dir.empty()) {
    return absl::FailedPreconditionError(
        "approvers_file and approvals_dir are required: every template runs only under a "
        "privacy officer's approval (set them in the config file or with --approvers and "
        "--approvals; docs/privacy-officer.md)");
  }
  absl::StatusOr<adapters::policy_files::Approvers> approvers =
      adapters::policy_files::LoadApprovers(config.approvers_file);
  if (!approvers.ok()) return approvers.status();
  auto catalog = std::make_shared<core::TemplateCatalog>(*loaded.policies.catalog);
  const std::shared_ptr<const policy::PrincipalDirectory> principals = loaded.policies.principals;
  loaded.approval_refusals = adapters::policy_files::ApplyApprovals(
      &catalog->templates, config.approvals_dir, *approvers,
      [&principals](const std::string& id) {
        absl::StatusOr<policy::Principal> p = principals->Find(id);
        return p.ok() && p->role == templates::Role::kPrivacyOfficer;
      },
      absl::Now());
  loaded.policies.catalog = std::move(catalog);
  return absl::OkStatus();
}

// The database opens (with the expected data version), policies load and every
// template's SQL is checked against the database.
// REQUIRES: ValidateConfig(config) is OK.
absl::StatusOr<Loaded> LoadAll(const Config& config) {
  absl::StatusOr<std::unique_ptr<SqliteMicrodataSource>> source =
      SqliteMicrodataSource::Open(config.database_path);
  if (!source.ok()) {
    return WithContext(absl::StrCat("database_path ", config.database_path), source.status());
  }
  Loaded loaded;
  loaded.data_version = (*source)->DataVersion();
  if (!config.expected_data_version.empty() &&
      loaded.data_version != config.expected_data_version) {
    return absl::FailedPreconditionError(
        absl::StrCat("data_version: the database holds \"", loaded.data_version,
                     "\" but the configuration expects \"", config.expected_data_version, "\""));
  }
  absl::StatusOr<adapters::policy_files::LoadedPolicies> policies =
      adapters::policy_files::LoadPolicies(config.policies_dir, source->get());
  if (!policies.ok()) {
    return WithContext(absl::StrCat("policies_dir ", config.policies_dir), policies.status());
  }
  if (policies->catalog == nullptr || policies->principals == nullptr) {
    return absl::InternalError("policy loader returned no catalog or principals");
  }
  loaded.policies = *std::move(policies);
  ENCLAVE_RETURN_IF_ERROR(CheckTemplateApprovals(config, loaded));
  return loaded;
}

// All refused templates in one status; OK when there are none.
absl::Status ApprovalRefusalError(const Loaded& loaded) {
  if (loaded.approval_refusals.empty()) return absl::OkStatus();
  std::string message = absl::StrCat(
      loaded.approval_refusals.size(),
      " template(s) lack a valid four-eyes approval; enclaved serves approved templates only "
      "(docs/privacy-officer.md):");
  for (const adapters::policy_files::ApprovalRefusal& r : loaded.approval_refusals) {
    absl::StrAppend(&message, "\n", r.status.message());
  }
  return absl::FailedPreconditionError(message);
}

// Each refused template as a policy-refused entry: on record before enclaved refuses to start.
absl::Status LogApprovalRefusals(QueryLogStore& log, const Loaded& loaded) {
  for (const adapters::policy_files::ApprovalRefusal& r : loaded.approval_refusals) {
    core::QueryLogEntry entry;
    entry.type = core::QueryLogEntry::Type::kPolicyRefused;
    entry.template_id = r.template_id;
    entry.template_version = r.template_version;
    entry.template_sha256 = r.template_sha256;
    entry.data_version = loaded.data_version;
    entry.decision = "FAILED_PRECONDITION";
    entry.reason = std::string(r.status.message());
    ENCLAVE_RETURN_IF_ERROR(log.Append(entry));
  }
  return ApprovalRefusalError(loaded);
}

// The state directory holds the query log and two secrets: created 0700 when missing, refused
// when group or others may use it (or another user owns it), as systemd's StateDirectoryMode=0700
// would have it. A symbolic link to such a directory is accepted (the target is checked).
absl::Status EnsureStateDir(const std::string& dir) {
  struct stat st {};
  if (::stat(dir.c_str(), &st) != 0) {
    if (errno != ENOENT) {
      return absl::UnavailableError(
          absl::StrCat("state_dir: cannot stat ", dir, ": ", std::strerror(errno)));
    }
    if (::mkdir(dir.c_str(), 0700) != 0 && errno != EEXIST) {
      return absl::UnavailableError(
          absl::StrCat("state_dir: cannot create ", dir, ": ", std::strerror(errno)));
    }
    if (::stat(dir.c_str(), &st) != 0) {
      return absl::UnavailableError(
          absl::StrCat("state_dir: cannot stat ", dir, ": ", std::strerror(errno)));
    }
  }
  return crypto::CheckPrivateDirStat("state_dir", dir, st);
}

// Written atomically: readers never see a partial port.
absl::Status WritePortFile(const std::string& path, int port) {
  const absl::Status s =
      base::WriteFileAtomically(path, absl::StrCat(port, "\n"), base::DefaultFileMode());
  if (!s.ok()) return absl::UnavailableError(absl::StrCat("port_file: ", s.message()));
  return absl::OkStatus();
}

// Record keys from the stable pseudonym of a unit (disclosure-control.md §5.1): templates return
// the derived layer's pnr, whose record key is that of the person's rinpersoon, so keys survive
// new data versions. Units without a known pseudonym are keyed by themselves.
class PseudonymKeySource final : public core::RecordKeySource {
 public:
  PseudonymKeySource(const crypto::RecordKeyer& keyer,
                     std::unordered_map<std::string, std::string> pseudonyms)
      : keyer_(keyer), pseudonyms_(std::move(pseudonyms)) {}
  std::uint32_t KeyFor(std::string_view unit_type, std::string_view unit) override {
    auto it = pseudonyms_.find(std::string(unit));
    return keyer_.RecordKey(unit_type, it != pseudonyms_.end() ? std::string_view(it->second) : unit);
  }

 private:
  const crypto::RecordKeyer& keyer_;
  const std::unordered_map<std::string, std::string> pseudonyms_;  // immutable: thread-safe reads
};

class HistoryAdapter final : public core::ReleaseHistory {
 public:
  explicit HistoryAdapter(std::unique_ptr<adapters::sqlite::SqliteReleaseHistory> store)
      : store_(std::move(store)) {}
  absl::Status Append(const disclosure::GuardKey& key, std::string_view basis,
                      const disclosure::GuardRecord& added) override {
    return store_->Append(key, basis, added);
  }

 private:
  std::unique_ptr<adapters::sqlite::SqliteReleaseHistory> store_;
};

// Everything the disclosure step needs, alive as long as the server: the record-key secret and
// keyer, unit indices per unit type, the differencing guard with its history.
struct DisclosureState {
  std::unique_ptr<crypto::Secret> secret;
  std::unique_ptr<crypto::RecordKeyer> keyer;
  std::unique_ptr<PseudonymKeySource> keys;
  std::map<std::string, std::unique_ptr<core::UnitIndex>> indices;
  std::shared_ptr<disclosure::DifferencingGuard> guard;
  std::shared_ptr<HistoryAdapter> history;
};

// Start-up of the disclosure services; any failure refuses the start (fail closed).
// Persons, establishments (T10's vestiging-periods) and enterprises (the entities T10's thresholds
// count): a universe-mode index over every unit of
// the data version that the store lists (stable numbering, so the guard's history is persisted).
// Other unit types: a first-seen index; their populations are guarded in memory only (not across
// restarts).
absl::StatusOr<std::shared_ptr<DisclosureState>> StartDisclosure(
    const Config& config, const Loaded& loaded) {
  auto state = std::make_shared<DisclosureState>();
  const std::filesystem::path dir(config.state_dir);
  ENCLAVE_ASSIGN_OR_RETURN(crypto::Secret secret,
                           crypto::LoadOrCreateSecret((dir / "record_key.secret").string()));
  state->secret = std::make_unique<crypto::Secret>(std::move(secret));
  state->keyer = std::make_unique<crypto::RecordKeyer>(*state->secret);

  absl::StatusOr<std::unique_ptr<SqliteMicrodataSource>> source =
      SqliteMicrodataSource::Open(config.database_path);
  if (!source.ok()) return WithContext("database_path", source.status());
  std::set<std::string> unit_types;
  for (const templates::Template& t : loaded.policies.catalog->templates) {
    unit_types.insert(t.unit);
    // The entities a template's thresholds and guard count (T10: enterprises) are indexed too.
    if (!t.disclosure.threshold_entity.empty()) unit_types.insert(t.disclosure.threshold_entity);
  }
  std::unordered_map<std::string, std::string> pseudonyms;
  std::map<std::string, std::vector<std::string>> universes;
  for (const std::string& type : unit_types) {
    absl::StatusOr<std::vector<core::MicrodataSource::UnitKey>> units = (*source)->ListUnits(type);
    if (units.status().code() == absl::StatusCode::kNotFound) continue;
    if (!units.ok()) return WithContext("unit index " + type, units.status());
    std::vector<std::string>& universe = universes[type];
    universe.reserve(units->size());
    for (core::MicrodataSource::UnitKey& u : *units) {
      if (u.unit != u.pseudonym) pseudonyms.emplace(u.unit, u.pseudonym);
      universe.push_back(std::move(u.unit));
    }
  }
  state->keys = std::make_unique<PseudonymKeySource>(*state->keyer, std::move(pseudonyms));
  for (const std::string& type : unit_types) {
    auto it = universes.find(type);
    state->indices[type] = it != universes.end()
                               ? core::UnitIndex::FromUniverse(type, std::move(it->second), *state->keys)
                               : std::make_unique<core::UnitIndex>(type, *state->keys);
  }

  state->guard = std::make_shared<disclosure::DifferencingGuard>();
  absl::StatusOr<std::unique_ptr<adapters::sqlite::SqliteReleaseHistory>> history =
      adapters::sqlite::SqliteReleaseHistory::Open((dir / "release_history.db").string());
  if (!history.ok()) return WithContext("release history in state_dir", history.status());
  DisclosureState* raw = state.get();
  ENCLAVE_RETURN_IF_ERROR(WithContextIfError(
      "release history in state_dir",
      (*history)->LoadInto(
          loaded.data_version,
          [raw](std::string_view type) -> std::string {
            auto it = raw->indices.find(std::string(type));
            return it != raw->indices.end() ? it->second->basis() : std::string();
          },
          *state->guard)));
  state->history = std::make_shared<HistoryAdapter>(*std::move(history));
  base::LogInfo("disclosure_ready",
                {{"persons", base::RowCount{static_cast<std::int64_t>(
                                 state->indices.count("person") != 0
                                     ? state->indices["person"]->size()
                                     : 0)}}});
  return state;
}

// The deny-list as start-up reads it: a malformed file stops the start (StartServer and --check).
absl::Status CheckDenyList(adapters::policy_files::FileRevocationSource& revocations) {
  absl::Status s = revocations.Current().status();
  return s.ok() ? s
                : WithContext("deny-list policies/access/revoked.textproto cannot be used (enclaved "
                              "would refuse every call, so it does not start; fix the file)",
                              s);
}

core::QueryLogEntry LifecycleEntry(core::QueryLogEntry::Type type, const std::string& data_version,
                                   std::string reason) {
  core::QueryLogEntry entry;
  entry.type = type;
  entry.data_version = data_version;
  entry.decision = "allowed";
  entry.reason = std::move(reason);
  return entry;
}

}  // namespace

absl::StatusOr<std::string> PolicyLoadedDetail(const core::TemplateCatalog& catalog,
                                               const std::string& policies_dir) {
  std::string detail;
  for (const templates::Template& t : catalog.templates) {
    absl::StrAppend(&detail, "template ", t.id, "@", t.version, " sha256=", t.text_sha256,
                    " rule_set=", t.disclosure.rule_set, "\n");
  }
  for (const auto& [id, rules] : catalog.rule_sets) {
    absl::StrAppend(&detail, "rule_set ", disclosure::Tag(rules),
                    " canonical_sha256=", crypto::Sha256Hex(disclosure::CanonicalText(rules)),
                    "\n");
  }
  const std::filesystem::path principals =
      std::filesystem::path(policies_dir) / "access" / "principals.textproto";
  std::ifstream in(principals, std::ios::binary);
  std::ostringstream text;
  text << in.rdbuf();
  if (!in.good() && !in.eof()) {
    return absl::UnavailableError(absl::StrCat("cannot read ", principals.string()));
  }
  absl::StrAppend(&detail, "principals sha256=", crypto::Sha256Hex(text.str()), "\n");
  return detail;
}

namespace {

// Health (issue 13): the state directory must take writes (not a read-only file system, at least
// 1 MiB free), or the next query-log write would fail and every query be refused.
absl::Status StateDirWritable(const std::string& dir) {
  struct statvfs fs {};
  if (::statvfs(dir.c_str(), &fs) != 0) return absl::UnavailableError("cannot stat state_dir");
  if ((fs.f_flag & ST_RDONLY) != 0) return absl::UnavailableError("state_dir is read-only");
  const unsigned long long free_bytes =
      static_cast<unsigned long long>(fs.f_bavail) * static_cast<unsigned long long>(fs.f_frsize);
  if (free_bytes < (1ULL << 20)) return absl::UnavailableError("state_dir is full");
  return absl::OkStatus();
}

// What the health service and the metrics endpoint need, alive as long as the server.
struct Observability {
  std::shared_ptr<core::HealthMonitor> monitor;
  std::unique_ptr<rpc::HealthServiceImpl> health_service;  // registered with the gRPC server
  std::unique_ptr<MetricsEndpoint> metrics;                // null when metrics_listen is off
};

class RunningServerImpl final : public RunningServer {
 public:
  RunningServerImpl(LockFile lock, std::shared_ptr<QueryLogStore> log,
                    std::shared_ptr<DisclosureState> disclosure,
                    std::shared_ptr<core::QueryService> core,
                    std::unique_ptr<rpc::QueryServiceImpl> service, std::string data_version,
                    int shutdown_grace_ms)
      : lock_(std::move(lock)),
        log_(std::move(log)),
        disclosure_(std::move(disclosure)),
        core_(std::move(core)),
        service_(std::move(service)),
        data_version_(std::move(data_version)),
        shutdown_grace_ms_(shutdown_grace_ms) {}

  ~RunningServerImpl() override { Shutdown(); }

  // Finishes construction once the server is listening.
  // The AuditService (issue 4): kept with the query service, destroyed after the server.
  void KeepAuditService(std::unique_ptr<rpc::AuditServiceImpl> audit) {
    audit_service_ = std::move(audit);
  }
  // Failed-handshake summaries (security.md §2.2): stopped after the server, before server-stop.
  void KeepAuthFailureReporter(std::unique_ptr<AuthFailureReporter> reporter) {
    auth_failures_ = std::move(reporter);
  }
  // Health and metrics (issue 13): NOT_SERVING first thing at shutdown; the endpoint stops
  // after the gRPC server, before the log is closed.
  void KeepObservability(Observability observability) {
    observability_ = std::move(observability);
  }
  void MarkServing() {
    if (observability_.monitor != nullptr) observability_.monitor->MarkServing();
  }
  int metrics_port() const override {
    return observability_.metrics != nullptr ? observability_.metrics->port() : 0;
  }

  void Attach(std::unique_ptr<grpc::Server> server, int port) {
    server_ = std::move(server);
    port_ = port;
  }

  int port() const override { return port_; }
  core::AdmissionStats admission_stats() const override { return core_->admission_stats(); }

  void Shutdown() override {
    {
      std::unique_lock<std::mutex> lock(mu_);
      if (stopping_) {
        cv_.wait(lock, [&] { return stopped_; });
        return;
      }
      stopping_ = true;
    }
    if (observability_.monitor != nullptr) observability_.monitor->MarkStopping();
    if (server_ != nullptr) {
      server_->Shutdown(std::chrono::system_clock::now() +
                        std::chrono::milliseconds(shutdown_grace_ms_));
      server_->Wait();
    }
    if (observability_.metrics != nullptr) observability_.metrics->Stop();
    if (auth_failures_ != nullptr) {
      if (absl::Status s = auth_failures_->Stop(); !s.ok()) {
        base::LogError("auth_failure_summary_not_logged", {{"code", s.code()}});
      }
    }
    absl::Status logged = log_->Append(
        LifecycleEntry(core::QueryLogEntry::Type::kServerStop, data_version_, "shutdown"));
    if (!logged.ok()) base::LogError("server_stop_not_logged", {{"code", logged.code()}});
    // The final signed checkpoint covers every acknowledged entry, the stop included. After a
    // failed write the log refuses everything, so neither can happen: say so (StopStatus).
    absl::Status closed = log_->Close();
    if (closed.ok() && log_->LatestCheckpoint().size != log_->Size()) {
      closed = absl::DataLossError("the latest signed checkpoint does not cover every entry");
    }
    if (!closed.ok()) base::LogError("final_checkpoint_not_signed", {{"code", closed.code()}});
    absl::Status stop_status;
    if (!logged.ok() || !closed.ok()) {
      std::string what = !logged.ok() && !closed.ok() ? "the stop was not logged and the final "
                                                        "checkpoint was not signed"
                         : !logged.ok()               ? "the stop was not logged"
                                                      : "the final checkpoint was not signed";
      stop_status = absl::DataLossError(absl::StrCat(
          what, " (", !logged.ok() ? logged.message() : closed.message(),
          "); entries after the last signed checkpoint are not covered by a signature: check "
          "the disk, then start enclaved, whose start-up re-checks the query log"));
      base::LogWarning("stopped_unclean", {});
    } else {
      base::LogInfo("stopped", {});
    }
    {
      std::lock_guard<std::mutex> lock(mu_);
      stop_status_ = std::move(stop_status);
      stopped_ = true;
    }
    cv_.notify_all();
  }

  void Wait() override {
    std::unique_lock<std::mutex> lock(mu_);
    cv_.wait(lock, [&] { return stopped_; });
  }

  absl::Status CheckAlive() override { return log_->Ping(); }
  absl::Status StopStatus() override {
    std::lock_guard<std::mutex> lock(mu_);
    if (!stopped_) return absl::FailedPreconditionError("the server has not stopped");
    return stop_status_;
  }

 private:
  // Destruction order matters: the gRPC server goes first, then the service it calls, the core,
  // the log, and the lock last.
  LockFile lock_;
  std::shared_ptr<QueryLogStore> log_;
  std::shared_ptr<DisclosureState> disclosure_;
  std::shared_ptr<core::QueryService> core_;
  std::unique_ptr<rpc::QueryServiceImpl> service_;
  std::unique_ptr<rpc::AuditServiceImpl> audit_service_;
  std::unique_ptr<AuthFailureReporter> auth_failures_;
  Observability observability_;
  std::unique_ptr<grpc::Server> server_;
  std::string data_version_;
  int shutdown_grace_ms_;
  int port_ = 0;
  std::mutex mu_;
  std::condition_variable cv_;
  bool stopping_ = false;  // guarded by mu_
  bool stopped_ = false;   // guarded by mu_
  absl::Status stop_status_;  // guarded by mu_; set when stopped_
};

}  // namespace

absl::StatusOr<ConfigCheck> CheckConfiguration(const Config& config) {
  ENCLAVE_RETURN_IF_ERROR(ValidateConfig(config));
  ENCLAVE_RETURN_IF_ERROR(MakeServerCredentials(config).status());
  ENCLAVE_ASSIGN_OR_RETURN(Loaded loaded, LoadAll(config));
  ENCLAVE_RETURN_IF_ERROR(ApprovalRefusalError(loaded));
  // A malformed deny-list would refuse every call once serving: say so before starting.
  adapters::policy_files::FileRevocationSource revoked(
      std::filesystem::path(config.policies_dir) / adapters::policy_files::kRevokedFile);
  ENCLAVE_RETURN_IF_ERROR(CheckDenyList(revoked));
  // A configured query-log signing key (e.g. a systemd credential) must load now, mode, owner and
  // format included, or the start would fail after --check passed. The default key in state_dir
  // is created by the first start, so only a configured one is checked here.
  if (!config.log_signing_key_file.empty()) {
    adapters::sqlite::AuditLogOptions log_options;
    log_options.state_dir = config.state_dir;
    log_options.signing_key_file = config.log_signing_key_file;
    ENCLAVE_RETURN_IF_ERROR(WithContextIfError(
        "query log signing key (log_signing_key_file)",
        adapters::sqlite::LoadLogSigner(log_options).status()));
  }
  ConfigCheck check;
  check.templates = loaded.policies.catalog->templates.size();
  check.principals = loaded.policies.principals->size();
  return check;
}

absl::StatusOr<std::unique_ptr<RunningServer>> StartServer(const Config& config) {
  ENCLAVE_RETURN_IF_ERROR(ValidateConfig(config));
  ENCLAVE_ASSIGN_OR_RETURN(std::shared_ptr<grpc::ServerCredentials> creds,
                           MakeServerCredentials(config));
  ENCLAVE_RETURN_IF_ERROR(EnsureStateDir(config.state_dir));
  const std::filesystem::path state_dir(config.state_dir);
  // The lock comes before the query log is opened, so a second instance touches nothing.
  ENCLAVE_ASSIGN_OR_RETURN(LockFile lock,
                           LockFile::Acquire((state_dir / "enclaved.lock").string()));
  ENCLAVE_ASSIGN_OR_RETURN(Loaded loaded, LoadAll(config));

  // The audit log refuses to open a rolled-back or rewritten log (state_dir/checkpoint).
  adapters::sqlite::AuditLogOptions log_options;
  log_options.state_dir = config.state_dir;
  log_options.signing_key_file = config.log_signing_key_file;
  log_options.checkpoint_every_entries =
      static_cast<std::uint64_t>(config.checkpoint_every_entries);
  log_options.checkpoint_interval = std::chrono::milliseconds(config.checkpoint_interval_ms);
  log_options.durable = config.audit_log_durable;
  if (!config.audit_log_durable) base::LogWarning("query_log_not_durable_benchmark_only", {});
  log_options.checkpoint_every_commit = config.audit_log_checkpoint_every_commit;
  if (!config.audit_log_checkpoint_every_commit) {
    base::LogWarning("query_log_commits_unsigned_benchmark_only", {});
  }
  absl::StatusOr<std::unique_ptr<QueryLogStore>> opened_log = QueryLogStore::Open(log_options);
  if (!opened_log.ok()) return WithContext("query log in state_dir", opened_log.status());
  std::shared_ptr<QueryLogStore> log = *std::move(opened_log);
  ENCLAVE_RETURN_IF_ERROR(LogApprovalRefusals(*log, loaded));
  // Issue 13: the services write through ObservedQueryLog, which counts every decision for the
  // metrics (labels: the loaded templates only) and tells the health service when writes fail.
  std::shared_ptr<core::QueryLogMetrics> request_metrics;
  {
    std::set<std::string> template_ids;
    for (const templates::Template& t : loaded.policies.catalog->templates) {
      template_ids.insert(t.id);
    }
    request_metrics = std::make_shared<core::QueryLogMetrics>(std::move(template_ids));
  }
  auto observed_log = std::make_shared<core::ObservedQueryLog>(log, request_metrics);

  const std::string database_path = config.database_path;
  core::QueryService::SourceFactory factory =
      [database_path]() -> absl::StatusOr<std::unique_ptr<core::MicrodataSource>> {
    absl::StatusOr<std::unique_ptr<SqliteMicrodataSource>> source =
        SqliteMicrodataSource::Open(database_path);
    if (!source.ok()) return source.status();
    return std::unique_ptr<core::MicrodataSource>(*std::move(source));
  };
  core::QueryServiceOptions options;
  options.max_concurrent_queries = config.max_concurrent_queries;
  options.max_queued_queries = config.max_queued_queries;
  options.max_queue_wait = std::chrono::milliseconds(config.max_queue_wait_ms);
  options.sha256_hex = [](std::string_view data) { return crypto::Sha256Hex(data); };
  ENCLAVE_ASSIGN_OR_RETURN(std::shared_ptr<DisclosureState> disclosure,
                           StartDisclosure(config, loaded));
  std::shared_ptr<policy::RevocationSource> revocations;
  {
    DisclosureState* raw = disclosure.get();
    options.unit_index = [raw](const std::string& type) -> core::UnitIndex* {
      auto it = raw->indices.find(type);
      return it != raw->indices.end() ? it->second.get() : nullptr;
    };
    options.solver_factory = []() -> std::unique_ptr<disclosure::LpSolver> {
      return std::make_unique<adapters::clp::ClpSolver>();
    };
    options.integer_solver_factory = []() -> std::unique_ptr<disclosure::IntegerSolver> {
      return std::make_unique<adapters::cbc::CbcSolver>();
    };
    options.magnitude_key = [raw](std::string_view variable, std::uint32_t j, std::uint32_t ck) {
      return raw->keyer->MagnitudeKey(variable, j, ck);
    };
    options.record_key_version = raw->keyer->KeyId();
    options.guard = raw->guard;
    options.history = raw->history;
    // Access policy (issue 5): researcher agreements, the deny-list (re-read when it changes, asked
    // on every call of both services), per-principal limits (from the principals).
    options.agreements = loaded.policies.agreements;
    auto deny_list = std::make_shared<adapters::policy_files::FileRevocationSource>(
        std::filesystem::path(config.policies_dir) / adapters::policy_files::kRevokedFile);
    // A malformed deny-list would refuse every call once serving: refuse to start instead, as
    // --check does (a list broken later, while serving, still refuses every call: fail closed).
    ENCLAVE_RETURN_IF_ERROR(CheckDenyList(*deny_list));
    revocations = deny_list;  // the health service asks it too
    options.revocations = revocations;
    rpc::SetProcessRevocations(revocations);
    base::LogInfo("record_key", {{"version", base::Word(raw->keyer->KeyId())}});
  }
  // Differentially private researcher templates (issue 5, docs/differential-privacy.md): the
  // privacy-budget ledger next to the other stores, noise from OpenSSL's private generator.
  // Reservations a stopped process left open are charged (data may have been read).
  std::shared_ptr<core::BudgetLedger> budget_ledger;
  {
    absl::StatusOr<std::unique_ptr<adapters::sqlite::SqliteBudgetLedger>> ledger =
        adapters::sqlite::SqliteBudgetLedger::Open((state_dir / "budget_ledger.db").string());
    if (!ledger.ok()) return WithContext("budget ledger in state_dir", ledger.status());
    if (absl::StatusOr<std::int64_t> settled = (*ledger)->SettleAbandonedReservations();
        !settled.ok()) {
      return WithContext("budget ledger in state_dir", settled.status());
    }
    budget_ledger = std::shared_ptr<core::BudgetLedger>(*std::move(ledger));
    options.dp_releaser = std::make_shared<core::DpReleaser>(
        budget_ledger, std::make_shared<crypto::PrivateRandom>(), observed_log);
  }
  auto core_service = std::make_shared<core::QueryService>(
      loaded.policies.catalog, loaded.policies.principals, std::move(factory), observed_log,
      std::move(options));
  rpc::DeadlinePolicy deadlines;
  deadlines.default_deadline_ms = config.default_deadline_ms;
  deadlines.max_deadline_ms = config.max_deadline_ms;
  auto service = std::make_unique<rpc::QueryServiceImpl>(core_service, deadlines);
  // The privacy officer's AuditService (issue 4) reads the same log and logs refusals to it.
  auto audit_service = std::make_unique<rpc::AuditServiceImpl>(std::make_shared<core::AuditService>(
      loaded.policies.principals, adapters::sqlite::MakeAuditReader(log), observed_log,
      core::AuditServiceOptions{}));

  // Health (grpc.health.v1, operators only) and metrics (issue 13).
  Observability observability;
  observability.monitor = std::make_shared<core::HealthMonitor>(
      observed_log, [dir = config.state_dir] { return StateDirWritable(dir); });
  auto health = std::make_shared<core::HealthService>(
      loaded.policies.principals, revocations, observed_log, observability.monitor,
      std::vector<std::string>{"", "enclave.v1.QueryService", "enclave.v1.AuditService"});
  observability.health_service = std::make_unique<rpc::HealthServiceImpl>(health);
  if (!config.metrics_listen.empty()) {
    MetricsSources sources;
    sources.requests = request_metrics;
    sources.health = health;
    sources.log = log;
    sources.state_dir = config.state_dir;
    sources.ledger = budget_ledger;
    if (loaded.policies.agreements != nullptr) {
      for (const policy::Agreement* a : loaded.policies.agreements->All()) {
        for (core::LedgerLimit& l :
             core::BudgetLimits(*a, loaded.data_version, loaded.policies.agreements.get())) {
          sources.ledgers.push_back(std::move(l));
        }
      }
    }
    sources.handshake_totals = [] { return HandshakeFailureTotals(); };
    sources.admission = [weak = std::weak_ptr<core::QueryService>(core_service)] {
      std::shared_ptr<core::QueryService> alive = weak.lock();
      return alive != nullptr ? alive->admission_stats() : core::AdmissionStats{};
    };
    sources.version = ENCLAVE_VERSION;
    absl::StatusOr<std::unique_ptr<MetricsEndpoint>> endpoint = MetricsEndpoint::Start(
        config.metrics_listen, [sources] { return RenderMetrics(sources); });
    if (!endpoint.ok()) return endpoint.status();
    observability.metrics = *std::move(endpoint);
  }

  // Nothing is served before the start is on record.
  if (absl::Status s = observed_log->Append(LifecycleEntry(core::QueryLogEntry::Type::kServerStart,
                                                  loaded.data_version, ""));
      !s.ok()) {
    return WithContext("query log: cannot record the server start", s);
  }
  // The policies in force, by id@version and hash (security.md §1.2 "policy changes").
  {
    ENCLAVE_ASSIGN_OR_RETURN(std::string detail,
                             PolicyLoadedDetail(*loaded.policies.catalog, config.policies_dir));
    core::QueryLogEntry entry = LifecycleEntry(core::QueryLogEntry::Type::kPolicyLoaded,
                                               loaded.data_version, "");
    entry.detail = std::move(detail);
    if (absl::Status s = observed_log->Append(entry); !s.ok()) {
      return WithContext("query log: cannot record the loaded policies", s);
    }
  }
  InstallHandshakeFailureCapture();

  grpc::ServerBuilder builder;
  ConfigureServerBuilder(config, builder);
  int selected_port = 0;
  builder.AddListeningPort(config.listen_address, creds, &selected_port);
  builder.RegisterService(service.get());
  builder.RegisterService(audit_service.get());
  builder.RegisterService(observability.health_service.get());
  std::unique_ptr<grpc::Server> server = builder.BuildAndStart();
  if (server == nullptr || selected_port <= 0) {
    if (server != nullptr) server->Shutdown(std::chrono::system_clock::now());
    log->Append(LifecycleEntry(core::QueryLogEntry::Type::kServerStop, loaded.data_version,
                               "bind failed"))
        .IgnoreError();  // the bind error below is what matters
    return absl::UnavailableError(
        absl::StrCat("cannot listen on ", config.listen_address,
                     " (address in use, or not an address of this host)"));
  }

  auto running = std::make_unique<RunningServerImpl>(std::move(lock), log, disclosure, core_service,
                                                     std::move(service), loaded.data_version,
                                                     config.shutdown_grace_ms);
  running->KeepAuditService(std::move(audit_service));
  running->KeepAuthFailureReporter(std::make_unique<AuthFailureReporter>(
      observed_log, std::chrono::milliseconds(config.auth_failure_summary_interval_ms),
      loaded.data_version));
  running->KeepObservability(std::move(observability));
  running->Attach(std::move(server), selected_port);
  if (!config.port_file.empty()) {
    if (absl::Status s = WritePortFile(config.port_file, selected_port); !s.ok()) {
      running->Shutdown();
      return s;
    }
  }
  running->MarkServing();
  return std::unique_ptr<RunningServer>(std::move(running));
}

}  // namespace enclave::server
