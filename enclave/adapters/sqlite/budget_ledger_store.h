// The privacy-budget ledger in SQLite (disclosure-control.md §7.6): integer micro-ε per ledger
// ("agreement:<id>", "project:<id>", "data-version:<v>"), reservations with a state machine
// reserved → charged | refunded, and the stored answers of released queries for free identical
// repeats. WAL, synchronous=FULL, every change in one BEGIN IMMEDIATE transaction, so that of many
// concurrent reservations for the last unit exactly one succeeds, also across connections and
// processes. Lives in state_dir/budget_ledger.db.
//
//   ENCLAVE_ASSIGN_OR_RETURN(auto ledger, SqliteBudgetLedger::Open(state_dir + "/budget_ledger.db"));
//   ENCLAVE_RETURN_IF_ERROR(ledger->SettleAbandonedReservations());  // once, at start-up
//   ENCLAVE_ASSIGN_OR_RETURN(std::int64_t r, ledger->Reserve(limits, 250000, request_id));
//   ... run the query ...
//   ENCLAVE_RETURN_IF_ERROR(ledger->Charge(r, repeat_key, answer));  // before the answer leaves
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "enclave/core/budget_ledger.h"

namespace enclave::adapters::sqlite {

class SqliteBudgetLedger final : public core::BudgetLedger {
 public:
  // Creates the file and schema if needed; refuses a database that cannot do WAL or does not
  // keep synchronous=FULL. kUnavailable if it cannot be opened or written.
  static absl::StatusOr<std::unique_ptr<SqliteBudgetLedger>> Open(const std::string& path);
  ~SqliteBudgetLedger() override;
  SqliteBudgetLedger(const SqliteBudgetLedger&) = delete;
  SqliteBudgetLedger& operator=(const SqliteBudgetLedger&) = delete;

  // core::BudgetLedger; all thread-safe. Reserve also refuses (kInvalidArgument) a ledger named
  // twice, an empty ledger name or a negative cap. Charge with an empty repeat_key charges
  // without storing an answer (a failure after data was read). If an answer is already stored
  // under repeat_key (two identical requests raced), both are charged and the first answer stays.
  absl::StatusOr<std::int64_t> Reserve(std::span<const core::LedgerLimit> limits,
                                       std::int64_t charge_micro,
                                       std::string_view request_id) override;
  absl::Status Charge(std::int64_t reservation, std::string_view repeat_key,
                      std::string_view answer) override;
  absl::Status Refund(std::int64_t reservation) override;
  absl::StatusOr<std::optional<std::string>> FindAnswer(std::string_view repeat_key) override;
  absl::StatusOr<std::vector<core::LedgerBalance>> Balances(
      std::span<const core::LedgerLimit> limits) override;

  // Start-up only, while no query runs (the server holds its lock file): reservations left
  // `reserved` by a process that stopped mid-query become charges, because data may have been
  // read (no refund once data has been read). Returns how many were settled.
  absl::StatusOr<std::int64_t> SettleAbandonedReservations();

  // `PRAGMA <name>` on the store's connection ("" unless name is [a-z_]+). For tests.
  std::string PragmaForTest(const std::string& name);

 private:
  struct Impl;
  explicit SqliteBudgetLedger(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace enclave::adapters::sqlite
