// An in-memory, thread-safe core::QueryLog for tests that can be told to fail.
//
//   auto log = std::make_shared<FakeQueryLog>();
//   log->FailOn(core::QueryLogEntry::Type::kResult);  // the result write fails, others succeed
#pragma once

#include <cstddef>
#include <functional>
#include <mutex>
#include <optional>
#include <vector>

#include "absl/status/status.h"
#include "enclave/core/query_log.h"

namespace enclave::testing {

class FakeQueryLog final : public core::QueryLog {
 public:
  // kUnavailable (and nothing recorded) when a failure rule matches; else records the entry.
  absl::Status Append(const core::QueryLogEntry& entry) override;

  // Every append fails while set.
  void FailAll(bool fail);
  // Appends of this type fail; others succeed.
  void FailOn(core::QueryLogEntry::Type type);
  // Any rule: fail when it returns true.
  void FailWhen(std::function<bool(const core::QueryLogEntry&)> predicate);
  void ClearFailures();

  std::vector<core::QueryLogEntry> entries() const;
  std::size_t size() const;
  // Entries of one type.
  std::vector<core::QueryLogEntry> OfType(core::QueryLogEntry::Type type) const;
  // How many appends were refused by injection.
  std::size_t failed_appends() const;

 private:
  mutable std::mutex mu_;
  std::vector<core::QueryLogEntry> entries_;
  bool fail_all_ = false;
  std::optional<core::QueryLogEntry::Type> fail_on_;
  std::function<bool(const core::QueryLogEntry&)> fail_when_;
  std::size_t failed_ = 0;
};

}  // namespace enclave::testing
