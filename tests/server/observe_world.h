// A small world for the observability and backup tests (issue 13): certificates from
// deploy/dev-pki.sh (operator1, analyst1, officer1, ...), a microdata database whose counts and
// parameter values are distinctive (so that a metric carrying one would be noticed), policies with
// one approved template, and a Config for an in-process server on 127.0.0.1:0.
#pragma once

#include <arpa/inet.h>
#include <doctest/doctest.h>
#include <netinet/in.h>
#include <sqlite3.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include "enclave/adapters/sqlite/audit_log_store.h"
#include "enclave/audit/leaf.h"
#include "enclave/client/client.h"
#include "enclave/server/config.h"
#include "tests/integration/process.h"

namespace enclave::server::observe_test {

namespace fs = std::filesystem;

inline std::string Slurp(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

inline void Put(const fs::path& p, const std::string& text) {
  fs::create_directories(p.parent_path());
  std::ofstream(p, std::ios::binary) << text;
}

inline constexpr char kPrincipals[] = R"pb(
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
principal {
  id: "spiffe://udc-lv.local/operator/operator1"
  display_name: "Operator 1"
  organisation: "Gemeente"
  role: OPERATOR
}
principal {
  id: "spiffe://udc-lv.local/data_steward/steward1"
  display_name: "Steward 1"
  organisation: "Gemeente"
  role: DATA_STEWARD
}
)pb";

inline constexpr char kRuleSet[] = R"pb(
id: "cbs-default"
version: 1
min_units: 10
min_share_denominator: 100
)pb";

inline constexpr char kCodeLists[] = R"pb(
code_list {
  name: "wijk"
  code { code: "WK01" label { nl: "Wijk 01" en: "District 01" } }
  code { code: "WK02" label { nl: "Wijk 02" en: "District 02" } }
}
)pb";

inline constexpr char kTemplateId[] = "personen_per_wijk";
inline constexpr char kTemplate[] = R"pb(
id: "personen_per_wijk"
version: 1
author: "spiffe://udc-lv.local/data_steward/steward1"
theme: "test"
title { nl: "Personen per wijk" en: "Persons per district" }
description { nl: "Test" en: "Test" }
roles: MUNICIPAL_ANALYST
unit: "person"
parameter {
  name: "jaar"
  type: INTEGER
  description { nl: "Jaar" en: "Year" }
  min: 2080
  max: 2099
  default_value: "2087"
}
dimension {
  name: "wijk"
  label { nl: "Wijk" en: "District" }
  column: "wijk"
  code_list: "wijk"
}
fixed_dimension: "wijk"
sql: "SELECT id AS unit, wijk FROM persoon WHERE jaar = :jaar"
unit_column: "unit"
statistic {
  name: "personen"
  kind: COUNT
  label { nl: "Personen" en: "Persons" }
}
disclosure { rule_set: "cbs-default" min_units: 10 }
)pb";

struct World {
  fs::path dir;
  Config config;
  std::string error;

  World() {
    std::random_device rd;
    dir = fs::temp_directory_path() / ("enclave_observe_test_" + std::to_string(rd()));
    fs::create_directories(dir);
    const std::string command = std::string("bash '") + ENCLAVE_DEV_PKI_SCRIPT + "' '" +
                                (dir / "pki").string() + "' --days 2 >/dev/null";
    if (std::system(command.c_str()) != 0) {
      error = "dev-pki.sh failed";
      return;
    }
    const std::string db_path = (dir / "microdata.db").string();
    if (!MakeDatabase(db_path)) {
      error = "cannot create the test database";
      return;
    }
    Put(dir / "policies/access/principals.textproto", kPrincipals);
    Put(dir / "policies/disclosure/cbs-default.textproto", kRuleSet);
    Put(dir / "policies/codelists/geo.textproto", kCodeLists);
    Put(dir / "policies/templates/personen_per_wijk.textproto", kTemplate);

    config.listen_address = "127.0.0.1:0";
    config.client_ca_file = (dir / "pki/ca.pem").string();
    config.server_cert_file = (dir / "pki/server.pem").string();
    config.server_key_file = (dir / "pki/server.key").string();
    config.database_path = db_path;
    config.policies_dir = (dir / "policies").string();
    config.state_dir = (dir / "state").string();
    config.shutdown_grace_ms = 1000;
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
  World(const World&) = delete;
  World& operator=(const World&) = delete;

  // 2087: WK01 1237 persons, WK02 511; 2088: WK01 40, WK02 3 (withheld).
  static bool MakeDatabase(const std::string& path) {
    sqlite3* db = nullptr;
    if (sqlite3_open(path.c_str(), &db) != SQLITE_OK) {
      sqlite3_close(db);
      return false;
    }
    std::string sql =
        "BEGIN;"
        "CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);"
        "INSERT INTO meta VALUES ('data_version', 'observe-test-v1');"
        "CREATE TABLE persoon (id TEXT, wijk TEXT, jaar INTEGER);";
    int id = 0;
    auto add = [&](int n, const char* wijk, int jaar) {
      for (int i = 0; i < n; ++i) {
        sql += "INSERT INTO persoon VALUES ('p" + std::to_string(id++) + "', '" + wijk + "', " +
               std::to_string(jaar) + ");";
      }
    };
    add(1237, "WK01", 2087);
    add(511, "WK02", 2087);
    add(40, "WK01", 2088);
    add(3, "WK02", 2088);
    sql += "COMMIT;";
    const bool ok = sqlite3_exec(db, sql.c_str(), nullptr, nullptr, nullptr) == SQLITE_OK;
    sqlite3_close(db);
    return ok;
  }

  client::ConnectOptions Connect(int port, const std::string& who) const {
    client::ConnectOptions o;
    o.target = "127.0.0.1:" + std::to_string(port);
    o.ca_file = (dir / "pki/ca.pem").string();
    o.cert_file = (dir / "pki" / (who + ".pem")).string();
    o.key_file = (dir / "pki" / (who + ".key")).string();
    o.deadline = std::chrono::seconds(20);
    return o;
  }
};

// Every leaf of the query log in state_dir (the server must be stopped).
inline std::vector<audit::LogLeaf> Leaves(const std::string& state_dir) {
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

// One HTTP exchange over loopback TCP (or a Unix socket when `unix_path` is set): sends
// `request` as is, returns everything the server sent before closing.
inline std::string HttpExchange(int port, const std::string& request,
                                const std::string& unix_path = "") {
  int fd = -1;
  if (unix_path.empty()) {
    fd = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(static_cast<std::uint16_t>(port));
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
      ::close(fd);
      return "";
    }
  } else {
    fd = ::socket(AF_UNIX, SOCK_STREAM, 0);
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    std::snprintf(addr.sun_path, sizeof addr.sun_path, "%s", unix_path.c_str());
    if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
      ::close(fd);
      return "";
    }
  }
  std::size_t sent = 0;
  while (sent < request.size()) {
    const ssize_t n = ::write(fd, request.data() + sent, request.size() - sent);
    if (n <= 0) break;
    sent += static_cast<std::size_t>(n);
  }
  std::string out;
  char buf[4096];
  for (;;) {
    const ssize_t n = ::read(fd, buf, sizeof buf);
    if (n <= 0) break;
    out.append(buf, static_cast<std::size_t>(n));
  }
  ::close(fd);
  return out;
}

inline std::string ScrapeMetrics(int port) {
  const std::string response =
      HttpExchange(port, "GET /metrics HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n");
  const std::size_t body = response.find("\r\n\r\n");
  REQUIRE_MESSAGE(response.rfind("HTTP/1.1 200 OK\r\n", 0) == 0, response);
  return response.substr(body + 4);
}

}  // namespace enclave::server::observe_test
