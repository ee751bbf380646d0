// An in-memory, thread-safe core::BudgetLedger for tests, with failure switches and counters
// (reservations, refunds). Enough of the contract in enclave/core/budget_ledger.h for the DP
// dispatch: caps checked on Reserve, Charge moves a reservation to spent and stores the answer
// under its key once, Refund releases it.
//
//   auto ledger = std::make_shared<testing::FakeBudgetLedger>();
//   ledger->fail_charge = true;                       // the next Charge fails (kUnavailable)
//   CHECK(ledger->rows["agreement:A1"].spent == 0);
#pragma once

#include <cstdint>
#include <map>
#include <mutex>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "enclave/core/budget_ledger.h"

namespace enclave::testing {

class FakeBudgetLedger final : public core::BudgetLedger {
 public:
  absl::StatusOr<std::int64_t> Reserve(std::span<const core::LedgerLimit> limits, std::int64_t charge,
                                       std::string_view) override {
    std::lock_guard<std::mutex> lock(mu);
    if (fail_reserve) return absl::UnavailableError("fake ledger down");
    for (const core::LedgerLimit& l : limits) {
      const Row& r = rows[l.ledger];
      if (r.spent + r.reserved + charge > l.cap_micro) {
        return absl::ResourceExhaustedError("privacy budget exhausted: ledger " + l.ledger);
      }
    }
    const std::int64_t id = next++;
    for (const core::LedgerLimit& l : limits) rows[l.ledger].reserved += charge;
    open[id] = {charge, std::vector<core::LedgerLimit>(limits.begin(), limits.end())};
    ++reserves;
    return id;
  }
  absl::Status Charge(std::int64_t id, std::string_view key, std::string_view answer) override {
    std::lock_guard<std::mutex> lock(mu);
    if (fail_charge) return absl::UnavailableError("fake ledger down");
    auto it = open.find(id);
    if (it == open.end()) return absl::NotFoundError("no reservation");
    for (const core::LedgerLimit& l : it->second.limits) {
      rows[l.ledger].reserved -= it->second.charge;
      rows[l.ledger].spent += it->second.charge;
    }
    if (!key.empty() && !answers.count(std::string(key))) answers[std::string(key)] = answer;
    open.erase(it);
    return absl::OkStatus();
  }
  absl::Status Refund(std::int64_t id) override {
    std::lock_guard<std::mutex> lock(mu);
    auto it = open.find(id);
    if (it == open.end()) return absl::NotFoundError("no reservation");
    for (const core::LedgerLimit& l : it->second.limits) rows[l.ledger].reserved -= it->second.charge;
    open.erase(it);
    ++refunds;
    return absl::OkStatus();
  }
  absl::StatusOr<std::optional<std::string>> FindAnswer(std::string_view key) override {
    std::lock_guard<std::mutex> lock(mu);
    auto it = answers.find(std::string(key));
    if (it == answers.end()) return std::optional<std::string>();
    return std::optional<std::string>(it->second);
  }
  absl::StatusOr<std::vector<core::LedgerBalance>> Balances(
      std::span<const core::LedgerLimit> limits) override {
    std::lock_guard<std::mutex> lock(mu);
    std::vector<core::LedgerBalance> out;
    for (const core::LedgerLimit& l : limits) {
      out.push_back({l.ledger, l.cap_micro, rows[l.ledger].spent, rows[l.ledger].reserved});
    }
    return out;
  }

  struct Row {
    std::int64_t spent = 0, reserved = 0;
  };
  struct Open {
    std::int64_t charge;
    std::vector<core::LedgerLimit> limits;
  };
  std::mutex mu;
  std::map<std::string, Row> rows;
  std::map<std::int64_t, Open> open;
  std::map<std::string, std::string> answers;
  std::int64_t next = 1;
  int reserves = 0, refunds = 0;
  bool fail_reserve = false, fail_charge = false;
};

}  // namespace enclave::testing
