// Crash consistency of the audit log (docs/security.md §7.2, item 9, CI size): the real enclaved
// under query load is killed with SIGKILL at random moments and restarted each time. Afterwards
// the whole log verifies with the independent verifier against every checkpoint seen before a
// kill, the sequence is contiguous, no accepted entry is left open, and every query the client
// saw succeed has its accepted and result entries. Also the insider's edits of issue 11 §1 on the
// real server: leaf bytes rewritten under kept hashes (caught by enclavectl's audit log, verify
// and export, and at the next start), and a tail rewritten after acknowledgement and a crash.
#include <doctest/doctest.h>
#include <sqlite3.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <filesystem>
#include <map>
#include <mutex>
#include <random>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "client/cli/audit.h"
#include "client/verifier/verifier.h"
#include "enclave/adapters/sqlite/audit_log_store.h"
#include "enclave/client/client.h"
#include "tests/integration/process.h"
#include "tests/integration/world.h"
#include "tests/testing/audit_tamper.h"

namespace enclave::testing {
namespace {

const std::string kSourceDir = ENCLAVE_SOURCE_DIR;
constexpr int kKills = 20;
constexpr auto kBudget = std::chrono::seconds(90);

// The shared PKI and small dataset; each test case has its own state directory.
struct World : TestWorld {
  std::string state;

  World() : TestWorld(kSmallData) { state = StateDir("state"); }

  std::unique_ptr<ServerProcess> Start() const { return Start(state); }
  std::unique_ptr<ServerProcess> Start(const std::string& state_dir) const {
    return StartEnclaved(ShippedPolicies(), state_dir);
  }

  std::unique_ptr<client::EnclaveClient> Client(int port) const {
    return Connect("127.0.0.1:" + std::to_string(port), "analyst1", std::chrono::milliseconds(5000));
  }

  std::unique_ptr<client::AuditClient> Officer(int port) const {
    auto c = client::ConnectAudit(ClientOptions("127.0.0.1:" + std::to_string(port), "officer1",
                                                std::chrono::milliseconds(10000)));
    REQUIRE(c.ok());
    return std::move(*c);
  }
};

World& TheWorld() {
  static World world;
  return world;
}

std::string Trim(std::string s) {
  while (!s.empty() && (s.back() == '\n' || s.back() == '\r')) s.pop_back();
  return s;
}

}  // namespace

TEST_CASE("SIGKILL under query load never loses an acknowledged query or breaks the log") {
  World& w = TheWorld();
  client::SilenceTransportLogs();
  const auto deadline = std::chrono::steady_clock::now() + kBudget;
  std::mt19937_64 rng(20261125);
  std::uniform_int_distribution<int> run_ms(50, 1500);
  std::set<std::string> acknowledged;  // request ids of queries the client saw succeed
  std::vector<std::string> checkpoints_seen;
  int kills = 0;
  for (; kills < kKills && std::chrono::steady_clock::now() < deadline; ++kills) {
    const auto started = std::chrono::steady_clock::now();
    std::unique_ptr<ServerProcess> server = w.Start();
    INFO(server->stderr_text());
    REQUIRE_MESSAGE(server->port() > 0, server->stderr_text());
    CHECK(std::chrono::steady_clock::now() - started < std::chrono::seconds(5));  // serves again
    std::atomic<bool> stop{false};
    std::mutex mu;
    std::vector<std::thread> clients;
    for (int c = 0; c < 4; ++c) {
      clients.emplace_back([&, c] {
        auto client = w.Client(server->port());
        const char* templates[] = {"zzp_aantal_per_wijk", "bijstand_stand"};
        for (int i = 0; !stop.load(); ++i) {
          auto r = client->RunQuery(templates[(c + i) % 2], {});
          if (r.ok()) {
            std::lock_guard<std::mutex> lock(mu);
            acknowledged.insert(r->request_id);
          }
        }
      });
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(run_ms(rng)));
    checkpoints_seen.push_back(ReadFile(w.state + "/checkpoint"));
    server.reset();  // SIGKILL
    stop = true;
    for (auto& t : clients) t.join();
  }
  MESSAGE("kills: ", kills, ", acknowledged queries: ", acknowledged.size());
  CHECK(kills >= 10);
  CHECK(acknowledged.size() >= 20);

  // A last start closes the orphans of the last kill; a graceful stop signs the final checkpoint.
  {
    std::unique_ptr<ServerProcess> server = w.Start();
    REQUIRE_MESSAGE(server->port() > 0, server->stderr_text());
    CHECK(server->Stop() == 0);
  }
  {
    sqlite3* raw = nullptr;
    REQUIRE(sqlite3_open_v2((w.state + "/audit_log.db").c_str(), &raw, SQLITE_OPEN_READONLY,
                            nullptr) == SQLITE_OK);
    sqlite3_stmt* stmt = nullptr;
    REQUIRE(sqlite3_prepare_v2(raw, "PRAGMA integrity_check", -1, &stmt, nullptr) == SQLITE_OK);
    REQUIRE(sqlite3_step(stmt) == SQLITE_ROW);
    CHECK(std::string(reinterpret_cast<const char*>(sqlite3_column_text(stmt, 0))) == "ok");
    sqlite3_finalize(stmt);
    sqlite3_close(raw);
  }
  adapters::sqlite::AuditLogOptions options;
  options.state_dir = w.state;
  auto store = adapters::sqlite::AuditLogStore::Open(options);
  REQUIRE_MESSAGE(store.ok(), store.status().ToString());
  CHECK((*store)->LatestCheckpoint().size == (*store)->Size());
  auto bundle = (*store)->ExportBundle(0);
  REQUIRE(bundle.ok());

  auto key = verifier::ParseVerifierKey(Trim(ReadFile(w.state + "/log_verifier.key")));
  REQUIRE(key.ok());
  verifier::BundleOptions vo;
  vo.key = *key;
  vo.origin = adapters::sqlite::kDefaultLogOrigin;
  auto report = verifier::VerifyBundle(*bundle, vo);  // contiguous, pairs, root, signature
  REQUIRE_MESSAGE(report.ok(), report.status().ToString());
  CHECK(report->open_requests == 0);
  CHECK(report->by_type["recovery"] >= 1);
  // Consistent with every checkpoint published before a kill.
  for (const std::string& note : checkpoints_seen) {
    REQUIRE_FALSE(note.empty());
    auto cp = verifier::VerifyCheckpointNote(note, *key, vo.origin);
    REQUIRE(cp.ok());
    verifier::BundleOptions trusted = vo;
    trusted.trusted = *cp;
    CHECK(verifier::VerifyBundle(*bundle, trusted).ok());
  }
  // Every acknowledged query has its accepted and result entries.
  auto leaves = (*store)->ReadLeaves(0, report->checkpoint.size);
  REQUIRE(leaves.ok());
  std::map<std::string, std::set<std::string>> types_by_request;
  for (const std::string& bytes : *leaves) {
    auto leaf = verifier::ParseLeaf(bytes);
    REQUIRE(leaf.ok());
    if (!leaf->request_id.empty()) types_by_request[leaf->request_id].insert(leaf->type_name);
  }
  int missing = 0;
  for (const std::string& id : acknowledged) {
    const auto& types = types_by_request[id];
    if (!types.contains("query-accepted") || !types.contains("query-result")) ++missing;
  }
  CHECK(missing == 0);
}

TEST_CASE("a state directory restored from an older copy makes enclaved refuse to start") {
  World& w = TheWorld();
  client::SilenceTransportLogs();
  const std::string state = w.dir.path().string() + "/state-rollback";
  const std::string backup = w.dir.path().string() + "/backup";
  std::filesystem::create_directories(state);
  std::filesystem::permissions(state, std::filesystem::perms::owner_all);  // 0700: required
  std::filesystem::create_directories(backup);
  auto run_and_stop = [&] {
    std::unique_ptr<ServerProcess> server = w.Start(state);
    REQUIRE_MESSAGE(server->port() > 0, server->stderr_text());
    auto client = w.Client(server->port());
    for (int i = 0; i < 3; ++i) CHECK(client->RunQuery("zzp_aantal_per_wijk", {}).ok());
    CHECK(server->Stop() == 0);
  };
  run_and_stop();
  for (const char* name : {"audit_log.db", "audit_log.db-wal", "audit_log.db-shm"}) {
    if (std::filesystem::exists(state + "/" + name)) {
      std::filesystem::copy_file(state + "/" + name, backup + "/" + name);
    }
  }
  run_and_stop();  // the checkpoint now covers more than the backup holds
  for (const char* name : {"audit_log.db", "audit_log.db-wal", "audit_log.db-shm"}) {
    std::filesystem::remove(state + "/" + name);
    if (std::filesystem::exists(backup + "/" + name)) {
      std::filesystem::copy_file(backup + "/" + name, state + "/" + name);
    }
  }
  const auto started = std::chrono::steady_clock::now();
  std::unique_ptr<ServerProcess> server = w.Start(state);
  CHECK(server->port() == 0);  // never listened
  CHECK(std::chrono::steady_clock::now() - started < std::chrono::seconds(5));
  CHECK(server->Stop() != 0);
  const std::string err = server->stderr_text();
  CHECK_MESSAGE(err.find("rolled back") != std::string::npos, err);
}

namespace {
constexpr char kAnalyst1[] = "spiffe://udc-lv.local/municipal_analyst/analyst1";
constexpr char kAnalyst9[] = "spiffe://udc-lv.local/municipal_analyst/analyst9";

std::uint64_t LeafCount(const std::string& db) {
  sqlite3* raw = nullptr;
  REQUIRE(sqlite3_open_v2(db.c_str(), &raw, SQLITE_OPEN_READONLY, nullptr) == SQLITE_OK);
  sqlite3_stmt* stmt = nullptr;
  REQUIRE(sqlite3_prepare_v2(raw, "SELECT COUNT(*) FROM leaves", -1, &stmt, nullptr) == SQLITE_OK);
  REQUIRE(sqlite3_step(stmt) == SQLITE_ROW);
  const auto n = static_cast<std::uint64_t>(sqlite3_column_int64(stmt, 0));
  sqlite3_finalize(stmt);
  sqlite3_close(raw);
  return n;
}
}  // namespace

TEST_CASE("leaf bytes rewritten under a running enclaved: log, verify and export refuse them") {
  // Issue 11 §1: the caller of checkpointed entries rewritten from analyst1 to analyst9 in the
  // leaf bytes, the hashes kept, while the server runs. Then stopped: start-up refuses.
  World& w = TheWorld();
  client::SilenceTransportLogs();
  const std::string state = w.dir.path().string() + "/state-bytes";
  std::filesystem::create_directories(state);
  std::filesystem::permissions(state, std::filesystem::perms::owner_all);  // 0700: required
  std::unique_ptr<ServerProcess> server = w.Start(state);
  REQUIRE_MESSAGE(server->port() > 0, server->stderr_text());
  {
    auto analyst = w.Client(server->port());
    for (int i = 0; i < 4; ++i) CHECK(analyst->RunQuery("zzp_aantal_per_wijk", {}).ok());
  }
  auto officer = w.Officer(server->port());
  client::cli::AuditTrust trust;
  trust.log_key = Trim(ReadFile(state + "/log_verifier.key"));
  trust.origin = adapters::sqlite::kDefaultLogOrigin;
  trust.state_path = w.dir.path().string() + "/officer-checkpoint";
  auto first = client::cli::VerifyLog(*officer, trust);  // the officer's routine
  REQUIRE_MESSAGE(first.ok(), first.status().ToString());
  const std::string kept = ReadFile(trust.state_path);
  {
    auto analyst = w.Client(server->port());
    for (int i = 0; i < 2; ++i) CHECK(analyst->RunQuery("bijstand_stand", {}).ok());
  }
  client::AuditFilter mine;
  mine.caller = kAnalyst1;
  auto before = client::cli::ListLog(*officer, mine, false, trust);  // negative control
  REQUIRE_MESSAGE(before.ok(), before.status().ToString());
  CHECK(before->find("NOT YET CHECKPOINTED") == std::string::npos);  // a signed head per commit

  auto key = verifier::ParseVerifierKey(trust.log_key);
  REQUIRE(key.ok());
  auto stored = verifier::VerifyCheckpointNote(kept, *key, trust.origin);
  REQUIRE(stored.ok());
  std::uint64_t first_edited = UINT64_MAX;
  int edited = 0;
  REQUIRE(testing::RewriteLeafBytes(state + "/audit_log.db", 0, stored->size,
                                    [&](audit::LogLeaf& l) {
                                      if (l.caller != kAnalyst1) return;
                                      l.caller = kAnalyst9;
                                      first_edited = std::min(first_edited, l.sequence);
                                      ++edited;
                                    })
              .ok());
  REQUIRE(edited >= 8);
  const std::string named = "entry " + std::to_string(first_edited) + ":";

  client::AuditFilter theirs;
  theirs.caller = kAnalyst9;
  auto listed = client::cli::ListLog(*officer, theirs, false, trust);
  REQUIRE_FALSE(listed.ok());
  CHECK(listed.status().code() == absl::StatusCode::kDataLoss);
  CHECK_MESSAGE(std::string(listed.status().message()).find(named) != std::string::npos,
                listed.status().message());

  auto verified = client::cli::VerifyLog(*officer, trust);
  REQUIRE_FALSE(verified.ok());
  CHECK(verified.status().code() == absl::StatusCode::kDataLoss);
  CHECK_MESSAGE(std::string(verified.status().message()).find(named) != std::string::npos,
                verified.status().message());
  CHECK(ReadFile(trust.state_path) == kept);

  const std::string bundle = w.dir.path().string() + "/bytes.bundle";
  auto exported = client::cli::ExportLog(*officer, bundle, trust);
  REQUIRE_FALSE(exported.ok());
  CHECK(std::string(exported.status().message()).find(named) != std::string::npos);
  CHECK_FALSE(std::filesystem::exists(bundle));

  officer.reset();
  CHECK(server->Stop() == 0);
  std::unique_ptr<ServerProcess> again = w.Start(state);
  CHECK(again->port() == 0);  // never listened
  CHECK(again->Stop() != 0);
  const std::string err = again->stderr_text();
  CHECK_MESSAGE(err.find("entry " + std::to_string(first_edited) + " in ") != std::string::npos,
                err);
  CHECK(err.find("analyst9") == std::string::npos);  // the entry by index, never its content
}

TEST_CASE("a tail rewritten after acknowledged queries and a SIGKILL makes enclaved refuse to start") {
  World& w = TheWorld();
  client::SilenceTransportLogs();
  const std::string state = w.dir.path().string() + "/state-tail";
  std::filesystem::create_directories(state);
  std::filesystem::permissions(state, std::filesystem::perms::owner_all);  // 0700: required
  auto run_and_kill = [&] {
    std::unique_ptr<ServerProcess> server = w.Start(state);
    REQUIRE_MESSAGE(server->port() > 0, server->stderr_text());
    auto analyst = w.Client(server->port());
    for (int i = 0; i < 3; ++i) CHECK(analyst->RunQuery("zzp_aantal_per_wijk", {}).ok());
    server.reset();  // SIGKILL: the checkpoint file and history lag; only the signed head covers
  };
  run_and_kill();
  run_and_kill();  // negative control: a plain crash restarts
  const std::uint64_t n = LeafCount(state + "/audit_log.db");
  // The last acknowledged query's entries, rewritten with everything derived from them.
  REQUIRE(testing::RewriteTailConsistently(state + "/audit_log.db", n - 2, kAnalyst9).ok());
  std::unique_ptr<ServerProcess> server = w.Start(state);
  CHECK(server->port() == 0);
  CHECK(server->Stop() != 0);
  const std::string err = server->stderr_text();
  CHECK_MESSAGE(err.find("the history was rewritten") != std::string::npos, err);
}

}  // namespace enclave::testing
