#include "tests/testing/temp_dir.h"
#include "enclave/adapters/sqlite/query_log_store.h"

#include <doctest/doctest.h>
#include <sqlite3.h>

#include <filesystem>
#include <random>
#include <string>
#include <thread>
#include <vector>

namespace enclave::adapters::sqlite {
namespace {

namespace fs = std::filesystem;

// A fresh directory per test, removed afterwards.
using ::enclave::testing::TempDir;

core::QueryLogEntry Entry(const std::string& request_id, core::QueryLogEntry::Type type) {
  core::QueryLogEntry e;
  e.type = type;
  e.request_id = request_id;
  e.caller = "spiffe://lv/analyst";
  e.role = "municipal_analyst";
  e.rpc = "RunQuery";
  e.template_id = "zzp_aantal_per_wijk";
  e.template_version = 2;
  e.template_sha256 = std::string(64, 'b');
  e.canonical_params = "year=2023";
  e.decision = "allowed";
  e.rule_set = "cbs-default@1";
  e.data_version = "synthetic-v1";
  e.cells_released = 12;
  e.cells_confidential = 3;
  e.cell_rules = "released,threshold";
  e.result_sha256 = std::string(64, 'c');
  return e;
}

// A second, raw connection to the same file.
class Raw {
 public:
  explicit Raw(const std::string& path) { REQUIRE(sqlite3_open(path.c_str(), &db_) == SQLITE_OK); }
  ~Raw() { sqlite3_close(db_); }
  int Exec(const std::string& sql) {
    return sqlite3_exec(db_, sql.c_str(), nullptr, nullptr, nullptr);
  }
  std::string Text(const std::string& sql) {
    sqlite3_stmt* stmt = nullptr;
    std::string out;
    if (sqlite3_prepare_v2(db_, sql.c_str(), -1, &stmt, nullptr) == SQLITE_OK &&
        sqlite3_step(stmt) == SQLITE_ROW) {
      const unsigned char* t = sqlite3_column_text(stmt, 0);
      if (t != nullptr) out = reinterpret_cast<const char*>(t);
    }
    sqlite3_finalize(stmt);
    return out;
  }

 private:
  sqlite3* db_ = nullptr;
};

TEST_CASE("appended entries form a chain that verifies") {
  TempDir dir;
  auto log = SqliteQueryLog::Open(dir.File("log.db"));
  REQUIRE(log.ok());
  CHECK((*log)->VerifyChain().ok());  // empty
  REQUIRE((*log)->Append(Entry("q-1", core::QueryLogEntry::Type::kAccepted)).ok());
  REQUIRE((*log)->Append(Entry("q-1", core::QueryLogEntry::Type::kResult)).ok());
  REQUIRE((*log)->Append(Entry("q-2", core::QueryLogEntry::Type::kRefused)).ok());
  CHECK((*log)->CountForTest() == 3);
  CHECK((*log)->VerifyChain().ok());

  Raw raw(dir.File("log.db"));
  CHECK(raw.Text("SELECT type FROM query_log WHERE seq = 2") == "query-result");
  CHECK(raw.Text("SELECT prev_hash FROM query_log WHERE seq = 2") ==
        raw.Text("SELECT entry_hash FROM query_log WHERE seq = 1"));
  CHECK(raw.Text("SELECT entry_hash FROM query_log WHERE seq = 3").size() == 64);
}

TEST_CASE("the chain continues across a reopen") {
  TempDir dir;
  {
    auto log = SqliteQueryLog::Open(dir.File("log.db"));
    REQUIRE(log.ok());
    REQUIRE((*log)->Append(Entry("q-1", core::QueryLogEntry::Type::kAccepted)).ok());
  }
  auto log = SqliteQueryLog::Open(dir.File("log.db"));
  REQUIRE(log.ok());
  REQUIRE((*log)->Append(Entry("q-1", core::QueryLogEntry::Type::kResult)).ok());
  CHECK((*log)->CountForTest() == 2);
  CHECK((*log)->VerifyChain().ok());
}

TEST_CASE("UPDATE and DELETE are refused by the triggers") {
  TempDir dir;
  auto log = SqliteQueryLog::Open(dir.File("log.db"));
  REQUIRE(log.ok());
  REQUIRE((*log)->Append(Entry("q-1", core::QueryLogEntry::Type::kAccepted)).ok());
  Raw raw(dir.File("log.db"));
  CHECK(raw.Exec("UPDATE query_log SET reason = 'x' WHERE seq = 1") != SQLITE_OK);
  CHECK(raw.Exec("DELETE FROM query_log") != SQLITE_OK);
  CHECK((*log)->CountForTest() == 1);
  CHECK((*log)->VerifyChain().ok());
}

TEST_CASE("an edited byte is detected by VerifyChain") {
  TempDir dir;
  auto log = SqliteQueryLog::Open(dir.File("log.db"));
  REQUIRE(log.ok());
  for (int i = 0; i < 4; ++i) {
    REQUIRE((*log)->Append(Entry("q-" + std::to_string(i), core::QueryLogEntry::Type::kAccepted))
                .ok());
  }
  REQUIRE((*log)->VerifyChain().ok());
  Raw raw(dir.File("log.db"));
  REQUIRE(raw.Exec("DROP TRIGGER query_log_no_update") == SQLITE_OK);
  REQUIRE(raw.Exec("UPDATE query_log SET canonical_params = 'year=2024' WHERE seq = 2") ==
          SQLITE_OK);
  absl::Status verified = (*log)->VerifyChain();
  CHECK(verified.code() == absl::StatusCode::kDataLoss);
  CHECK(std::string(verified.message()).find("seq 2") != std::string::npos);
}

TEST_CASE("a deleted entry in the middle is detected by VerifyChain") {
  TempDir dir;
  auto log = SqliteQueryLog::Open(dir.File("log.db"));
  REQUIRE(log.ok());
  for (int i = 0; i < 3; ++i) {
    REQUIRE((*log)->Append(Entry("q-" + std::to_string(i), core::QueryLogEntry::Type::kRefused))
                .ok());
  }
  Raw raw(dir.File("log.db"));
  REQUIRE(raw.Exec("DROP TRIGGER query_log_no_delete") == SQLITE_OK);
  REQUIRE(raw.Exec("DELETE FROM query_log WHERE seq = 2") == SQLITE_OK);
  CHECK((*log)->VerifyChain().code() == absl::StatusCode::kDataLoss);
}

TEST_CASE("the log runs in WAL mode with synchronous FULL") {
  TempDir dir;
  auto log = SqliteQueryLog::Open(dir.File("log.db"));
  REQUIRE(log.ok());
  Raw raw(dir.File("log.db"));
  // journal_mode=WAL is persistent in the file; any connection sees it.
  CHECK(raw.Text("PRAGMA journal_mode") == "wal");
  CHECK(fs::exists(dir.File("log.db-wal")));
  CHECK((*log)->PragmaForTest("journal_mode") == "wal");
  // synchronous is per connection, so it is read on the log's own: 2 is FULL.
  CHECK((*log)->PragmaForTest("synchronous") == "2");
  CHECK((*log)->PragmaForTest("busy_timeout") != "0");
  CHECK((*log)->PragmaForTest("synchronous; DROP TABLE query_log").empty());
}

TEST_CASE("concurrent appends from many threads keep the chain intact") {
  TempDir dir;
  auto log = SqliteQueryLog::Open(dir.File("log.db"));
  REQUIRE(log.ok());
  SqliteQueryLog* shared = log->get();
  std::vector<std::thread> threads;
  std::vector<int> failures(8, 0);
  for (int t = 0; t < 8; ++t) {
    threads.emplace_back([shared, t, &failures] {
      for (int i = 0; i < 10; ++i) {
        if (!shared->Append(Entry("q-" + std::to_string(t) + "-" + std::to_string(i),
                                  core::QueryLogEntry::Type::kAccepted))
                 .ok()) {
          ++failures[static_cast<std::size_t>(t)];
        }
      }
    });
  }
  for (std::thread& th : threads) th.join();
  for (int f : failures) CHECK(f == 0);
  CHECK(shared->CountForTest() == 80);
  CHECK(shared->VerifyChain().ok());
}

TEST_CASE("a log that cannot be created is unavailable") {
  TempDir dir;
  auto log = SqliteQueryLog::Open(dir.File("no/such/dir/log.db"));
  CHECK(log.status().code() == absl::StatusCode::kUnavailable);
}

}  // namespace
}  // namespace enclave::adapters::sqlite
