#include "enclave/adapters/sqlite/release_history_store.h"

#include <doctest/doctest.h>
#include <sys/stat.h>
#include <sqlite3.h>
#include <stdlib.h>
#include <unistd.h>

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

const GuardKey kA{"dv1", "person"};

disclosure::GuardRecord Record(std::vector<Population> pops) {
  disclosure::GuardRecord r;
  for (const Population& p : pops) r.populations.push_back({disclosure::EncodePopulation(p), 10});
  return r;
}

absl::Status Check(DifferencingGuard& guard, const Population& p, std::uint64_t t = 10) {
  std::vector<disclosure::GuardedPopulation> g = {{p, {}}};
  return guard.CheckAndRecord(kA, g, disclosure::GuardLimits{t, 0});
}
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
  const std::vector<disclosure::GuardedPopulation> release = {{Range(0, 57), {"wijk"}},
                                                              {Range(1000, 2000), {"geslacht"}}};
  {
    DifferencingGuard guard;
    disclosure::GuardRecord added;
    REQUIRE(guard.CheckAndRecord(kA, release, disclosure::GuardLimits{10, 10}, &added).ok());
    REQUIRE(added.partitions.size() == 2);
    auto h = SqliteReleaseHistory::Open(path);
    REQUIRE(h.ok());
    REQUIRE((*h)->Append(kA, kBasis, added).ok());
    REQUIRE((*h)->Append(kA, kBasis, added).ok());  // repeats are skipped
    // Another data version's history is kept but not loaded for dv1.
    REQUIRE((*h)->Append(GuardKey{"dv0", "person"}, kBasis, Record({Range(0, 30)})).ok());
  }
  auto h = SqliteReleaseHistory::Open(path);
  REQUIRE(h.ok());
  DifferencingGuard restarted;
  REQUIRE((*h)->LoadInto("dv1", Basis, restarted).ok());
  CHECK(restarted.RecordedCount(kA) == 2);
  CHECK(restarted.RecordedCount(GuardKey{"dv0", "person"}) == 0);
  CHECK(restarted.PartitionsOf(kA, Range(0, 57)) == 1);
  CHECK(Check(restarted, Range(0, 56)).code() == absl::StatusCode::kFailedPrecondition);
  CHECK(Check(restarted, Range(0, 57)).ok());
  // Without the history, the same release would pass: the store is what protects it.
  DifferencingGuard empty;
  CHECK(Check(empty, Range(0, 56)).ok());
}

TEST_CASE("rows written per project before the guard became global are one history") {
  TempDir dir;
  const std::string path = dir.path + "/release_history.db";
  {
    auto h = SqliteReleaseHistory::Open(path);
    REQUIRE(h.ok());
  }
  // The old layout wrote the caller's project; both rows now protect everyone.
  {
    auto h = SqliteReleaseHistory::Open(path);
    REQUIRE(h.ok());
    REQUIRE((*h)->Append(kA, kBasis, Record({Range(0, 57)})).ok());
    REQUIRE((*h)->Append(kA, kBasis, Record({Range(500, 600)})).ok());
  }
  Exec(path, "UPDATE released_population SET project = 'project:P1' WHERE id = 1");
  Exec(path, "UPDATE released_population SET project = 'org:gemeente' WHERE id = 2");
  auto h = SqliteReleaseHistory::Open(path);
  REQUIRE(h.ok());
  DifferencingGuard guard;
  REQUIRE((*h)->LoadInto("dv1", Basis, guard).ok());
  CHECK(guard.RecordedCount(kA) == 2);
  CHECK_FALSE(Check(guard, Range(0, 56)).ok());
  CHECK_FALSE(Check(guard, Range(500, 601)).ok());
}

TEST_CASE("a population's threshold is kept, raised to the largest, and restored") {
  TempDir dir;
  const std::string path = dir.path + "/release_history.db";
  {
    auto h = SqliteReleaseHistory::Open(path);
    REQUIRE(h.ok());
    disclosure::GuardRecord r = Record({Range(0, 500)});
    REQUIRE((*h)->Append(kA, kBasis, r).ok());
    r.populations[0].min_units = 100;
    REQUIRE((*h)->Append(kA, kBasis, r).ok());
    r.populations[0].min_units = 10;  // a later release at the smaller T keeps 100
    REQUIRE((*h)->Append(kA, kBasis, r).ok());
  }
  auto h = SqliteReleaseHistory::Open(path);
  REQUIRE(h.ok());
  DifferencingGuard guard;
  REQUIRE((*h)->LoadInto("dv1", Basis, guard).ok());
  CHECK(guard.RecordedCount(kA) == 1);
  // 50 apart at T = 100 is refused (the kept population's T is 100), at T = 10 allowed.
  CHECK_FALSE(Check(guard, Range(50, 500), 100).ok());
  CHECK(Check(guard, Range(50, 500), 10).ok());
}

TEST_CASE("a history written before thresholds were stored loads with T = 10") {
  TempDir dir;
  const std::string path = dir.path + "/release_history.db";
  Exec(path, "CREATE TABLE released_population (id INTEGER PRIMARY KEY, project TEXT NOT NULL, "
             "data_version TEXT NOT NULL, unit_type TEXT NOT NULL, index_basis TEXT NOT NULL, "
             "population BLOB NOT NULL, population_sha256 TEXT NOT NULL, created TEXT NOT NULL, "
             "UNIQUE (project, data_version, unit_type, population_sha256))");
  // A state file wider than 0600 is refused (durable_database.h); the old store's was 0600.
  REQUIRE(::chmod(path.c_str(), 0600) == 0);
  auto h = SqliteReleaseHistory::Open(path);
  REQUIRE(h.ok());
  REQUIRE((*h)->Append(kA, kBasis, Record({Range(0, 57)})).ok());
  DifferencingGuard guard;
  REQUIRE((*h)->LoadInto("dv1", Basis, guard).ok());
  CHECK_FALSE(Check(guard, Range(0, 56)).ok());
}

TEST_CASE("a malformed partition record fails the load closed") {
  TempDir dir;
  const std::string path = dir.path + "/release_history.db";
  {
    DifferencingGuard guard;
    disclosure::GuardRecord added;
    const std::vector<disclosure::GuardedPopulation> release = {{Range(0, 57), {"wijk"}}};
    REQUIRE(guard.CheckAndRecord(kA, release, disclosure::GuardLimits{10, 10}, &added).ok());
    auto h = SqliteReleaseHistory::Open(path);
    REQUIRE(h.ok());
    REQUIRE((*h)->Append(kA, kBasis, added).ok());
  }
  Exec(path, "UPDATE released_partition SET population_digest = 'not-a-digest'");
  auto h = SqliteReleaseHistory::Open(path);
  REQUIRE(h.ok());
  DifferencingGuard guard;
  CHECK((*h)->LoadInto("dv1", Basis, guard).code() == absl::StatusCode::kDataLoss);
  CHECK(guard.RecordedCount(kA) == 0);
}

TEST_CASE("a corrupt population fails the whole load closed") {
  TempDir dir;
  const std::string path = dir.path + "/release_history.db";
  {
    auto h = SqliteReleaseHistory::Open(path);
    REQUIRE(h.ok());
    REQUIRE((*h)->Append(kA, kBasis, Record({Range(0, 57), Range(5, 500)})).ok());
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
  const disclosure::GuardRecord e = Record({Range(0, 57)});
  REQUIRE((*h)->Append(kA, kBasis, e).ok());
  DifferencingGuard guard;
  const absl::Status s =
      (*h)->LoadInto("dv1", [](std::string_view) { return std::string("universe/1/x"); }, guard);
  CHECK(s.code() == absl::StatusCode::kFailedPrecondition);
  CHECK(guard.RecordedCount(kA) == 0);
  // A growing (process-only) numbering cannot be persisted at all.
  CHECK((*h)->Append(kA, "", e).code() == absl::StatusCode::kInvalidArgument);
}

TEST_CASE("the store's files are created 0600 whatever the umask, and a wider one is refused") {
  TempDir dir;
  const std::string path = dir.path + "/release_history.db";
  const mode_t saved = ::umask(022);
  {
    auto h = SqliteReleaseHistory::Open(path);
    ::umask(saved);
    REQUIRE(h.ok());
    REQUIRE((*h)->Append(kA, kBasis, Record({Range(0, 57)})).ok());
    for (const char* suffix : {"", "-wal", "-shm"}) {
      CAPTURE(suffix);
      struct stat st {};
      REQUIRE(::stat((path + suffix).c_str(), &st) == 0);
      CHECK((st.st_mode & 0777) == 0600);
    }
  }
  for (mode_t mode : {0644U, 0666U, 0640U}) {
    CAPTURE(mode);
    REQUIRE(::chmod(path.c_str(), mode) == 0);
    auto h = SqliteReleaseHistory::Open(path);
    REQUIRE_FALSE(h.ok());
    CHECK(h.status().code() == absl::StatusCode::kFailedPrecondition);
    CHECK(std::string(h.status().message()).find(path + " has mode 0") != std::string::npos);
  }
  REQUIRE(::chmod(path.c_str(), 0600) == 0);
  // A symbolic link in its place is refused too.
  const std::string link = dir.path + "/linked.db";
  REQUIRE(::symlink(path.c_str(), link.c_str()) == 0);
  CHECK(SqliteReleaseHistory::Open(link).status().code() == absl::StatusCode::kFailedPrecondition);
  CHECK(SqliteReleaseHistory::Open(path).ok());  // negative control
}

}  // namespace
}  // namespace enclave::adapters::sqlite
