// Aggregate request metrics taken from the query log's own entries (issue 13), and the log
// decorator that feeds them and notices when the log cannot be written (health).
//
// Every decision about a request passes through the QueryLog port (request_record.h), so counting
// what is appended counts every decision once, without a second path through the use cases:
//
//   auto metrics = std::make_shared<QueryLogMetrics>(template_ids);   // ids of the loaded policy
//   auto log = std::make_shared<ObservedQueryLog>(store, metrics);    // give this to the services
//   QueryLogMetrics::Snapshot s = metrics->Take();                     // for the exposition
//
// Only a closed vocabulary ever becomes a label: the rpc names below, the template ids given at
// construction ("unknown" for anything else a caller typed), the outcome names, and the names of
// the status codes. Parameters, reasons, callers and request ids are never kept. Values are counts
// and durations.
#pragma once

#include <array>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <span>
#include <string>
#include <string_view>
#include <tuple>
#include <unordered_map>
#include <vector>

#include "enclave/core/query_log.h"

namespace enclave::core {

// Label values used when a value is outside its vocabulary.
inline constexpr char kUnknownTemplateLabel[] = "unknown";
inline constexpr char kOtherLabel[] = "other";

// The rpc names RequestRecord writes (query_service.cc, run_query.cc, audit_service.cc, health.cc).
std::span<const std::string_view> KnownRpcNames();
// The names of the status codes (absl::StatusCodeToString of codes 0-16), as entry.decision holds them.
std::span<const std::string_view> KnownStatusCodeNames();
// "released" (a query-result), "refused" (query-refused), "aborted" (query-aborted).
std::span<const std::string_view> KnownOutcomes();

// Seconds; the upper bounds of a histogram's buckets (ascending; +Inf is implied).
inline constexpr std::array<double, 14> kQueryDurationBuckets = {
    0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120};
inline constexpr std::array<double, 12> kLogAppendBuckets = {
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5};

// A histogram with fixed bucket bounds. Not thread-safe (QueryLogMetrics locks).
class Histogram {
 public:
  explicit Histogram(std::span<const double> bounds);
  void Observe(double seconds);

  std::vector<double> bounds;           // upper bounds, ascending
  std::vector<std::uint64_t> counts;    // per bucket (not cumulative); one more for +Inf
  double sum = 0;
  std::uint64_t count = 0;
};

class QueryLogMetrics {
 public:
  using Clock = std::function<std::chrono::steady_clock::time_point()>;

  // `template_ids`: the loaded policy's templates, the only template label values besides
  // "unknown" and "" (calls that name none). `clock`: steady_clock::now when unset.
  explicit QueryLogMetrics(std::set<std::string> template_ids, Clock clock = nullptr);

  // One durable entry (`append` is how long the write took), or one that failed to be written.
  void OnAppended(const QueryLogEntry& entry, std::chrono::nanoseconds append);
  void OnAppendFailed(const QueryLogEntry& entry);

  struct RequestKey {
    std::string rpc, template_id, outcome, code;
    auto operator<=>(const RequestKey&) const = default;
  };
  struct DurationKey {
    std::string template_id, outcome;
    auto operator<=>(const DurationKey&) const = default;
  };
  struct Snapshot {
    std::map<RequestKey, std::uint64_t> requests;
    // From query-accepted to query-result or query-aborted, RunQuery only.
    std::map<DurationKey, Histogram> query_seconds;
    std::map<std::string, std::uint64_t> entries_by_type;  // QueryLogEntryTypeName
    std::uint64_t append_failures = 0;
    Histogram append_seconds{kLogAppendBuckets};
  };
  Snapshot Take() const;

  // The label a template id becomes.
  std::string TemplateLabel(std::string_view template_id) const;
  const std::set<std::string>& template_ids() const { return template_ids_; }

 private:
  // Requests accepted but not yet closed, by request id (at most kMaxOpen; more are not timed).
  static constexpr std::size_t kMaxOpen = 4096;

  const std::set<std::string> template_ids_;
  Clock clock_;
  mutable std::mutex mu_;
  Snapshot data_;  // guarded by mu_
  std::unordered_map<std::string, std::chrono::steady_clock::time_point> open_;  // guarded by mu_
};

// The QueryLog the services write to: passes every entry to `inner` unchanged and reports each
// outcome to `metrics` (may be null). LastAppendFailed() is true from a write that failed with
// kUnavailable until the next one succeeds (after a failed commit the store refuses everything
// until a restart, so it stays true).
class ObservedQueryLog final : public QueryLog {
 public:
  ObservedQueryLog(std::shared_ptr<QueryLog> inner, std::shared_ptr<QueryLogMetrics> metrics);
  absl::Status Append(const QueryLogEntry& entry) override;
  bool LastAppendFailed() const { return last_failed_.load(std::memory_order_acquire); }

 private:
  std::shared_ptr<QueryLog> inner_;
  std::shared_ptr<QueryLogMetrics> metrics_;
  std::atomic<bool> last_failed_{false};
};

}  // namespace enclave::core
