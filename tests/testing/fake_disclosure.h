// Test doubles for the disclosure services the query path needs: a deterministic record-key
// source (not secret: tests only), growing unit indices per unit type, the CLP solver, a
// magnitude-key function, an in-memory release history with failure injection.
//
//   auto tools = std::make_shared<testing::FakeDisclosure>();
//   tools->Configure(options);   // fills QueryServiceOptions' disclosure fields
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "enclave/core/ports.h"
#include "enclave/core/query_service.h"
#include "enclave/core/record_key_port.h"
#include "enclave/core/record_keys.h"
#include "enclave/disclosure/threshold.h"

namespace enclave::testing {

// FNV-1a over unit type and unit, mixed: deterministic, well spread, and different per `salt`
// (a "rotated key").
class FakeRecordKeys final : public core::RecordKeySource {
 public:
  explicit FakeRecordKeys(std::uint64_t salt = 0) : salt_(salt) {}
  std::uint32_t KeyFor(std::string_view unit_type, std::string_view unit) override;

 private:
  std::uint64_t salt_;
};

std::uint32_t FakeMagnitudeKey(std::string_view variable, std::uint32_t j, std::uint32_t cell_key);

class FakeReleaseHistory final : public core::ReleaseHistory {
 public:
  absl::Status Append(const disclosure::GuardKey& key, std::string_view index_basis,
                      const disclosure::GuardRecord& added) override;
  std::optional<absl::Status> failure;  // returned instead of storing
  std::size_t appended() const;

 private:
  mutable std::mutex mu_;
  std::size_t appended_ = 0;
};

struct FakeDisclosure {
  FakeRecordKeys keys;
  std::mutex mu;
  std::map<std::string, std::unique_ptr<core::UnitIndex>> indices;  // growing, per unit type
  std::shared_ptr<disclosure::DifferencingGuard> guard =
      std::make_shared<disclosure::DifferencingGuard>();
  std::shared_ptr<FakeReleaseHistory> history = std::make_shared<FakeReleaseHistory>();

  core::UnitIndex* IndexFor(const std::string& unit_type);
  // Fills the disclosure fields of `options`. `self` must outlive the service.
  static void Configure(const std::shared_ptr<FakeDisclosure>& self,
                        core::QueryServiceOptions& options);
};

// Rules for exact-value tests of aggregation: no count perturbation, amounts at precision 1.
disclosure::RuleSetParams ExactRules();
// Magnitude noise switched off (m = 0), for exact-value tests.
disclosure::MagnitudeParams NoMagnitudeNoise();

}  // namespace enclave::testing
