// StartServer end to end in-process: a tiny database and policy directory made by the test,
// certificates from deploy/dev-pki.sh, a real mTLS call, the lock file, the port file and the
// start/stop entries in the query log.
#include <doctest/doctest.h>
#include <grpcpp/create_channel.h>
#include <grpcpp/security/credentials.h>
#include <sqlite3.h>
#include <sys/resource.h>
#include <sys/stat.h>

#include <csignal>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <random>
#include <sstream>
#include <string>

#include "enclave/adapters/sqlite/audit_log_store.h"
#include "enclave/audit/leaf.h"
#include "enclave/crypto/secret_file.h"
#include "enclave/crypto/sha256.h"
#include "enclave/server/server.h"
#include "enclave/v1/service.grpc.pb.h"
#include "tests/integration/process.h"

namespace enclave::server {
namespace {

namespace fs = std::filesystem;

std::string ReadFile(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

void WriteFile(const fs::path& p, const std::string& text) {
  fs::create_directories(p.parent_path());
  std::ofstream(p) << text;
}

constexpr char kPrincipals[] = R"pb(
principal {
  id: "spiffe://udc-lv.local/municipal_analyst/analyst1"
  display_name: "Analist 1"
  organisation: "Gemeente"
  role: MUNICIPAL_ANALYST
}
principal {
  id: "spiffe://udc-lv.local/privacy_officer/officer1"
  display_name: "Privacy officer 1"
  organisation: "CBS"
  role: PRIVACY_OFFICER
}
)pb";

constexpr char kRuleSet[] = R"pb(
id: "cbs-default"
version: 1
min_units: 10
min_share_denominator: 100
)pb";

constexpr char kCodeLists[] = R"pb(
code_list {
  name: "wijk"
  code { code: "WK01" label { nl: "Wijk 01" en: "District 01" } }
  code { code: "WK02" label { nl: "Wijk 02" en: "District 02" } }
}
)pb";

constexpr char kTemplate[] = R"pb(
id: "personen_per_wijk"
version: 1
author: "spiffe://udc-lv.local/data_steward/steward1"
theme: "test"
title { nl: "Personen per wijk" en: "Persons per district" }
description { nl: "Test" en: "Test" }
roles: MUNICIPAL_ANALYST
unit: "person"
dimension {
  name: "wijk"
  label { nl: "Wijk" en: "District" }
  column: "wijk"
  code_list: "wijk"
}
fixed_dimension: "wijk"
sql: "SELECT id AS unit, wijk FROM persoon"
unit_column: "unit"
statistic {
  name: "personen"
  kind: COUNT
  label { nl: "Personen" en: "Persons" }
}
disclosure { rule_set: "cbs-default" min_units: 10 }
)pb";

// Certificates, database, policies; a Config pointing at them with a fresh state directory.
struct World {
  fs::path dir;
  Config config;
  std::string error;

  World() {
    std::random_device rd;
    dir = fs::temp_directory_path() / ("enclave_start_test_" + std::to_string(rd()));
    fs::create_directories(dir);
    const std::string command = std::string("bash '") + ENCLAVE_DEV_PKI_SCRIPT + "' '" +
                                (dir / "pki").string() + "' --days 2 >/dev/null";
    if (std::system(command.c_str()) != 0) {
      error = "dev-pki.sh failed";
      return;
    }
    sqlite3* db = nullptr;
    const std::string db_path = (dir / "microdata.db").string();
    if (sqlite3_open(db_path.c_str(), &db) != SQLITE_OK) {
      error = "cannot create the test database";
      sqlite3_close(db);
      return;
    }
    std::string sql =
        "CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);"
        "INSERT INTO meta VALUES ('data_version', 'start-test-v1');"
        "CREATE TABLE persoon (id TEXT, wijk TEXT);";
    for (int i = 0; i < 30; ++i) {
      sql += "INSERT INTO persoon VALUES ('p" + std::to_string(i) + "', '" +
             (i < 25 ? "WK01" : "WK02") + "');";
    }
    if (sqlite3_exec(db, sql.c_str(), nullptr, nullptr, nullptr) != SQLITE_OK) {
      error = "cannot fill the test database";
    }
    sqlite3_close(db);
    WriteFile(dir / "policies/access/principals.textproto", kPrincipals);
    WriteFile(dir / "policies/disclosure/cbs-default.textproto", kRuleSet);
    WriteFile(dir / "policies/codelists/geo.textproto", kCodeLists);
    WriteFile(dir / "policies/templates/personen_per_wijk.textproto", kTemplate);

    config.listen_address = "127.0.0.1:0";
    config.client_ca_file = (dir / "pki/ca.pem").string();
    config.server_cert_file = (dir / "pki/server.pem").string();
    config.server_key_file = (dir / "pki/server.key").string();
    config.database_path = db_path;
    config.policies_dir = (dir / "policies").string();
    config.state_dir = (dir / "state").string();
    config.port_file = (dir / "port").string();
    config.shutdown_grace_ms = 1000;
    // Four eyes: officer1 approves the test template (the author is steward1).
    const testing::TestApprovals approvals =
        testing::SignAllTemplates(config.policies_dir, (dir / "approval-setup").string());
    if (!approvals.error.empty()) error = "SignAllTemplates: " + approvals.error;
    config.approvers_file = approvals.approvers_file;
    config.approvals_dir = approvals.approvals_dir;
  }
  ~World() {
    std::error_code ec;
    fs::remove_all(dir, ec);
  }
};

World& Shared() {
  static World world;
  return world;
}

// `client`: a dev-pki.sh certificate name, or "" for none.
std::unique_ptr<enclave::v1::QueryService::Stub> Stub(const World& w, int port,
                                                      const std::string& client = "analyst1") {
  grpc::SslCredentialsOptions options;
  options.pem_root_certs = ReadFile(w.dir / "pki/ca.pem");
  if (!client.empty()) {
    options.pem_cert_chain = ReadFile(w.dir / "pki" / (client + ".pem"));
    options.pem_private_key = ReadFile(w.dir / "pki" / (client + ".key"));
  }
  grpc::ChannelArguments args;
  args.SetInt(GRPC_ARG_USE_LOCAL_SUBCHANNEL_POOL, 1);
  return enclave::v1::QueryService::NewStub(grpc::CreateCustomChannel(
      "127.0.0.1:" + std::to_string(port), grpc::SslCredentials(options), args));
}

// Every leaf of the query log in state_dir (the server must be stopped).
std::vector<audit::LogLeaf> Leaves(const std::string& state_dir) {
  adapters::sqlite::AuditLogOptions log_options;
  log_options.state_dir = state_dir;
  auto log = adapters::sqlite::AuditLogStore::Open(log_options);
  REQUIRE_MESSAGE(log.ok(), log.status().ToString());
  auto bytes = (*log)->ReadLeaves(0, (*log)->Size());
  REQUIRE(bytes.ok());
  std::vector<audit::LogLeaf> leaves;
  for (const std::string& b : *bytes) {
    auto leaf = audit::DecodeLeaf(b);
    REQUIRE(leaf.ok());
    leaves.push_back(*std::move(leaf));
  }
  return leaves;
}

// A client certificate signed by the World's CA for `uri`, as OUTDIR/name.{pem,key}, with the
// given extendedKeyUsage ("" for none at all). Returns "" or what failed.
std::string IssueClientCert(const World& w, const std::string& name, const std::string& uri,
                            const std::string& eku) {
  const fs::path pki = w.dir / "pki";
  const std::string key = (pki / (name + ".key")).string();
  const std::string pem = (pki / (name + ".pem")).string();
  const std::string csr = (pki / (name + ".csr")).string();
  const std::string ext = (pki / (name + ".ext")).string();
  std::string lines = "basicConstraints=critical,CA:FALSE\nkeyUsage=critical,digitalSignature\n"
                      "subjectAltName=URI:" + uri + "\n";
  if (!eku.empty()) lines += "extendedKeyUsage=" + eku + "\n";
  WriteFile(ext, lines);
  const std::string command =
      "openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out '" + key +
      "' 2>/dev/null && chmod 600 '" + key + "' && openssl req -new -key '" + key +
      "' -subj /CN=" + name + " -out '" + csr + "' 2>/dev/null && openssl x509 -req -in '" + csr +
      "' -CA '" + (pki / "ca.pem").string() + "' -CAkey '" + (pki / "ca.key").string() +
      "' -set_serial 0x" + std::to_string(name.size()) + "7e57 -days 2 -extfile '" + ext +
      "' -out '" + pem + "' 2>/dev/null";
  return std::system(command.c_str()) == 0 ? "" : "openssl failed for " + name;
}

mode_t ModeOf(const fs::path& p) {
  struct stat st {};
  REQUIRE(::lstat(p.c_str(), &st) == 0);
  return st.st_mode & 07777;
}

// "reason=N" of an auth-failure-summary detail, or 0.
std::uint64_t CountOf(const std::string& detail, const std::string& reason) {
  const std::string key = " " + reason + "=";
  const std::size_t at = detail.find(key);
  if (at == std::string::npos) return 0;
  return std::stoull(detail.substr(at + key.size()));
}

}  // namespace

TEST_SUITE("StartServer") {
  TEST_CASE("failed TLS handshakes (rogue CA, no certificate) are summarised in the query log") {
    World& w = Shared();
    REQUIRE_MESSAGE(w.error.empty(), w.error);
    Config c = w.config;
    c.state_dir = (w.dir / "state-auth").string();
    c.port_file.clear();
    c.auth_failure_summary_interval_ms = 1000;
    auto server = StartServer(c);
    REQUIRE_MESSAGE(server.ok(), server.status().ToString());
    const int port = (*server)->port();
    for (const std::string client : {"rogue1", ""}) {
      grpc::ClientContext context;
      context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
      enclave::v1::ListTemplatesResponse response;
      const grpc::Status status =
          Stub(w, port, client)->ListTemplates(&context, enclave::v1::ListTemplatesRequest(),
                                               &response);
      CHECK(status.error_code() == grpc::StatusCode::UNAVAILABLE);
    }
    (*server)->Shutdown();
    server->reset();
    std::uint64_t not_trusted = 0;
    std::uint64_t no_certificate = 0;
    bool stopped = false;
    for (const audit::LogLeaf& leaf : Leaves(c.state_dir)) {
      if (leaf.type == audit::EntryType::kServerStop) stopped = true;
      if (leaf.type != audit::EntryType::kAuthFailureSummary) continue;
      CHECK_FALSE(stopped);  // written before the server-stop entry
      CHECK(leaf.decision == "UNAUTHENTICATED");
      CHECK(leaf.caller.empty());
      not_trusted += CountOf(leaf.detail, "certificate-not-trusted");
      no_certificate += CountOf(leaf.detail, "no-client-certificate");
    }
    CHECK(not_trusted >= 1);
    CHECK(no_certificate >= 1);
  }

  TEST_CASE("the policies in force are logged at start: templates, rule sets, principals") {
    World& w = Shared();
    REQUIRE_MESSAGE(w.error.empty(), w.error);
    Config c = w.config;
    c.state_dir = (w.dir / "state-policy").string();
    c.port_file.clear();
    {
      auto server = StartServer(c);
      REQUIRE_MESSAGE(server.ok(), server.status().ToString());
      (*server)->Shutdown();
    }
    int policy_entries = 0;
    for (const audit::LogLeaf& leaf : Leaves(c.state_dir)) {
      if (leaf.type != audit::EntryType::kPolicyLoaded) continue;
      ++policy_entries;
      const std::string template_sha = crypto::Sha256Hex(
          ReadFile(w.dir / "policies/templates/personen_per_wijk.textproto"));
      const std::string principals_sha =
          crypto::Sha256Hex(ReadFile(w.dir / "policies/access/principals.textproto"));
      CHECK(leaf.detail.find("template personen_per_wijk@1 sha256=" + template_sha +
                             " rule_set=cbs-default\n") != std::string::npos);
      CHECK(leaf.detail.find("rule_set cbs-default@1 canonical_sha256=") != std::string::npos);
      CHECK(leaf.detail.find("principals sha256=" + principals_sha + "\n") != std::string::npos);
      CHECK(leaf.detail.find("spiffe://") == std::string::npos);  // ids and hashes only
    }
    CHECK(policy_entries == 1);
  }

  TEST_CASE("a started server answers over mTLS, writes its port file and logs start and stop") {
    World& w = Shared();
    REQUIRE_MESSAGE(w.error.empty(), w.error);
    auto server = StartServer(w.config);
    REQUIRE_MESSAGE(server.ok(), server.status().ToString());
    const int port = (*server)->port();
    CHECK(port > 0);
    CHECK(ReadFile(w.dir / "port") == std::to_string(port) + "\n");
    {
      auto stub = Stub(w, port);
      grpc::ClientContext context;
      context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
      enclave::v1::RunQueryRequest request;
      request.set_template_id("personen_per_wijk");
      enclave::v1::RunQueryResponse response;
      const grpc::Status status = stub->RunQuery(&context, request, &response);
      REQUIRE_MESSAGE(status.ok(), status.error_message());
      CHECK(response.metadata().data_version() == "start-test-v1");
      CHECK_FALSE(response.metadata().request_id().empty());
      bool withheld_seen = false;
      for (const auto& cell : response.table().cells()) {
        if (cell.outcome_case() == enclave::v1::Cell::kWithheld) withheld_seen = true;
      }
      CHECK(withheld_seen);  // WK02 has 5 persons: below the threshold of 10
    }
    (*server)->Shutdown();
    (*server)->Wait();
    server->reset();
    adapters::sqlite::AuditLogOptions log_options;
    log_options.state_dir = w.config.state_dir;
    auto log = adapters::sqlite::AuditLogStore::Open(log_options);
    REQUIRE_MESSAGE(log.ok(), log.status().ToString());
    // server start, accepted, result, server stop; the shutdown checkpoint covers them all
    CHECK((*log)->Size() >= 4);
    CHECK((*log)->LatestCheckpoint().size == (*log)->Size());
    CHECK((*log)->LatestCheckpoint().root == (*log)->Root());
  }

  TEST_CASE("a second server on the same state directory is refused by the lock file") {
    World& w = Shared();
    REQUIRE_MESSAGE(w.error.empty(), w.error);
    auto first = StartServer(w.config);
    REQUIRE_MESSAGE(first.ok(), first.status().ToString());
    Config second_config = w.config;
    second_config.port_file.clear();
    auto second = StartServer(second_config);
    REQUIRE_FALSE(second.ok());
    CHECK(second.status().code() == absl::StatusCode::kFailedPrecondition);
    CHECK(std::string(second.status().message()) ==
          "another enclaved holds " + w.config.state_dir + "/enclaved.lock");
    (*first)->Shutdown();
    first->reset();
    auto third = StartServer(second_config);  // the lock was released with the first server
    CHECK(third.ok());
  }

  TEST_CASE("a busy port is a start-up error naming the address") {
    World& w = Shared();
    REQUIRE_MESSAGE(w.error.empty(), w.error);
    auto first = StartServer(w.config);
    REQUIRE_MESSAGE(first.ok(), first.status().ToString());
    Config other = w.config;
    other.state_dir = (w.dir / "state2").string();
    other.port_file.clear();
    other.listen_address = "127.0.0.1:" + std::to_string((*first)->port());
    auto second = StartServer(other);
    REQUIRE_FALSE(second.ok());
    CHECK(std::string(second.status().message()).find(other.listen_address) != std::string::npos);
    CHECK(std::string(second.status().message()).find("address in use") != std::string::npos);
  }

  TEST_CASE("an unreadable TLS file stops the start with the setting named") {
    World& w = Shared();
    REQUIRE_MESSAGE(w.error.empty(), w.error);
    Config broken = w.config;
    broken.client_ca_file = "/x/ca.pem";
    auto server = StartServer(broken);
    REQUIRE_FALSE(server.ok());
    CHECK(std::string(server.status().message()) ==
          "tls.client_ca_file: cannot read /x/ca.pem: No such file or directory");
  }

  TEST_CASE("a data version other than the expected one stops the start") {
    World& w = Shared();
    REQUIRE_MESSAGE(w.error.empty(), w.error);
    Config c = w.config;
    c.expected_data_version = "other-v2";
    auto server = StartServer(c);
    REQUIRE_FALSE(server.ok());
    CHECK(server.status().code() == absl::StatusCode::kFailedPrecondition);
    CHECK(std::string(server.status().message()).find("start-test-v1") != std::string::npos);
  }

  TEST_CASE("an unapproved or changed template stops the start, with the refusal in the log") {
    World& w = Shared();
    REQUIRE_MESSAGE(w.error.empty(), w.error);
    const auto refused_leaves = [](const std::string& state_dir) {
      adapters::sqlite::AuditLogOptions log_options;
      log_options.state_dir = state_dir;
      auto log = adapters::sqlite::AuditLogStore::Open(log_options);
      REQUIRE_MESSAGE(log.ok(), log.status().ToString());
      auto bytes = (*log)->ReadLeaves(0, (*log)->Size());
      REQUIRE(bytes.ok());
      std::vector<audit::LogLeaf> refused;
      for (const std::string& b : *bytes) {
        auto leaf = audit::DecodeLeaf(b);
        REQUIRE(leaf.ok());
        if (leaf->type == audit::EntryType::kPolicyRefused) refused.push_back(*leaf);
      }
      return refused;
    };
    SUBCASE("no approval at all") {
      Config c = w.config;
      c.state_dir = (w.dir / "state-unapproved").string();
      c.port_file.clear();
      c.approvals_dir = (w.dir / "no-approvals").string();
      fs::create_directories(c.approvals_dir);
      auto server = StartServer(c);
      REQUIRE_FALSE(server.ok());
      CHECK(server.status().code() == absl::StatusCode::kFailedPrecondition);
      CHECK_MESSAGE(std::string(server.status().message())
                            .find("template 'personen_per_wijk' version 1 (policies/templates/"
                                  "personen_per_wijk.textproto) is refused: it is not approved") !=
                        std::string::npos,
                    server.status().message());
      auto check = CheckConfiguration(c);
      CHECK(check.status().code() == absl::StatusCode::kFailedPrecondition);
      const std::vector<audit::LogLeaf> refused = refused_leaves(c.state_dir);
      REQUIRE(refused.size() == 1);
      CHECK(refused[0].template_id == "personen_per_wijk");
      CHECK(refused[0].decision == "FAILED_PRECONDITION");
      CHECK(refused[0].reason.find("is not approved") != std::string::npos);
    }
    SUBCASE("one byte changed after approval") {
      const fs::path copy = w.dir / "policies-changed";
      fs::remove_all(copy);
      fs::copy(w.config.policies_dir, copy, fs::copy_options::recursive);
      std::string text = ReadFile(copy / "templates/personen_per_wijk.textproto");
      text[text.find("FROM persoon")] = 'f';
      WriteFile(copy / "templates/personen_per_wijk.textproto", text);
      Config c = w.config;
      c.policies_dir = copy.string();
      c.state_dir = (w.dir / "state-changed").string();
      c.port_file.clear();
      auto server = StartServer(c);
      REQUIRE_FALSE(server.ok());
      CHECK_MESSAGE(std::string(server.status().message()).find("changed after it was approved") !=
                        std::string::npos,
                    server.status().message());
      const std::vector<audit::LogLeaf> refused = refused_leaves(c.state_dir);
      REQUIRE(refused.size() == 1);
      // The entry names the changed bytes: the SHA-256 of the file as it is now.
      std::string hex;
      for (char byte : refused[0].template_sha256) {
        const auto ch = static_cast<unsigned char>(byte);
        hex += "0123456789abcdef"[ch >> 4];
        hex += "0123456789abcdef"[ch & 15];
      }
      CHECK(hex == crypto::Sha256Hex(text));
    }
    SUBCASE("no approvers file configured") {
      Config c = w.config;
      c.state_dir = (w.dir / "state-noapprovers").string();
      c.port_file.clear();
      c.approvers_file.clear();
      auto server = StartServer(c);
      REQUIRE_FALSE(server.ok());
      CHECK(std::string(server.status().message()).find("approvers_file and approvals_dir are "
                                                        "required") != std::string::npos);
    }
  }

  TEST_CASE("each release records the approval its template ran under") {
    World& w = Shared();
    REQUIRE_MESSAGE(w.error.empty(), w.error);
    Config c = w.config;
    c.state_dir = (w.dir / "state-approval").string();
    c.port_file.clear();
    auto server = StartServer(c);
    REQUIRE_MESSAGE(server.ok(), server.status().ToString());
    {
      grpc::ClientContext context;
      context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
      enclave::v1::RunQueryRequest request;
      request.set_template_id("personen_per_wijk");
      enclave::v1::RunQueryResponse response;
      const grpc::Status status =
          Stub(w, (*server)->port())->RunQuery(&context, request, &response);
      REQUIRE_MESSAGE(status.ok(), status.error_message());
    }
    (*server)->Shutdown();
    server->reset();
    adapters::sqlite::AuditLogOptions log_options;
    log_options.state_dir = c.state_dir;
    auto log = adapters::sqlite::AuditLogStore::Open(log_options);
    REQUIRE_MESSAGE(log.ok(), log.status().ToString());
    auto bytes = (*log)->ReadLeaves(0, (*log)->Size());
    REQUIRE(bytes.ok());
    int results = 0;
    for (const std::string& b : *bytes) {
      auto leaf = audit::DecodeLeaf(b);
      REQUIRE(leaf.ok());
      if (leaf->type != audit::EntryType::kQueryResult) continue;
      ++results;
      // approval=<64 hex> approver=<officer1> key=officer1-test
      CHECK_MESSAGE(leaf->detail.rfind("approval=", 0) == 0, leaf->detail);
      CHECK(leaf->detail.find(" approver=spiffe://udc-lv.local/privacy_officer/officer1 "
                              "key=officer1-test") == 9 + 64);
    }
    CHECK(results == 1);
  }

  TEST_CASE("outside systemd the state directory is created 0700 and every state file 0600") {
    World& w = Shared();
    REQUIRE_MESSAGE(w.error.empty(), w.error);
    const mode_t saved = ::umask(022);  // a shell's default, not systemd's UMask=0077
    Config c = w.config;
    c.state_dir = (w.dir / "state-modes").string();
    c.port_file.clear();
    {
      auto server = StartServer(c);
      ::umask(saved);
      REQUIRE_MESSAGE(server.ok(), server.status().ToString());
      // While running: the databases and their -wal/-shm files exist.
      for (const char* db : {"audit_log.db", "release_history.db", "budget_ledger.db"}) {
        CAPTURE(db);
        CHECK(ModeOf(fs::path(c.state_dir) / db) == 0600);
      }
      int checked = 0;
      for (const fs::directory_entry& e : fs::directory_iterator(c.state_dir)) {
        CAPTURE(e.path().string());
        CHECK((ModeOf(e.path()) & 077) == 0);
        ++checked;
      }
      CHECK(checked >= 8);  // 3 databases, their -wal/-shm, keys, checkpoint, lock
      (*server)->Shutdown();
    }
    CHECK(ModeOf(c.state_dir) == 0700);
    for (const fs::directory_entry& e : fs::directory_iterator(c.state_dir)) {
      CAPTURE(e.path().string());
      CHECK((ModeOf(e.path()) & 077) == 0);
    }
  }

  TEST_CASE("a state directory or state file wider than 0700/0600 is refused at start") {
    World& w = Shared();
    REQUIRE_MESSAGE(w.error.empty(), w.error);
    Config c = w.config;
    c.port_file.clear();
    SUBCASE("the state directory") {
      c.state_dir = (w.dir / "state-wide-dir").string();
      fs::create_directories(c.state_dir);
      for (mode_t mode : {0777U, 0755U, 0770U}) {
        CAPTURE(mode);
        REQUIRE(::chmod(c.state_dir.c_str(), mode) == 0);
        auto server = StartServer(c);
        REQUIRE_FALSE(server.ok());
        CHECK(server.status().code() == absl::StatusCode::kFailedPrecondition);
        CHECK(std::string(server.status().message()) ==
              "state_dir " + c.state_dir + " has mode " + crypto::ModeText(mode) +
                  "; allowed: 0700 or narrower, usable by its owner only (chmod 700 " +
                  c.state_dir + ")");
        CHECK_FALSE(fs::exists(fs::path(c.state_dir) / "audit_log.db"));  // nothing touched
      }
      REQUIRE(::chmod(c.state_dir.c_str(), 0700) == 0);  // negative control
      auto server = StartServer(c);
      CHECK_MESSAGE(server.ok(), server.status().ToString());
    }
    SUBCASE("each database") {
      c.state_dir = (w.dir / "state-wide-files").string();
      {
        auto first = StartServer(c);
        REQUIRE_MESSAGE(first.ok(), first.status().ToString());
      }
      for (const char* db : {"audit_log.db", "release_history.db", "budget_ledger.db"}) {
        CAPTURE(db);
        const std::string path = (fs::path(c.state_dir) / db).string();
        for (mode_t mode : {0666U, 0644U}) {
          REQUIRE(::chmod(path.c_str(), mode) == 0);
          auto server = StartServer(c);
          REQUIRE_FALSE(server.ok());
          CHECK(server.status().code() == absl::StatusCode::kFailedPrecondition);
          const std::string message(server.status().message());
          CHECK_MESSAGE(message.find(path + " has mode " + crypto::ModeText(mode) +
                                     "; allowed: 0600 or narrower") != std::string::npos,
                        message);
        }
        REQUIRE(::chmod(path.c_str(), 0600) == 0);  // negative control
        auto server = StartServer(c);
        CHECK_MESSAGE(server.ok(), server.status().ToString());
      }
    }
  }

  TEST_CASE("a malformed deny-list stops the start, as --check does") {
    World& w = Shared();
    REQUIRE_MESSAGE(w.error.empty(), w.error);
    const fs::path copy = w.dir / "policies-denylist";
    fs::remove_all(copy);
    fs::copy(w.config.policies_dir, copy, fs::copy_options::recursive);
    WriteFile(copy / "access/revoked.textproto", "revoked { serial: \"zz\" }\n");
    Config c = w.config;
    c.policies_dir = copy.string();
    c.state_dir = (w.dir / "state-denylist").string();
    c.port_file.clear();
    auto server = StartServer(c);
    REQUIRE_FALSE(server.ok());
    const std::string message(server.status().message());
    CHECK_MESSAGE(message.find("deny-list policies/access/revoked.textproto cannot be used") !=
                      std::string::npos,
                  message);
    CHECK(message.find("serial must be hexadecimal") != std::string::npos);
    CHECK_FALSE(CheckConfiguration(c).ok());
    // Negative control: fixed, the same configuration starts.
    WriteFile(copy / "access/revoked.textproto", "# nobody is revoked\n");
    auto fixed = StartServer(c);
    CHECK_MESSAGE(fixed.ok(), fixed.status().ToString());
  }

  TEST_CASE("a client certificate without extendedKeyUsage clientAuth is refused and logged") {
    World& w = Shared();
    REQUIRE_MESSAGE(w.error.empty(), w.error);
    const std::string analyst = "spiffe://udc-lv.local/municipal_analyst/analyst1";
    REQUIRE(IssueClientCert(w, "noeku1", analyst, "") == "");
    REQUIRE(IssueClientCert(w, "serverauth1", analyst, "serverAuth") == "");
    REQUIRE(IssueClientCert(w, "clientauth1", analyst, "clientAuth") == "");
    Config c = w.config;
    c.state_dir = (w.dir / "state-eku").string();
    c.port_file.clear();
    auto server = StartServer(c);
    REQUIRE_MESSAGE(server.ok(), server.status().ToString());
    const int port = (*server)->port();
    const auto run = [&](const std::string& client) {
      grpc::ClientContext context;
      context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
      enclave::v1::RunQueryRequest request;
      request.set_template_id("personen_per_wijk");
      enclave::v1::RunQueryResponse response;
      return Stub(w, port, client)->RunQuery(&context, request, &response);
    };
    const grpc::Status none = run("noeku1");
    CHECK(none.error_code() == grpc::StatusCode::PERMISSION_DENIED);
    CHECK(none.error_message().find("extendedKeyUsage must include clientAuth") !=
          std::string::npos);
    // An EKU without clientAuth already fails OpenSSL's purpose check in the handshake.
    CHECK(run("serverauth1").error_code() == grpc::StatusCode::UNAVAILABLE);
    // Negative control: the same identity with clientAuth is served.
    const grpc::Status with = run("clientauth1");
    CHECK_MESSAGE(with.ok(), with.error_message());
    (*server)->Shutdown();
    server->reset();
    int refused = 0;
    for (const audit::LogLeaf& leaf : Leaves(c.state_dir)) {
      if (leaf.reason.find("clientAuth") == std::string::npos) continue;
      ++refused;
      CHECK(leaf.type == audit::EntryType::kQueryRefused);
      CHECK(leaf.caller == analyst);
      CHECK(leaf.decision == "PERMISSION_DENIED");
    }
    CHECK(refused == 1);
  }

  TEST_CASE("after the query log failed (disk full), the stop says it was neither logged nor signed") {
    World& w = Shared();
    REQUIRE_MESSAGE(w.error.empty(), w.error);
    Config c = w.config;
    c.state_dir = (w.dir / "state-diskfull").string();
    c.port_file.clear();
    const auto run = [&](int port) {
      grpc::ClientContext context;
      context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
      enclave::v1::RunQueryRequest request;
      request.set_template_id("personen_per_wijk");
      enclave::v1::RunQueryResponse response;
      return Stub(w, port)->RunQuery(&context, request, &response);
    };
    SUBCASE("negative control: a clean stop") {
      auto server = StartServer(c);
      REQUIRE_MESSAGE(server.ok(), server.status().ToString());
      CHECK(run((*server)->port()).ok());
      (*server)->Shutdown();
      CHECK((*server)->StopStatus().ok());
    }
    SUBCASE("a write that fails as on a full disk") {
      auto server = StartServer(c);
      REQUIRE_MESSAGE(server.ok(), server.status().ToString());
      CHECK(run((*server)->port()).ok());
      // No file may grow: every write fails with EFBIG, as ENOSPC would (SIGXFSZ ignored).
      const auto previous = std::signal(SIGXFSZ, SIG_IGN);
      struct rlimit saved {};
      REQUIRE(::getrlimit(RLIMIT_FSIZE, &saved) == 0);
      struct rlimit none = saved;
      none.rlim_cur = 0;
      REQUIRE(::setrlimit(RLIMIT_FSIZE, &none) == 0);
      const grpc::Status failed = run((*server)->port());
      REQUIRE(::setrlimit(RLIMIT_FSIZE, &saved) == 0);
      std::signal(SIGXFSZ, previous);
      CHECK(failed.error_code() == grpc::StatusCode::UNAVAILABLE);
      // The disk has room again, but the log refuses every write until a restart re-checks it.
      (*server)->Shutdown();
      const absl::Status stopped = (*server)->StopStatus();
      CHECK(stopped.code() == absl::StatusCode::kDataLoss);
      CHECK_MESSAGE(std::string(stopped.message())
                            .find("the stop was not logged and the final checkpoint was not "
                                  "signed") != std::string::npos,
                    stopped.message());
      server->reset();
      // A restart re-checks the log and starts: nothing acknowledged was lost.
      auto again = StartServer(c);
      CHECK_MESSAGE(again.ok(), again.status().ToString());
    }
  }

  TEST_CASE("CheckConfiguration counts templates and principals without listening") {
    World& w = Shared();
    REQUIRE_MESSAGE(w.error.empty(), w.error);
    auto check = CheckConfiguration(w.config);
    REQUIRE_MESSAGE(check.ok(), check.status().ToString());
    CHECK(check->templates == 1);
    CHECK(check->principals == 2);  // analyst1, and officer1 who approved the template
  }

  TEST_CASE("CheckConfiguration refuses a configured log signing key it cannot load") {
    World& w = Shared();
    REQUIRE_MESSAGE(w.error.empty(), w.error);
    Config c = w.config;
    c.log_signing_key_file = (w.dir / "no-such-log-signing.key").string();
    auto missing = CheckConfiguration(c);
    CHECK(missing.status().code() == absl::StatusCode::kFailedPrecondition);
    CHECK_MESSAGE(std::string(missing.status().message()).find("log_signing_key_file") != std::string::npos,
                  missing.status().message());
    CHECK_MESSAGE(std::string(missing.status().message()).find("no-such-log-signing.key") != std::string::npos,
                  missing.status().message());
    // Not a key: a readable file of the right mode whose content is not a PKCS#8 Ed25519 key.
    const std::filesystem::path junk = w.dir / "junk-log-signing.key";
    { std::ofstream(junk) << "not a key\n"; }
    std::filesystem::permissions(junk, std::filesystem::perms::owner_read | std::filesystem::perms::owner_write,
                                 std::filesystem::perm_options::replace);
    c.log_signing_key_file = junk.string();
    CHECK_FALSE(CheckConfiguration(c).ok());
  }
}

}  // namespace enclave::server
