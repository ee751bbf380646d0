// An in-memory core::MicrodataSource for tests: rows are given as plain values, and a shared
// FakeSourceState lets a test inject failures, observe scans and run code just before a scan
// (e.g. to check that the query log already holds the kAccepted entry).
//
//   auto state = std::make_shared<FakeSourceState>();
//   state->rows = {{"u1", {"WK01"}, 100, {1}}, ...};
//   QueryService service(catalog, principals, FakeSourceFactory(state), log, options);
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "enclave/core/ports.h"

namespace enclave::testing {

struct FakeRow {
  std::string unit;
  std::vector<std::string> dimensions;  // in tmpl->dimensions order
  std::optional<std::int64_t> measure;
  std::vector<std::int64_t> flags;  // in tmpl->flag_columns order
};

struct FakeSourceState {
  std::vector<FakeRow> rows;
  std::string data_version = "fake-data-v1";
  // Each unit's holding (RowView::holding, templates declaring disclosure.holding_column); a unit
  // not listed has none (empty).
  std::map<std::string, std::string> holdings;

  // Failure injection. When scan_failure is set, Scan delivers the first fail_after_rows rows and
  // then returns it.
  std::optional<absl::Status> scan_failure;
  std::size_t fail_after_rows = 0;
  absl::Status check_template_status = absl::OkStatus();
  // When set, the factory fails with this status instead of making a source.
  std::optional<absl::Status> factory_failure;

  // Called at the start of every Scan, before any row is delivered. A non-OK result is returned
  // from Scan as is.
  std::function<absl::Status()> before_scan;

  std::atomic<int> scans{0};
  std::atomic<int> sources_made{0};
};

class FakeMicrodataSource final : public core::MicrodataSource {
 public:
  explicit FakeMicrodataSource(std::shared_ptr<FakeSourceState> state);

  absl::Status CheckTemplate(const templates::Template& tmpl) override;
  // Honours `cancel` before every row (kDeadlineExceeded, or kCancelled when only `cancelled`
  // fired).
  absl::Status Scan(const templates::BoundQuery& query, const core::Cancellation& cancel,
                    const core::RowVisitor& visit) override;
  std::string DataVersion() const override;

 private:
  std::shared_ptr<FakeSourceState> state_;
};

// A factory for QueryService that makes FakeMicrodataSources over `state`.
std::function<absl::StatusOr<std::unique_ptr<core::MicrodataSource>>()> FakeSourceFactory(
    std::shared_ptr<FakeSourceState> state);

}  // namespace enclave::testing
