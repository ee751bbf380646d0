// Back up and restore (issue 13): `enclaved --backup` while the server answers queries, then
// `enclaved --restore` into a new state directory; the restored server starts, its log verifies
// and holds every entry acknowledged before the backup. A tampered backup is refused.
#include <doctest/doctest.h>
#include <sqlite3.h>

#include <atomic>
#include <map>
#include <mutex>
#include <set>
#include <thread>

#include "client/verifier/verifier.h"
#include "enclave/server/backup.h"
#include "enclave/server/server.h"
#include "tests/server/observe_world.h"

namespace enclave::server::observe_test {
namespace {

World& Shared() {
  static World world;
  return world;
}

void Sql(const fs::path& db_path, const std::string& sql) {
  sqlite3* db = nullptr;
  REQUIRE(sqlite3_open(db_path.c_str(), &db) == SQLITE_OK);
  char* err = nullptr;
  const int rc = sqlite3_exec(db, sql.c_str(), nullptr, nullptr, &err);
  const std::string message = err != nullptr ? err : "";
  sqlite3_free(err);
  sqlite3_close(db);
  REQUIRE_MESSAGE(rc == SQLITE_OK, message);
}

void CopyTree(const fs::path& from, const fs::path& to) {
  fs::remove_all(to);
  fs::copy(from, to, fs::copy_options::recursive);
}

// Changes one character of leaf `seq` ("municipal_analyst" becomes "municipal_analysX"); with
// `rehash` the stored leaf hash is recomputed to match, as a careful forger would.
void TamperLeaf(const fs::path& db_path, int seq, bool rehash) {
  sqlite3* db = nullptr;
  REQUIRE(sqlite3_open(db_path.c_str(), &db) == SQLITE_OK);
  sqlite3_stmt* st = nullptr;
  REQUIRE(sqlite3_prepare_v2(db, "SELECT bytes FROM leaves WHERE seq = ?1", -1, &st, nullptr) ==
          SQLITE_OK);
  sqlite3_bind_int(st, 1, seq);
  REQUIRE(sqlite3_step(st) == SQLITE_ROW);
  std::string bytes(static_cast<const char*>(sqlite3_column_blob(st, 0)),
                    static_cast<std::size_t>(sqlite3_column_bytes(st, 0)));
  sqlite3_finalize(st);
  const std::size_t at = bytes.find("municipal_analyst");
  REQUIRE(at != std::string::npos);
  bytes[at + 16] = 'X';
  REQUIRE(sqlite3_exec(db, "DROP TRIGGER leaves_no_update", nullptr, nullptr, nullptr) == SQLITE_OK);
  REQUIRE(sqlite3_prepare_v2(db,
                             rehash ? "UPDATE leaves SET bytes = ?1, hash = ?2 WHERE seq = ?3"
                                    : "UPDATE leaves SET bytes = ?1 WHERE seq = ?3",
                             -1, &st, nullptr) == SQLITE_OK);
  const verifier::Hash hash = verifier::LeafHash(bytes);
  sqlite3_bind_blob(st, 1, bytes.data(), static_cast<int>(bytes.size()), SQLITE_TRANSIENT);
  if (rehash) sqlite3_bind_blob(st, 2, hash.data(), static_cast<int>(hash.size()), SQLITE_TRANSIENT);
  sqlite3_bind_int(st, 3, seq);
  CHECK(sqlite3_step(st) == SQLITE_DONE);
  sqlite3_finalize(st);
  sqlite3_close(db);
}

// The verifier key of a fresh log elsewhere: a key the officers did not pin.
std::string OtherLogKey() {
  testing::TempDir other;
  adapters::sqlite::AuditLogOptions o;
  o.state_dir = other.path().string();
  REQUIRE(adapters::sqlite::AuditLogStore::Open(o).ok());
  return Slurp(other.path() / "log_verifier.key");
}

// A stopped server's state with a few released queries, and a backup of it.
struct Backed {
  fs::path state, backup;
  std::string verifier_key;
};

// Made once per name and process (doctest runs a test case again for each SUBCASE).
Backed MakeBackup(World& w, const std::string& name) {
  static std::map<std::string, Backed> made;
  if (auto it = made.find(name); it != made.end()) return it->second;
  Backed b;
  Config c = w.config;
  c.state_dir = (w.dir / ("state-" + name)).string();
  b.state = c.state_dir;
  b.backup = w.dir / ("backup-" + name);
  {
    auto server = StartServer(c);
    REQUIRE_MESSAGE(server.ok(), server.status().ToString());
    auto analyst = client::Connect(w.Connect((*server)->port(), "analyst1"));
    REQUIRE(analyst.ok());
    for (const std::string jaar : {"2087", "2088"}) {
      REQUIRE((*analyst)->RunQuery(kTemplateId, {{"jaar", jaar}}).ok());
    }
    BackupOptions options;
    options.state_dir = c.state_dir;
    options.database_path = c.database_path;
    options.to = b.backup.string();
    auto report = BackupState(options);
    REQUIRE_MESSAGE(report.ok(), report.status().ToString());
    (*server)->Shutdown();
  }
  b.verifier_key = Slurp(b.state / "log_verifier.key");
  made[name] = b;
  return b;
}

}  // namespace

TEST_SUITE("backup") {
  TEST_CASE("backup while queries run, restore, start: the log verifies and holds every "
            "acknowledged entry") {
    World& w = Shared();
    REQUIRE_MESSAGE(w.error.empty(), w.error);
    Config c = w.config;
    c.state_dir = (w.dir / "state-live").string();
    auto server = StartServer(c);
    REQUIRE_MESSAGE(server.ok(), server.status().ToString());
    const int port = (*server)->port();

    std::mutex mu;
    std::vector<std::pair<std::string, std::chrono::steady_clock::time_point>> acknowledged;
    std::atomic<bool> stop{false};
    std::atomic<int> failures{0};
    std::vector<std::thread> workers;
    for (int t = 0; t < 2; ++t) {
      workers.emplace_back([&, t] {
        auto analyst = client::Connect(w.Connect(port, "analyst1"));
        if (!analyst.ok()) {
          ++failures;
          return;
        }
        for (int i = 0; !stop; ++i) {
          auto r = (*analyst)->RunQuery(kTemplateId, {{"jaar", (i + t) % 2 == 0 ? "2087" : "2088"}});
          if (!r.ok()) {
            ++failures;
            continue;
          }
          std::lock_guard<std::mutex> lock(mu);
          acknowledged.emplace_back(r->request_id, std::chrono::steady_clock::now());
        }
      });
    }
    for (int i = 0; i < 300; ++i) {
      {
        std::lock_guard<std::mutex> lock(mu);
        if (acknowledged.size() >= 10) break;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    // The real command, in its own process, while the server answers.
    const fs::path backup = w.dir / "backup-live";
    const auto backup_began = std::chrono::steady_clock::now();
    testing::ProcessResult made = testing::RunProcess(
        {ENCLAVED_PATH, "--state-dir", c.state_dir, "--database", c.database_path, "--backup",
         backup.string()});
    INFO(made.err);
    REQUIRE(made.exit_code == 0);
    CHECK(made.out.find("backed up ") != std::string::npos);
    CHECK(made.out.find("not in the backup (secrets") != std::string::npos);
    std::this_thread::sleep_for(std::chrono::milliseconds(300));
    stop = true;
    for (std::thread& t : workers) t.join();
    CHECK(failures == 0);
    (*server)->Shutdown();
    server->reset();

    std::set<std::string> before_backup;
    std::size_t after_backup = 0;
    for (const auto& [id, when] : acknowledged) {
      if (when < backup_began) {
        before_backup.insert(id);
      } else {
        ++after_backup;
      }
    }
    REQUIRE(before_backup.size() >= 10);
    CHECK(after_backup > 0);  // the server kept answering during and after the backup

    // Secrets are not in the backup.
    for (const char* secret : {"log_signing.key", "record_key.secret", "server.key"}) {
      CHECK_FALSE(fs::exists(backup / secret));
    }
    // The backup is the service user's only: directory 0700, files 0600.
    CHECK(fs::status(backup).permissions() == fs::perms::owner_all);
    for (const fs::directory_entry& e : fs::directory_iterator(backup)) {
      CHECK_MESSAGE(e.status().permissions() == (fs::perms::owner_read | fs::perms::owner_write),
                    e.path().filename().string());
    }

    // Restore into a new state directory: first refused without the secrets from escrow.
    const fs::path restored = w.dir / "state-restored";
    const fs::path restored_db = w.dir / "restored-microdata.db";
    const std::string key_file = (fs::path(c.state_dir) / "log_verifier.key").string();
    auto restore = [&] {
      return testing::RunProcess({ENCLAVED_PATH, "--state-dir", restored.string(), "--database",
                                  restored_db.string(), "--restore", backup.string(),
                                  "--verifier-key", key_file});
    };
    testing::ProcessResult no_secret = restore();
    CHECK(no_secret.exit_code == 1);
    CHECK(no_secret.err.find("record_key.secret") != std::string::npos);
    CHECK_FALSE(fs::exists(restored / "audit_log.db"));
    for (const char* secret : {"record_key.secret", "log_signing.key"}) {
      fs::copy_file(fs::path(c.state_dir) / secret, restored / secret);
    }
    testing::ProcessResult done = restore();
    INFO(done.err);
    REQUIRE(done.exit_code == 0);
    CHECK(done.out.find("restored ") != std::string::npos);
    // A second restore would roll the (now live) log back: refused.
    testing::ProcessResult again = restore();
    CHECK(again.exit_code == 1);
    CHECK(again.err.find("never replaces a query log") != std::string::npos);
    // What the restore wrote is as enclaved wants its state: directory 0700, files 0600.
    CHECK(fs::status(restored).permissions() == fs::perms::owner_all);
    for (const char* name : {"audit_log.db", "checkpoint", "log_verifier.key",
                             "release_history.db", "budget_ledger.db"}) {
      CHECK_MESSAGE(fs::status(restored / name).permissions() ==
                        (fs::perms::owner_read | fs::perms::owner_write),
                    name);
    }
    CHECK(fs::status(restored_db).permissions() ==
          (fs::perms::owner_read | fs::perms::owner_write));

    // The restored server starts and answers.
    Config r = w.config;
    r.state_dir = restored.string();
    r.database_path = restored_db.string();
    {
      auto restarted = StartServer(r);
      REQUIRE_MESSAGE(restarted.ok(), restarted.status().ToString());
      auto analyst = client::Connect(w.Connect((*restarted)->port(), "analyst1"));
      REQUIRE(analyst.ok());
      CHECK((*analyst)->RunQuery(kTemplateId, {{"jaar", "2087"}}).ok());
      (*restarted)->Shutdown();
    }
    // Its log verifies in full with the key the officers pinned, and holds every acknowledged
    // result from before the backup.
    auto verified =
        VerifyLogDatabase((restored / "audit_log.db").string(), Slurp(key_file));
    REQUIRE_MESSAGE(verified.ok(), verified.status().ToString());
    CHECK(verified->first == verified->second);  // the final checkpoint covers all
    std::set<std::string> results;
    for (const audit::LogLeaf& leaf : Leaves(restored.string())) {
      if (leaf.type == audit::EntryType::kQueryResult) results.insert(leaf.request_id);
    }
    for (const std::string& id : before_backup) CHECK_MESSAGE(results.count(id) == 1, id);
  }

  TEST_CASE("a tampered backup is refused, whichever part was changed") {
    World& w = Shared();
    REQUIRE_MESSAGE(w.error.empty(), w.error);
    const Backed b = MakeBackup(w, "tamper");
    // Negative control: the backup as made verifies.
    auto good = VerifyBackup(b.backup.string(), b.verifier_key);
    REQUIRE_MESSAGE(good.ok(), good.status().ToString());
    CHECK(good->log_entries >= 6);

    const fs::path t = w.dir / "backup-tampered";
    SUBCASE("one leaf's bytes in the log") {
      CopyTree(b.backup, t);
      TamperLeaf(t / "audit_log.db", 3, /*rehash=*/true);
      auto s = VerifyBackup(t.string(), b.verifier_key);
      CHECK(s.status().code() == absl::StatusCode::kDataLoss);
      CHECK(s.status().message().find("audit_log.db differs from the signed manifest") !=
            std::string::npos);
    }
    SUBCASE("a ledger row, and the manifest's digest patched to match (no key to re-sign)") {
      CopyTree(b.backup, t);
      Sql(t / "budget_ledger.db", "CREATE TABLE forged (x); INSERT INTO forged VALUES (1);");
      std::string manifest = Slurp(t / kBackupManifestName);
      const std::size_t at = manifest.find("file budget_ledger.db ");
      REQUIRE(at != std::string::npos);
      const std::size_t eol = manifest.find('\n', at);
      manifest[eol - 1] = manifest[eol - 1] == '0' ? '1' : '0';
      fs::remove(t / kBackupManifestName);
      Put(t / kBackupManifestName, manifest);
      auto s = VerifyBackup(t.string(), b.verifier_key);
      CHECK(s.status().code() == absl::StatusCode::kUnauthenticated);
      CHECK(s.status().message().find("not signed by the log key") != std::string::npos);
    }
    SUBCASE("the release history") {
      CopyTree(b.backup, t);
      Sql(t / "release_history.db", "CREATE TABLE forged (x);");
      auto s = VerifyBackup(t.string(), b.verifier_key);
      CHECK(s.status().code() == absl::StatusCode::kDataLoss);
      CHECK(s.status().message().find("release_history.db differs") != std::string::npos);
    }
    SUBCASE("a key other than the one the officers pinned") {
      auto s = VerifyBackup(b.backup.string(), OtherLogKey());
      CHECK(s.status().code() == absl::StatusCode::kUnauthenticated);
    }
    SUBCASE("the real command refuses a tampered backup and writes nothing") {
      CopyTree(b.backup, t);
      Sql(t / "audit_log.db",
          "DROP TRIGGER leaves_no_delete; DELETE FROM leaves WHERE seq = 2;");
      const fs::path target = w.dir / "state-not-restored";
      fs::create_directories(target);
      fs::permissions(target, fs::perms::owner_all, fs::perm_options::replace);
      for (const char* secret : {"record_key.secret", "log_signing.key"}) {
        fs::copy_file(b.state / secret, target / secret, fs::copy_options::overwrite_existing);
      }
      fs::remove(target / "audit_log.db");
      const fs::path key_file = w.dir / "pinned.key";
      fs::remove(key_file);
      Put(key_file, b.verifier_key);
      testing::ProcessResult p = testing::RunProcess(
          {ENCLAVED_PATH, "--state-dir", target.string(), "--restore", t.string(),
           "--verifier-key", key_file.string()});
      CHECK(p.exit_code == 1);
      CHECK(p.err.find("restore refused") != std::string::npos);
      CHECK(p.err.find("differs from the signed manifest") != std::string::npos);
      CHECK_FALSE(fs::exists(target / "audit_log.db"));
      CHECK_FALSE(fs::exists(target / "checkpoint"));
      // And enclaved --verify-backup says the same, changing nothing.
      testing::ProcessResult v = testing::RunProcess(
          {ENCLAVED_PATH, "--verify-backup", t.string(), "--verifier-key", key_file.string()});
      CHECK(v.exit_code == 1);
      testing::ProcessResult ok = testing::RunProcess(
          {ENCLAVED_PATH, "--verify-backup", b.backup.string(), "--verifier-key",
           key_file.string()});
      INFO(ok.err);
      CHECK(ok.exit_code == 0);
      CHECK(ok.out.find("backup OK") != std::string::npos);
    }
  }

  TEST_CASE("the log verification finds each kind of change to the database itself") {
    World& w = Shared();
    REQUIRE_MESSAGE(w.error.empty(), w.error);
    const Backed b = MakeBackup(w, "deep");
    const fs::path db = w.dir / "deep-audit_log.db";
    auto reset = [&] {
      fs::remove(db);
      fs::copy_file(b.backup / "audit_log.db", db);
    };
    reset();
    REQUIRE(VerifyLogDatabase(db.string(), b.verifier_key).ok());  // negative control

    // A changed leaf whose stored hash was left alone.
    TamperLeaf(db, 3, /*rehash=*/false);
    auto s = VerifyLogDatabase(db.string(), b.verifier_key);
    CHECK(s.status().code() == absl::StatusCode::kDataLoss);
    CHECK(s.status().message().find("the bytes of leaf 3 do not hash") != std::string::npos);

    // The same with the leaf hash recomputed: the tree above it no longer matches.
    reset();
    TamperLeaf(db, 3, /*rehash=*/true);
    s = VerifyLogDatabase(db.string(), b.verifier_key);
    CHECK(s.status().code() == absl::StatusCode::kDataLoss);
    CHECK(s.status().message().find("tree node (1, 1) differs") != std::string::npos);

    // A leaf removed from the end, with the tree state left: the state no longer matches.
    reset();
    Sql(db, "DROP TRIGGER leaves_no_delete; DELETE FROM leaves WHERE seq = (SELECT max(seq) FROM "
            "leaves);");
    s = VerifyLogDatabase(db.string(), b.verifier_key);
    CHECK(s.status().code() == absl::StatusCode::kDataLoss);

    // Checkpoints checked against a key other than the pinned one.
    reset();
    s = VerifyLogDatabase(db.string(), OtherLogKey());
    CHECK(s.status().code() == absl::StatusCode::kDataLoss);
    CHECK(s.status().message().find("does not verify with the log key") != std::string::npos);
  }

  TEST_CASE("restore refuses a state directory that group or others may use, writing nothing") {
    World& w = Shared();
    REQUIRE_MESSAGE(w.error.empty(), w.error);
    const Backed b = MakeBackup(w, "modes");
    const fs::path key_file = w.dir / "pinned-modes.key";
    fs::remove(key_file);
    Put(key_file, b.verifier_key);
    const fs::path target = w.dir / "state-wide";
    fs::remove_all(target);
    fs::create_directories(target);
    for (const char* secret : {"record_key.secret", "log_signing.key"}) {
      fs::copy_file(b.state / secret, target / secret);
    }
    RestoreOptions options;
    options.from = b.backup.string();
    options.state_dir = target.string();
    options.verifier_key_file = key_file.string();
    fs::permissions(target, fs::perms::owner_all | fs::perms::group_read | fs::perms::group_exec |
                                fs::perms::others_read | fs::perms::others_exec,
                    fs::perm_options::replace);
    auto wide = RestoreState(options);
    CHECK(wide.status().code() == absl::StatusCode::kFailedPrecondition);
    CHECK(wide.status().message().find("has mode 0755; allowed: 0700") != std::string::npos);
    CHECK_FALSE(fs::exists(target / "audit_log.db"));
    CHECK_FALSE(fs::exists(target / "checkpoint"));
    // Negative control: the same directory at 0700 is restored into.
    fs::permissions(target, fs::perms::owner_all, fs::perm_options::replace);
    auto restored = RestoreState(options);
    REQUIRE_MESSAGE(restored.ok(), restored.status().ToString());
    CHECK(fs::exists(target / "audit_log.db"));
  }

  TEST_CASE("backup and restore refuse a log whose entries lie beyond its signed head") {
    World& w = Shared();
    REQUIRE_MESSAGE(w.error.empty(), w.error);
    const Backed b = MakeBackup(w, "head");
    // A copy of the stopped server's state directory, as the server left it (0700).
    const fs::path state = w.dir / "state-head-copy";
    CopyTree(b.state, state);
    fs::permissions(state, fs::perms::owner_all, fs::perm_options::replace);
    BackupOptions options;
    options.state_dir = state.string();
    options.to = (w.dir / "backup-head-control").string();
    fs::remove_all(options.to);
    // Negative control: the copy as the server left it is backed up.
    auto control = BackupState(options);
    REQUIRE_MESSAGE(control.ok(), control.status().ToString());

    // Every commit signs a head, so entries beyond it were written around the server. Simulated
    // by putting an older, validly signed head back (the size-0 checkpoint from the history) and
    // dropping the history rows and the file that cover the rest, as such a writer would have to.
    Sql(state / "audit_log.db",
        "DROP TRIGGER signed_head_only_grows; DROP TRIGGER checkpoints_no_delete; "
        "UPDATE signed_head SET size = 0, note = (SELECT note FROM checkpoints WHERE size = 0) "
        "WHERE id = 1; DELETE FROM checkpoints WHERE size > 0;");
    options.to = (w.dir / "backup-head-behind").string();
    fs::remove_all(options.to);
    auto behind = BackupState(options);
    CHECK(behind.status().code() == absl::StatusCode::kDataLoss);
    CHECK(behind.status().message().find("its signed head covers only 0") != std::string::npos);
    CHECK(behind.status().message().find("nothing was backed up") != std::string::npos);
    CHECK_FALSE(fs::exists(options.to));

    // The log verification itself reports how far the signed checkpoints reach.
    auto verified = VerifyLogDatabase((state / "audit_log.db").string(), b.verifier_key);
    REQUIRE_MESSAGE(verified.ok(), verified.status().ToString());
    CHECK(verified->second == 0);
    CHECK(verified->first > 0);

    // A signed head that does not verify with the pinned key is named.
    Sql(state / "audit_log.db", "UPDATE signed_head SET note = 'x' || note;");
    auto forged = VerifyLogDatabase((state / "audit_log.db").string(), b.verifier_key);
    CHECK(forged.status().code() == absl::StatusCode::kDataLoss);
    CHECK(forged.status().message().find("the signed head") != std::string::npos);
  }

  TEST_CASE("backup refuses an existing target and a directory without a query log") {
    World& w = Shared();
    REQUIRE_MESSAGE(w.error.empty(), w.error);
    const Backed b = MakeBackup(w, "refusals");
    BackupOptions options;
    options.state_dir = b.state.string();
    options.to = b.backup.string();  // exists
    auto s = BackupState(options);
    CHECK(s.status().code() == absl::StatusCode::kFailedPrecondition);
    CHECK(s.status().message().find("already exists") != std::string::npos);
    testing::TempDir empty;
    options.state_dir = empty.path().string();
    options.to = (w.dir / "backup-of-nothing").string();
    s = BackupState(options);
    CHECK(s.status().code() == absl::StatusCode::kFailedPrecondition);
    CHECK(s.status().message().find("has started") != std::string::npos);
    CHECK_FALSE(fs::exists(options.to));
  }
}

}  // namespace enclave::server::observe_test
