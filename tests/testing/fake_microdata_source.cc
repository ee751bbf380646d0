#include "tests/testing/fake_microdata_source.h"

#include <chrono>
#include <string_view>
#include <utility>

namespace enclave::testing {

FakeMicrodataSource::FakeMicrodataSource(std::shared_ptr<FakeSourceState> state)
    : state_(std::move(state)) {}

absl::Status FakeMicrodataSource::CheckTemplate(const templates::Template& /*tmpl*/) {
  return state_->check_template_status;
}

absl::Status FakeMicrodataSource::Scan(const templates::BoundQuery& /*query*/,
                                       const core::Cancellation& cancel,
                                       const core::RowVisitor& visit) {
  ++state_->scans;
  if (state_->before_scan) {
    if (absl::Status s = state_->before_scan(); !s.ok()) return s;
  }
  std::vector<std::string_view> dims;
  std::size_t delivered = 0;
  for (const FakeRow& row : state_->rows) {
    if (state_->scan_failure.has_value() && delivered >= state_->fail_after_rows) {
      return *state_->scan_failure;
    }
    if (cancel.Expired()) {
      if (std::chrono::steady_clock::now() >= cancel.deadline) {
        return absl::DeadlineExceededError("fake source: deadline exceeded");
      }
      return absl::CancelledError("fake source: cancelled");
    }
    dims.assign(row.dimensions.begin(), row.dimensions.end());
    core::RowView view;
    view.unit = row.unit;
    view.dimensions = dims;
    view.measure = row.measure;
    view.flags = row.flags;
    if (auto h = state_->holdings.find(row.unit); h != state_->holdings.end()) view.holding = h->second;
    if (absl::Status s = visit(view); !s.ok()) return s;
    ++delivered;
  }
  if (state_->scan_failure.has_value()) return *state_->scan_failure;
  return absl::OkStatus();
}

std::string FakeMicrodataSource::DataVersion() const { return state_->data_version; }

std::function<absl::StatusOr<std::unique_ptr<core::MicrodataSource>>()> FakeSourceFactory(
    std::shared_ptr<FakeSourceState> state) {
  return [state]() -> absl::StatusOr<std::unique_ptr<core::MicrodataSource>> {
    if (state->factory_failure.has_value()) return *state->factory_failure;
    ++state->sources_made;
    return std::unique_ptr<core::MicrodataSource>(std::make_unique<FakeMicrodataSource>(state));
  };
}

}  // namespace enclave::testing
