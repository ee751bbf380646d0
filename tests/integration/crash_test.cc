// Crash consistency of the audit log (docs/security.md §7.2, item 9, CI size): the real enclaved
// under query load is killed with SIGKILL at random moments and restarted each time. Afterwards
// the whole log verifies with the independent verifier against every checkpoint seen before a
// kill, the sequence is contiguous, no accepted entry is left open, and every query the client
// saw succeed has its accepted and result entries.
#include <doctest/doctest.h>
#include <sqlite3.h>

#include <atomic>
#include <chrono>
#include <filesystem>
#include <map>
#include <mutex>
#include <random>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "client/verifier/verifier.h"
#include "enclave/adapters/sqlite/audit_log_store.h"
#include "enclave/client/client.h"
#include "tests/integration/process.h"
#include "tests/integration/world.h"

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

}  // namespace enclave::testing
