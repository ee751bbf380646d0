// SqliteBudgetLedger (disclosure-control.md §7.6): caps in integer micro-ε, exactly-at-the-cap
// boundary, 64 concurrent reservations for the last unit (exactly one wins, across connections),
// the reserve → charge | refund state machine, stored answers for identical repeats, durability
// settings, and balances that survive a reopen.
#include "enclave/adapters/sqlite/budget_ledger_store.h"

#include <doctest/doctest.h>
#include <sqlite3.h>

#include <atomic>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "tests/testing/temp_dir.h"

namespace enclave::adapters::sqlite {
namespace {

using core::LedgerBalance;
using core::LedgerLimit;

std::unique_ptr<SqliteBudgetLedger> OpenOrDie(const std::string& path) {
  auto ledger = SqliteBudgetLedger::Open(path);
  REQUIRE(ledger.ok());
  return std::move(*ledger);
}

LedgerBalance BalanceOf(SqliteBudgetLedger& ledger, const LedgerLimit& limit) {
  auto b = ledger.Balances(std::vector<LedgerLimit>{limit});
  REQUIRE(b.ok());
  REQUIRE(b->size() == 1);
  return (*b)[0];
}

const LedgerLimit kAgreement{"agreement:A-2026-01", 4'000'000};
const LedgerLimit kProject{"project:p1", 6'000'000};
const LedgerLimit kVersion{"data-version:dv1", 12'000'000};

TEST_SUITE("SqliteBudgetLedger") {
  TEST_CASE("durable settings: WAL and synchronous=FULL") {
    testing::TempDir dir;
    auto ledger = OpenOrDie(dir.File("budget.db"));
    CHECK(ledger->PragmaForTest("journal_mode") == "wal");
    CHECK(ledger->PragmaForTest("synchronous") == "2");
  }

  TEST_CASE("a charge exactly at the cap succeeds, one more micro-ε is refused naming the ledger") {
    testing::TempDir dir;
    auto ledger = OpenOrDie(dir.File("budget.db"));
    const std::vector<LedgerLimit> limits{kAgreement, kProject, kVersion};
    // Sixteen charges of 0.25 fill the agreement's 4.0 exactly (a double ledger summing 0.1s
    // would drift; micro-ε does not).
    for (int i = 0; i < 16; ++i) {
      auto r = ledger->Reserve(limits, 250'000, "q-" + std::to_string(i));
      REQUIRE(r.ok());
      REQUIRE(ledger->Charge(*r, "", "").ok());
    }
    CHECK(BalanceOf(*ledger, kAgreement).remaining_micro() == 0);
    auto more = ledger->Reserve(limits, 1, "q-over");
    REQUIRE(more.status().code() == absl::StatusCode::kResourceExhausted);
    CHECK(more.status().message().find("agreement:A-2026-01") != std::string::npos);
    CHECK(more.status().message().find("0 micro-epsilon left") != std::string::npos);
    // The refusal reserved nothing on the other ledgers either.
    CHECK(BalanceOf(*ledger, kProject).spent_micro == 4'000'000);
    CHECK(BalanceOf(*ledger, kProject).reserved_micro == 0);
  }

  TEST_CASE("one unit below the cap leaves exactly one unit") {
    testing::TempDir dir;
    auto ledger = OpenOrDie(dir.File("budget.db"));
    const LedgerLimit tight{"agreement:t", 1000};
    auto r = ledger->Reserve(std::vector<LedgerLimit>{tight}, 999, "q1");
    REQUIRE(r.ok());
    CHECK(ledger->Reserve(std::vector<LedgerLimit>{tight}, 2, "q2").status().code() ==
          absl::StatusCode::kResourceExhausted);
    CHECK(ledger->Reserve(std::vector<LedgerLimit>{tight}, 1, "q3").ok());
  }

  TEST_CASE("64 concurrent reservations for the last unit over 8 connections: exactly one wins") {
    testing::TempDir dir;
    const std::string path = dir.File("budget.db");
    const LedgerLimit limit{"agreement:race", 1'000'000};
    {
      auto setup = OpenOrDie(path);
      auto r = setup->Reserve(std::vector<LedgerLimit>{limit}, 999'999, "fill");
      REQUIRE(r.ok());
      REQUIRE(setup->Charge(*r, "", "").ok());
    }
    std::vector<std::unique_ptr<SqliteBudgetLedger>> connections;
    for (int c = 0; c < 8; ++c) connections.push_back(OpenOrDie(path));
    std::atomic<int> won{0}, exhausted{0}, other{0};
    std::atomic<bool> go{false};
    std::vector<std::thread> threads;
    for (int t = 0; t < 64; ++t) {
      threads.emplace_back([&, t] {
        while (!go.load()) std::this_thread::yield();
        SqliteBudgetLedger& ledger = *connections[static_cast<std::size_t>(t % 8)];
        auto r = ledger.Reserve(std::vector<LedgerLimit>{limit}, 1, "q-" + std::to_string(t));
        if (r.ok()) {
          ++won;
        } else if (r.status().code() == absl::StatusCode::kResourceExhausted) {
          ++exhausted;
        } else {
          ++other;
        }
      });
    }
    go = true;
    for (std::thread& th : threads) th.join();
    CHECK(won == 1);
    CHECK(exhausted == 63);
    CHECK(other == 0);
    const LedgerBalance b = BalanceOf(*connections[0], limit);
    CHECK(b.spent_micro + b.reserved_micro == 1'000'000);
  }

  TEST_CASE("reserve, charge and refund move budget between reserved, spent and back") {
    testing::TempDir dir;
    auto ledger = OpenOrDie(dir.File("budget.db"));
    const std::vector<LedgerLimit> limits{kAgreement, kProject};
    auto r1 = ledger->Reserve(limits, 250'000, "q1");
    REQUIRE(r1.ok());
    CHECK(BalanceOf(*ledger, kAgreement).reserved_micro == 250'000);
    CHECK(BalanceOf(*ledger, kAgreement).remaining_micro() == 3'750'000);

    SUBCASE("charge") {
      REQUIRE(ledger->Charge(*r1, "key-1", "answer-1").ok());
      const LedgerBalance b = BalanceOf(*ledger, kProject);
      CHECK(b.spent_micro == 250'000);
      CHECK(b.reserved_micro == 0);
      // Settled: neither a second charge nor a refund.
      CHECK(ledger->Charge(*r1, "key-1", "x").code() == absl::StatusCode::kNotFound);
      CHECK(ledger->Refund(*r1).code() == absl::StatusCode::kNotFound);
      CHECK(BalanceOf(*ledger, kProject).spent_micro == 250'000);
    }
    SUBCASE("refund") {
      REQUIRE(ledger->Refund(*r1).ok());
      const LedgerBalance b = BalanceOf(*ledger, kAgreement);
      CHECK(b.spent_micro == 0);
      CHECK(b.reserved_micro == 0);
      CHECK(ledger->Refund(*r1).code() == absl::StatusCode::kNotFound);
      CHECK(ledger->Charge(*r1, "k", "a").code() == absl::StatusCode::kNotFound);
    }
    CHECK(ledger->Charge(424242, "k", "a").code() == absl::StatusCode::kNotFound);
  }

  TEST_CASE("invalid reservations are refused before anything is written") {
    testing::TempDir dir;
    auto ledger = OpenOrDie(dir.File("budget.db"));
    CHECK(ledger->Reserve(std::vector<LedgerLimit>{kAgreement}, 0, "q").status().code() ==
          absl::StatusCode::kInvalidArgument);
    CHECK(ledger->Reserve(std::vector<LedgerLimit>{}, 1, "q").status().code() ==
          absl::StatusCode::kInvalidArgument);
    CHECK(ledger->Reserve(std::vector<LedgerLimit>{kAgreement, kAgreement}, 1, "q")
              .status()
              .code() == absl::StatusCode::kInvalidArgument);
    CHECK(BalanceOf(*ledger, kAgreement).reserved_micro == 0);
  }

  TEST_CASE("stored answers are found by their repeat key, and only after a charge") {
    testing::TempDir dir;
    auto ledger = OpenOrDie(dir.File("budget.db"));
    auto none = ledger->FindAnswer("t@1|a=1|dv1|A");
    REQUIRE(none.ok());
    CHECK_FALSE(none->has_value());
    auto r = ledger->Reserve(std::vector<LedgerLimit>{kAgreement}, 250'000, "q1");
    REQUIRE(r.ok());
    CHECK_FALSE(ledger->FindAnswer("t@1|a=1|dv1|A")->has_value());
    const std::string answer("cells\0with\nbytes", 16);
    REQUIRE(ledger->Charge(*r, "t@1|a=1|dv1|A", answer).ok());
    auto found = ledger->FindAnswer("t@1|a=1|dv1|A");
    REQUIRE(found.ok());
    REQUIRE(found->has_value());
    CHECK(**found == answer);
    CHECK_FALSE(ledger->FindAnswer("t@1|a=2|dv1|A")->has_value());
    // A racing identical request is charged too; the first answer stays.
    auto r2 = ledger->Reserve(std::vector<LedgerLimit>{kAgreement}, 250'000, "q2");
    REQUIRE(r2.ok());
    REQUIRE(ledger->Charge(*r2, "t@1|a=1|dv1|A", "other").ok());
    CHECK(**ledger->FindAnswer("t@1|a=1|dv1|A") == answer);
    CHECK(BalanceOf(*ledger, kAgreement).spent_micro == 500'000);
  }

  TEST_CASE("balances, answers and open reservations survive closing and reopening") {
    testing::TempDir dir;
    const std::string path = dir.File("budget.db");
    std::int64_t open_reservation = 0;
    {
      auto ledger = OpenOrDie(path);
      auto r = ledger->Reserve(std::vector<LedgerLimit>{kAgreement, kVersion}, 300'000, "q1");
      REQUIRE(r.ok());
      REQUIRE(ledger->Charge(*r, "key", "answer").ok());
      auto open = ledger->Reserve(std::vector<LedgerLimit>{kAgreement}, 100'000, "q2");
      REQUIRE(open.ok());
      open_reservation = *open;
    }
    auto ledger = OpenOrDie(path);
    LedgerBalance b = BalanceOf(*ledger, kAgreement);
    CHECK(b.spent_micro == 300'000);
    CHECK(b.reserved_micro == 100'000);
    CHECK(BalanceOf(*ledger, kVersion).spent_micro == 300'000);
    CHECK(**ledger->FindAnswer("key") == "answer");
    // At start-up an abandoned reservation is charged, never refunded: data may have been read.
    auto settled = ledger->SettleAbandonedReservations();
    REQUIRE(settled.ok());
    CHECK(*settled == 1);
    b = BalanceOf(*ledger, kAgreement);
    CHECK(b.spent_micro == 400'000);
    CHECK(b.reserved_micro == 0);
    CHECK(ledger->Refund(open_reservation).code() == absl::StatusCode::kNotFound);
  }

  TEST_CASE("an unwritable location is kUnavailable") {
    testing::TempDir dir;
    auto ledger = SqliteBudgetLedger::Open(dir.File("missing/dir/budget.db"));
    CHECK(ledger.status().code() == absl::StatusCode::kUnavailable);
  }
}

}  // namespace
}  // namespace enclave::adapters::sqlite
