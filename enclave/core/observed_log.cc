#include "enclave/core/observed_log.h"

#include <algorithm>
#include <utility>

namespace enclave::core {
namespace {

constexpr std::string_view kRpcNames[] = {
    "RunQuery",
    "ListTemplates",
    "DescribeTemplate",
    "GetBudget",
    "AuditService/GetCheckpoint",
    "AuditService/ListEntries",
    "AuditService/GetInclusionProof",
    "AuditService/GetConsistencyProof",
    "AuditService/ExportBundle",
    "AuditService/GetReceipt",
    "Health/Check",
    "Health/Watch",
};

constexpr std::string_view kStatusCodeNames[] = {
    "OK",
    "CANCELLED",
    "UNKNOWN",
    "INVALID_ARGUMENT",
    "DEADLINE_EXCEEDED",
    "NOT_FOUND",
    "ALREADY_EXISTS",
    "PERMISSION_DENIED",
    "RESOURCE_EXHAUSTED",
    "FAILED_PRECONDITION",
    "ABORTED",
    "OUT_OF_RANGE",
    "UNIMPLEMENTED",
    "INTERNAL",
    "UNAVAILABLE",
    "DATA_LOSS",
    "UNAUTHENTICATED",
};

constexpr std::string_view kOutcomes[] = {"released", "refused", "aborted"};

template <std::size_t N>
std::string InVocabulary(std::string_view value, const std::string_view (&vocabulary)[N]) {
  for (std::string_view v : vocabulary) {
    if (v == value) return std::string(v);
  }
  return kOtherLabel;
}

double Seconds(std::chrono::nanoseconds d) {
  return std::chrono::duration<double>(d).count();
}

}  // namespace

std::span<const std::string_view> KnownRpcNames() { return kRpcNames; }
std::span<const std::string_view> KnownStatusCodeNames() { return kStatusCodeNames; }
std::span<const std::string_view> KnownOutcomes() { return kOutcomes; }

Histogram::Histogram(std::span<const double> b)
    : bounds(b.begin(), b.end()), counts(b.size() + 1, 0) {}

void Histogram::Observe(double seconds) {
  if (!(seconds >= 0)) seconds = 0;  // also NaN
  const auto it = std::lower_bound(bounds.begin(), bounds.end(), seconds);
  ++counts[static_cast<std::size_t>(it - bounds.begin())];
  sum += seconds;
  ++count;
}

QueryLogMetrics::QueryLogMetrics(std::set<std::string> template_ids, Clock clock)
    : template_ids_(std::move(template_ids)), clock_(std::move(clock)) {
  if (!clock_) clock_ = [] { return std::chrono::steady_clock::now(); };
}

std::string QueryLogMetrics::TemplateLabel(std::string_view template_id) const {
  if (template_id.empty()) return std::string();
  auto it = template_ids_.find(std::string(template_id));
  return it != template_ids_.end() ? *it : std::string(kUnknownTemplateLabel);
}

void QueryLogMetrics::OnAppended(const QueryLogEntry& entry, std::chrono::nanoseconds append) {
  const auto now = clock_();
  std::lock_guard<std::mutex> lock(mu_);
  ++data_.entries_by_type[QueryLogEntryTypeName(entry.type)];
  data_.append_seconds.Observe(Seconds(append));

  std::string outcome;
  switch (entry.type) {
    case QueryLogEntry::Type::kAccepted:
      if (entry.rpc == "RunQuery" && !entry.request_id.empty() && open_.size() < kMaxOpen) {
        open_[entry.request_id] = now;
      }
      return;
    case QueryLogEntry::Type::kResult:
      outcome = "released";
      break;
    case QueryLogEntry::Type::kRefused:
      outcome = "refused";
      break;
    case QueryLogEntry::Type::kAborted:
      outcome = "aborted";
      break;
    default:
      return;  // lifecycle, policy, budget and load entries are not requests
  }
  const std::string template_label = TemplateLabel(entry.template_id);
  RequestKey key{InVocabulary(entry.rpc, kRpcNames), template_label, outcome,
                 entry.type == QueryLogEntry::Type::kResult
                     ? std::string("OK")
                     : InVocabulary(entry.decision, kStatusCodeNames)};
  ++data_.requests[key];
  if (entry.type == QueryLogEntry::Type::kRefused) return;
  auto it = open_.find(entry.request_id);
  if (it == open_.end()) return;
  const double seconds = Seconds(now - it->second);
  open_.erase(it);
  DurationKey dkey{template_label, outcome};
  auto [h, inserted] = data_.query_seconds.try_emplace(dkey, kQueryDurationBuckets);
  h->second.Observe(seconds);
}

void QueryLogMetrics::OnAppendFailed(const QueryLogEntry& entry) {
  std::lock_guard<std::mutex> lock(mu_);
  ++data_.append_failures;
  if (entry.type == QueryLogEntry::Type::kResult || entry.type == QueryLogEntry::Type::kAborted) {
    open_.erase(entry.request_id);
  }
}

QueryLogMetrics::Snapshot QueryLogMetrics::Take() const {
  std::lock_guard<std::mutex> lock(mu_);
  return data_;
}

ObservedQueryLog::ObservedQueryLog(std::shared_ptr<QueryLog> inner,
                                   std::shared_ptr<QueryLogMetrics> metrics)
    : inner_(std::move(inner)), metrics_(std::move(metrics)) {}

absl::Status ObservedQueryLog::Append(const QueryLogEntry& entry) {
  const auto start = std::chrono::steady_clock::now();
  absl::Status s = inner_->Append(entry);
  const auto took = std::chrono::steady_clock::now() - start;
  // kUnavailable: the store could not write (or is closed, or failed earlier). An entry that
  // cannot be encoded (kInvalidArgument) says nothing about the log.
  if (s.ok() || s.code() == absl::StatusCode::kUnavailable) {
    last_failed_.store(!s.ok(), std::memory_order_release);
  }
  if (metrics_ != nullptr) {
    if (s.ok()) {
      metrics_->OnAppended(entry, std::chrono::duration_cast<std::chrono::nanoseconds>(took));
    } else {
      metrics_->OnAppendFailed(entry);
    }
  }
  return s;
}

}  // namespace enclave::core
