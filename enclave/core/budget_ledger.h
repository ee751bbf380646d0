// The privacy-budget ledger port (disclosure-control.md §7.6): integer micro-ε, reserve before a
// differentially private query reads data, charge before its answer leaves, refund only for
// failures that do not depend on the data. Implemented by adapters/sqlite/budget_ledger_store.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"

namespace enclave::core {

// One ledger a charge counts against, with its cap. Ledger names are stable strings:
// "agreement:<id>", "project:<id>", "data-version:<version>".
struct LedgerLimit {
  std::string ledger;
  std::int64_t cap_micro = 0;  // micro-ε (or micro-ρ for a zCDP ledger)
};

struct LedgerBalance {
  std::string ledger;
  std::int64_t cap_micro = 0;
  std::int64_t spent_micro = 0;     // charged
  std::int64_t reserved_micro = 0;  // reserved, not yet charged or refunded
  std::int64_t remaining_micro() const { return cap_micro - spent_micro - reserved_micro; }
};

class BudgetLedger {
 public:
  virtual ~BudgetLedger() = default;

  // Atomically (one write transaction, durable before it returns): checks spent + reserved +
  // charge <= cap for every limit, then records one reservation against all of them and returns
  // its id. kResourceExhausted naming the first ledger that would overrun, what it has left and
  // what the query needs; kInvalidArgument for charge <= 0 or no limits; kUnavailable when the
  // store fails. Of many concurrent reservations for the last unit exactly one succeeds.
  virtual absl::StatusOr<std::int64_t> Reserve(std::span<const LedgerLimit> limits,
                                               std::int64_t charge_micro,
                                               std::string_view request_id) = 0;

  // Turns the reservation into a charge and stores `answer` under `repeat_key` (so an identical
  // repeat is served free), in one durable transaction. An empty `repeat_key` charges without
  // storing an answer (a failure after data was read). kNotFound for an unknown or settled
  // reservation; kUnavailable when the store fails (the caller then releases nothing).
  virtual absl::Status Charge(std::int64_t reservation, std::string_view repeat_key,
                              std::string_view answer) = 0;

  // Returns a reservation's budget. Only for failures that do not depend on the data (before any
  // row was read). kNotFound for an unknown or settled reservation.
  virtual absl::Status Refund(std::int64_t reservation) = 0;

  // The stored answer of an identical earlier release, or nullopt.
  virtual absl::StatusOr<std::optional<std::string>> FindAnswer(std::string_view repeat_key) = 0;

  // Balances of the given ledgers (a ledger never charged has spent = reserved = 0).
  virtual absl::StatusOr<std::vector<LedgerBalance>> Balances(
      std::span<const LedgerLimit> limits) = 0;
};

}  // namespace enclave::core
