#include "enclave/adapters/sqlite/release_history_store.h"

#include <doctest/doctest.h>
#include <sqlite3.h>
#include <stdlib.h>

#include <filesystem>
#include <numeric>
#include <string>
#include <vector>

namespace enclave::adapters::sqlite {
namespace {

namespace fs = std::filesystem;
using disclosure::DifferencingGuard;
using disclosure::GuardKey;
using disclosure::Population;

struct TempDir {
  TempDir() {
    std::string tmpl = (fs::temp_directory_path() / "enclave-history-XXXXXX").string();
    REQUIRE(::mkdtemp(tmpl.data()) != nullptr);
    path = tmpl;
  }
  ~TempDir() {
    std::error_code ec;
    fs::remove_all(path, ec);
  }
  std::string path;
};

Population Range(std::uint32_t from, std::uint32_t to) {
  std::vector<std::uint32_t> v(to - from);
  std::iota(v.begin(), v.end(), from);
  return Population::FromSorted(std::move(v));
}

const GuardKey kA{"project-a", "dv1", "person"};
const std::string kBasis = "universe/78000/0123456789abcdef";
std::string Basis(std::string_view) { return kBasis; }

void Exec(const std::string& db_path, const char* sql) {
  sqlite3* db = nullptr;
  REQUIRE(sqlite3_open(db_path.c_str(), &db) == SQLITE_OK);
  REQUIRE(sqlite3_exec(db, sql, nullptr, nullptr, nullptr) == SQLITE_OK);
  sqlite3_close(db);
}

TEST_CASE("the history is durable: WAL and synchronous=FULL") {
  TempDir dir;
  auto h = SqliteReleaseHistory::Open(dir.path + "/release_history.db");
  REQUIRE(h.ok());
  CHECK((*h)->PragmaForTest("journal_mode") == "wal");
  CHECK((*h)->PragmaForTest("synchronous") == "2");
}

TEST_CASE("round trip: a restarted guard refuses what the first one would have refused") {
  TempDir dir;
  const std::string path = dir.path + "/release_history.db";
  const std::vector<Population> release = {Range(0, 57), Range(1000, 2000)};
  {
    DifferencingGuard guard;
    std::vector<std::string> added;
    REQUIRE(guard.CheckAndRecord(kA, release, 10, &added).ok());
    auto h = SqliteReleaseHistory::Open(path);
    REQUIRE(h.ok());
    REQUIRE((*h)->Append(kA, kBasis, added).ok());
    REQUIRE((*h)->Append(kA, kBasis, added).ok());  // repeats are skipped
    // Another data version's history is kept but not loaded for dv1.
    const Population other = Range(0, 30);
    const std::vector<std::string> e = {disclosure::EncodePopulation(other)};
    REQUIRE((*h)->Append(GuardKey{"project-a", "dv0", "person"}, kBasis, e).ok());
  }
  auto h = SqliteReleaseHistory::Open(path);
  REQUIRE(h.ok());
  DifferencingGuard restarted;
  REQUIRE((*h)->LoadInto("dv1", Basis, restarted).ok());
  CHECK(restarted.RecordedCount(kA) == 2);
  CHECK(restarted.RecordedCount(GuardKey{"project-a", "dv0", "person"}) == 0);
  const Population near = Range(0, 56);
  CHECK(restarted.Check(kA, {&near, 1}, 10).code() == absl::StatusCode::kFailedPrecondition);
  CHECK(restarted.Check(kA, {&release[0], 1}, 10).ok());
  // Without the history, the same release would pass: the store is what protects it.
  DifferencingGuard empty;
  CHECK(empty.Check(kA, {&near, 1}, 10).ok());
}

TEST_CASE("a corrupt population fails the whole load closed") {
  TempDir dir;
  const std::string path = dir.path + "/release_history.db";
  {
    auto h = SqliteReleaseHistory::Open(path);
    REQUIRE(h.ok());
    const std::vector<std::string> e = {disclosure::EncodePopulation(Range(0, 57)),
                                        disclosure::EncodePopulation(Range(5, 500))};
    REQUIRE((*h)->Append(kA, kBasis, e).ok());
  }
  SUBCASE("an altered blob") {
    Exec(path, "UPDATE released_population SET population = X'01020304' WHERE id = 2");
  }
  SUBCASE("an altered blob with a matching hash that does not decode") {
    // SHA-256 of the 2 bytes 0x09 0x00 (an unknown kind byte).
    Exec(path,
         "UPDATE released_population SET population = X'0900', population_sha256 = "
         "'a2c4aed1cf757cd9a509734a267ffc7b1166b55f4c8f9c3e3550c56e743328fc' WHERE id = 2");
  }
  auto h = SqliteReleaseHistory::Open(path);
  REQUIRE(h.ok());
  DifferencingGuard guard;
  const absl::Status s = (*h)->LoadInto("dv1", Basis, guard);
  CHECK(s.code() == absl::StatusCode::kDataLoss);
  CHECK(guard.RecordedCount(kA) == 0);  // not even the intact first row
}

TEST_CASE("a changed unit numbering refuses the history") {
  TempDir dir;
  const std::string path = dir.path + "/release_history.db";
  auto h = SqliteReleaseHistory::Open(path);
  REQUIRE(h.ok());
  const std::vector<std::string> e = {disclosure::EncodePopulation(Range(0, 57))};
  REQUIRE((*h)->Append(kA, kBasis, e).ok());
  DifferencingGuard guard;
  const absl::Status s =
      (*h)->LoadInto("dv1", [](std::string_view) { return std::string("universe/1/x"); }, guard);
  CHECK(s.code() == absl::StatusCode::kFailedPrecondition);
  CHECK(guard.RecordedCount(kA) == 0);
  // A growing (process-only) numbering cannot be persisted at all.
  CHECK((*h)->Append(kA, "", e).code() == absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace enclave::adapters::sqlite
