#include "tests/testing/fake_query_log.h"

#include <utility>

namespace enclave::testing {

absl::Status FakeQueryLog::Append(const core::QueryLogEntry& entry) {
  std::lock_guard<std::mutex> lock(mu_);
  if (fail_all_ || (fail_on_.has_value() && *fail_on_ == entry.type) ||
      (fail_when_ && fail_when_(entry))) {
    ++failed_;
    return absl::UnavailableError("fake query log: injected write failure");
  }
  entries_.push_back(entry);
  return absl::OkStatus();
}

void FakeQueryLog::FailAll(bool fail) {
  std::lock_guard<std::mutex> lock(mu_);
  fail_all_ = fail;
}

void FakeQueryLog::FailOn(core::QueryLogEntry::Type type) {
  std::lock_guard<std::mutex> lock(mu_);
  fail_on_ = type;
}

void FakeQueryLog::FailWhen(std::function<bool(const core::QueryLogEntry&)> predicate) {
  std::lock_guard<std::mutex> lock(mu_);
  fail_when_ = std::move(predicate);
}

void FakeQueryLog::ClearFailures() {
  std::lock_guard<std::mutex> lock(mu_);
  fail_all_ = false;
  fail_on_.reset();
  fail_when_ = nullptr;
}

std::vector<core::QueryLogEntry> FakeQueryLog::entries() const {
  std::lock_guard<std::mutex> lock(mu_);
  return entries_;
}

std::size_t FakeQueryLog::size() const {
  std::lock_guard<std::mutex> lock(mu_);
  return entries_.size();
}

std::vector<core::QueryLogEntry> FakeQueryLog::OfType(core::QueryLogEntry::Type type) const {
  std::lock_guard<std::mutex> lock(mu_);
  std::vector<core::QueryLogEntry> out;
  for (const core::QueryLogEntry& e : entries_) {
    if (e.type == type) out.push_back(e);
  }
  return out;
}

std::size_t FakeQueryLog::failed_appends() const {
  std::lock_guard<std::mutex> lock(mu_);
  return failed_;
}

}  // namespace enclave::testing
