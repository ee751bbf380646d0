// Rendering the metrics (Prometheus text format 0.0.4) and the endpoint's HTTP/1.1 replies.
#include "enclave/server/metrics.h"

#include <sys/stat.h>

#include <charconv>
#include <cmath>
#include <filesystem>
#include <set>
#include <span>

#include "absl/strings/str_cat.h"
#include "enclave/adapters/sqlite/audit_log_store.h"
#include "enclave/server/auth_failures.h"

namespace enclave::server {
namespace {

using Labels = std::vector<std::pair<std::string_view, std::string>>;

std::string Number(double v) {
  if (std::isnan(v)) return "NaN";
  if (std::isinf(v)) return v > 0 ? "+Inf" : "-Inf";
  if (v == std::floor(v) && std::fabs(v) < 9e15) {
    return std::to_string(static_cast<std::int64_t>(v));
  }
  char buf[64];
  auto [end, ec] = std::to_chars(buf, buf + sizeof buf, v);
  return ec == std::errc() ? std::string(buf, end) : std::string("NaN");
}

class Exposition {
 public:
  void Family(std::string_view name, std::string_view type, std::string_view help) {
    out_ += "# HELP " + std::string(name) + " " + std::string(help) + "\n# TYPE " +
            std::string(name) + " " + std::string(type) + "\n";
  }
  void Sample(std::string_view name, const Labels& labels, double value) {
    out_.append(name);
    if (!labels.empty()) {
      out_ += '{';
      for (std::size_t i = 0; i < labels.size(); ++i) {
        if (i > 0) out_ += ',';
        out_ += std::string(labels[i].first) + "=\"" + EscapeLabelValue(labels[i].second) + "\"";
      }
      out_ += '}';
    }
    out_ += " " + Number(value) + "\n";
  }
  void HistogramSamples(std::string_view name, const Labels& labels, const core::Histogram& h) {
    std::uint64_t cumulative = 0;
    for (std::size_t i = 0; i <= h.bounds.size(); ++i) {
      cumulative += i < h.counts.size() ? h.counts[i] : 0;
      Labels with = labels;
      with.emplace_back("le", i < h.bounds.size() ? Number(h.bounds[i]) : "+Inf");
      Sample(std::string(name) + "_bucket", with, static_cast<double>(cumulative));
    }
    Sample(std::string(name) + "_sum", labels, h.sum);
    Sample(std::string(name) + "_count", labels, static_cast<double>(h.count));
  }
  std::string Take() { return std::move(out_); }

 private:
  std::string out_;
};

double FileBytes(const std::filesystem::path& p) {
  std::error_code ec;
  const std::uintmax_t n = std::filesystem::file_size(p, ec);
  return ec ? 0.0 : static_cast<double>(n);
}

double UnixSeconds(std::chrono::system_clock::time_point t) {
  return std::chrono::duration<double>(t.time_since_epoch()).count();
}

void RenderRequests(const MetricsSources& s, Exposition& e) {
  if (s.requests == nullptr) return;
  const core::QueryLogMetrics::Snapshot snap = s.requests->Take();
  e.Family("enclave_requests_total", "counter",
           "Requests decided, by rpc, template (of the loaded policy; unknown for any other "
           "name), outcome (released, refused, aborted) and status code, as written to the query "
           "log.");
  for (const auto& [key, n] : snap.requests) {
    e.Sample("enclave_requests_total",
             {{"rpc", key.rpc}, {"template", key.template_id}, {"outcome", key.outcome},
              {"code", key.code}},
             static_cast<double>(n));
  }
  e.Family("enclave_query_duration_seconds", "histogram",
           "RunQuery from its query-accepted to its query-result (released) or query-aborted "
           "entry, by template and outcome.");
  for (const auto& [key, h] : snap.query_seconds) {
    e.HistogramSamples("enclave_query_duration_seconds",
                       {{"template", key.template_id}, {"outcome", key.outcome}}, h);
  }
  e.Family("enclave_query_log_entries_total", "counter",
           "Entries this process wrote to the query log, by entry type.");
  for (const auto& [type, n] : snap.entries_by_type) {
    e.Sample("enclave_query_log_entries_total", {{"type", type}}, static_cast<double>(n));
  }
  e.Family("enclave_query_log_append_failures_total", "counter",
           "Query-log writes that failed (nothing was released for them).");
  e.Sample("enclave_query_log_append_failures_total", {},
           static_cast<double>(snap.append_failures));
  e.Family("enclave_query_log_append_duration_seconds", "histogram",
           "Time until a query-log entry was durable (group commit and fsync included).");
  e.HistogramSamples("enclave_query_log_append_duration_seconds", {}, snap.append_seconds);
}

void RenderLog(const MetricsSources& s, Exposition& e) {
  if (s.log == nullptr) return;
  const std::uint64_t size = s.log->Size();
  const audit::Checkpoint cp = s.log->LatestCheckpoint();
  const std::filesystem::path dir(s.state_dir);
  e.Family("enclave_query_log_size_entries", "gauge", "Entries in the query log.");
  e.Sample("enclave_query_log_size_entries", {}, static_cast<double>(size));
  e.Family("enclave_query_log_size_bytes", "gauge",
           "Bytes of the query log's database files (audit_log.db and its -wal).");
  e.Sample("enclave_query_log_size_bytes", {},
           FileBytes(dir / "audit_log.db") + FileBytes(dir / "audit_log.db-wal"));
  e.Family("enclave_query_log_checkpoint_entries", "gauge",
           "Entries covered by the latest signed checkpoint (the signed head: every commit "
           "signs one).");
  e.Sample("enclave_query_log_checkpoint_entries", {}, static_cast<double>(cp.size));
  e.Family("enclave_query_log_unsigned_entries", "gauge",
           "Entries not covered by the signed head (0 unless the query log failed).");
  e.Sample("enclave_query_log_unsigned_entries", {},
           static_cast<double>(size >= cp.size ? size - cp.size : 0));
  struct stat st {};
  if (::stat((dir / "checkpoint").c_str(), &st) == 0) {
    const auto mtime = std::chrono::system_clock::time_point(
        std::chrono::duration_cast<std::chrono::system_clock::duration>(
            std::chrono::seconds(st.st_mtim.tv_sec) + std::chrono::nanoseconds(st.st_mtim.tv_nsec)));
    e.Family("enclave_query_log_checkpoint_age_seconds", "gauge",
             "Seconds since state_dir/checkpoint was last written (checkpoint history).");
    e.Sample("enclave_query_log_checkpoint_age_seconds", {},
             std::max(0.0, UnixSeconds(std::chrono::system_clock::now()) - UnixSeconds(mtime)));
  }
}

void RenderBudget(const MetricsSources& s, Exposition& e) {
  if (s.ledger == nullptr || s.ledgers.empty()) return;
  std::vector<core::LedgerLimit> limits;
  std::set<std::string> names;
  for (const core::LedgerLimit& l : s.ledgers) {
    if (names.insert(l.ledger).second) limits.push_back(l);
  }
  absl::StatusOr<std::vector<core::LedgerBalance>> balances = s.ledger->Balances(limits);
  e.Family("enclave_budget_read_ok", "gauge", "1 when the privacy-budget ledger could be read.");
  e.Sample("enclave_budget_read_ok", {}, balances.ok() ? 1 : 0);
  if (!balances.ok()) return;
  struct Family {
    const char* name;
    const char* help;
    std::int64_t (*value)(const core::LedgerBalance&);
  };
  const Family families[] = {
      {"enclave_budget_spent_micro_epsilon",
       "Privacy budget charged on a ledger (agreement, project or data version), micro-epsilon.",
       [](const core::LedgerBalance& b) { return b.spent_micro; }},
      {"enclave_budget_reserved_micro_epsilon",
       "Privacy budget held by running queries on a ledger, micro-epsilon.",
       [](const core::LedgerBalance& b) { return b.reserved_micro; }},
      {"enclave_budget_cap_micro_epsilon", "The ledger's cap from the policy, micro-epsilon.",
       [](const core::LedgerBalance& b) { return b.cap_micro; }},
  };
  for (const Family& f : families) {
    e.Family(f.name, "gauge", f.help);
    for (const core::LedgerBalance& b : *balances) {
      if (names.count(b.ledger) == 0) continue;  // only the policy's ledgers become labels
      e.Sample(f.name, {{"ledger", b.ledger}}, static_cast<double>(f.value(b)));
    }
  }
}

}  // namespace

std::string EscapeLabelValue(std::string_view value) {
  std::string out;
  out.reserve(value.size());
  for (char c : value) {
    if (c == '\\') {
      out += "\\\\";
    } else if (c == '"') {
      out += "\\\"";
    } else if (c == '\n') {
      out += "\\n";
    } else {
      out += c;
    }
  }
  return out;
}

std::string RenderMetrics(const MetricsSources& s) {
  Exposition e;
  e.Family("enclave_build_info", "gauge", "Always 1; the version of enclaved.");
  e.Sample("enclave_build_info", {{"version", s.version}}, 1);
  e.Family("enclave_start_time_seconds", "gauge", "When enclaved started, Unix time.");
  e.Sample("enclave_start_time_seconds", {}, std::floor(UnixSeconds(s.started)));
  if (s.health != nullptr) {
    const core::HealthMonitor::Reading r = s.health->monitor().Current();
    e.Family("enclave_serving", "gauge",
             "1 when the health service answers SERVING, else 0 (starting, stopping, query log "
             "not writable).");
    e.Sample("enclave_serving", {}, r.status == core::ServingStatus::kServing ? 1 : 0);
    e.Family("enclave_health_checks_total", "counter",
             "Health checks answered, by method (Check, Watch) and answer. Allowed checks are "
             "counted here, not written to the query log; refusals are in both.");
    for (const auto& [key, n] : s.health->Counts()) {
      e.Sample("enclave_health_checks_total", {{"method", key.first}, {"answer", key.second}},
               static_cast<double>(n));
    }
  }
  RenderRequests(s, e);
  RenderLog(s, e);
  RenderBudget(s, e);
  if (s.admission) {
    const core::AdmissionStats a = s.admission();
    e.Family("enclave_admission_running", "gauge", "Queries holding a slot now.");
    e.Sample("enclave_admission_running", {}, a.running);
    e.Family("enclave_admission_waiting", "gauge", "Queries waiting for a slot now.");
    e.Sample("enclave_admission_waiting", {}, a.waiting);
    e.Family("enclave_admission_queued_total", "counter",
             "Queries that had to wait for a slot (admitted later or not).");
    e.Sample("enclave_admission_queued_total", {}, static_cast<double>(a.queued));
    e.Family("enclave_admission_shed_queue_full_total", "counter",
             "Queries refused at once because the queue was full (RESOURCE_EXHAUSTED).");
    e.Sample("enclave_admission_shed_queue_full_total", {}, static_cast<double>(a.shed_queue_full));
    e.Family("enclave_admission_shed_timeout_total", "counter",
             "Queries refused after waiting until max_queue_wait_ms or their deadline.");
    e.Sample("enclave_admission_shed_timeout_total", {}, static_cast<double>(a.shed_timeout));
  }
  if (s.handshake_totals) {
    const std::map<std::string, std::uint64_t> totals = s.handshake_totals();
    e.Family("enclave_tls_handshake_failures_total", "counter",
             "TLS handshakes refused before any handler ran, by reason.");
    for (std::string_view reason : HandshakeFailureReasons()) {
      auto it = totals.find(std::string(reason));
      e.Sample("enclave_tls_handshake_failures_total", {{"reason", std::string(reason)}},
               it == totals.end() ? 0.0 : static_cast<double>(it->second));
    }
  }
  return e.Take();
}

}  // namespace enclave::server
