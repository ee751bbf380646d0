#include "tests/testing/fake_disclosure.h"

#include "enclave/adapters/cbc/cbc_solver.h"
#include "enclave/adapters/clp/clp_solver.h"

namespace enclave::testing {

std::uint32_t FakeRecordKeys::KeyFor(std::string_view unit_type, std::string_view unit) {
  std::uint64_t h = 0xcbf29ce484222325ULL ^ salt_;
  auto mix = [&h](std::string_view s) {
    for (char c : s) {
      h ^= static_cast<std::uint8_t>(c);
      h *= 0x100000001b3ULL;
    }
    h ^= 0xff;
    h *= 0x100000001b3ULL;
  };
  mix(unit_type);
  mix(unit);
  h ^= h >> 33;
  h *= 0xff51afd7ed558ccdULL;
  h ^= h >> 33;
  return static_cast<std::uint32_t>(h);
}

std::uint32_t FakeMagnitudeKey(std::string_view variable, std::uint32_t j, std::uint32_t cell_key) {
  FakeRecordKeys keys(0x5eed);
  return keys.KeyFor(variable, std::to_string(j) + ":" + std::to_string(cell_key));
}

absl::Status FakeReleaseHistory::Append(const disclosure::GuardKey&, std::string_view index_basis,
                                        const disclosure::GuardRecord& added) {
  if (failure.has_value()) return *failure;
  if (index_basis.empty()) return absl::InvalidArgumentError("empty basis");
  std::lock_guard<std::mutex> lock(mu_);
  appended_ += added.populations.size();
  return absl::OkStatus();
}

std::size_t FakeReleaseHistory::appended() const {
  std::lock_guard<std::mutex> lock(mu_);
  return appended_;
}

core::UnitIndex* FakeDisclosure::IndexFor(const std::string& unit_type) {
  std::lock_guard<std::mutex> lock(mu);
  auto& slot = indices[unit_type];
  if (slot == nullptr) slot = std::make_unique<core::UnitIndex>(unit_type, keys);
  return slot.get();
}

void FakeDisclosure::Configure(const std::shared_ptr<FakeDisclosure>& self,
                               core::QueryServiceOptions& options) {
  FakeDisclosure* raw = self.get();
  options.unit_index = [raw](const std::string& type) { return raw->IndexFor(type); };
  options.solver_factory = []() -> std::unique_ptr<disclosure::LpSolver> {
    return std::make_unique<adapters::clp::ClpSolver>();
  };
  options.integer_solver_factory = []() -> std::unique_ptr<disclosure::IntegerSolver> {
    return std::make_unique<adapters::cbc::CbcSolver>();
  };
  options.magnitude_key = FakeMagnitudeKey;
  options.record_key_version = "rk-test";
  options.guard = self->guard;
  options.history = self->history;
}

disclosure::RuleSetParams ExactRules() {
  disclosure::RuleSetParams r;
  r.count_perturbation = disclosure::CountPerturbation::kNone;
  r.sum_precision = 1;
  r.mean_precision = 1;
  r.quantile_precision = 1;
  return r;
}

disclosure::MagnitudeParams NoMagnitudeNoise() {
  disclosure::MagnitudeParams p;
  p.m_permille = 0;
  return p;
}

}  // namespace enclave::testing
