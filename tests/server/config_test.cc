// enclaved's configuration file: parsing, defaults, relative paths, validation messages.
#include <doctest/doctest.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <random>
#include <string>

#include "tests/testing/temp_dir.h"
#include "enclave/server/config.h"

namespace enclave::server {
namespace {

namespace fs = std::filesystem;

using ::enclave::testing::TempDir;

Config ValidConfig() {
  Config c;
  c.client_ca_file = "/pki/ca.pem";
  c.server_cert_file = "/pki/server.pem";
  c.server_key_file = "/pki/server.key";
  c.database_path = "/data/microdata.db";
  c.policies_dir = "/etc/enclave/policies";
  c.state_dir = "/var/lib/enclaved";
  return c;
}

bool Contains(const absl::Status& s, const std::string& text) {
  return std::string(s.message()).find(text) != std::string::npos;
}

}  // namespace

TEST_SUITE("LoadConfigFile") {
  TEST_CASE("an empty file yields the documented defaults") {
    TempDir dir;
    auto config = LoadConfigFile(dir.Write("empty.textproto", "# nothing set\n"));
    REQUIRE(config.ok());
    const Config defaults;
    CHECK(config->listen_address == "127.0.0.1:7443");
    CHECK(config->max_receive_message_bytes == 64 * 1024);
    CHECK(config->max_send_message_bytes == 4 * 1024 * 1024);
    CHECK(config->default_deadline_ms == 30000);
    CHECK(config->max_deadline_ms == 120000);
    CHECK(config->max_concurrent_queries == 8);
    CHECK(config->handshake_timeout_ms == defaults.handshake_timeout_ms);
    CHECK(config->max_connection_age_ms == defaults.max_connection_age_ms);
    CHECK(config->max_concurrent_streams == 16);
    CHECK(config->shutdown_grace_ms == defaults.shutdown_grace_ms);
    CHECK(config->max_queued_queries == 64);
    CHECK(config->max_queue_wait_ms == 10000);
    CHECK(config->database_path.empty());
  }

  TEST_CASE("the admission queue's length and wait are set in limits, 0 turns the queue off") {
    TempDir dir;
    auto config = LoadConfigFile(dir.Write(
        "q.textproto", "limits { max_queued_queries: 0 max_queue_wait_ms: 2500 }\n"));
    REQUIRE(config.ok());
    CHECK(config->max_queued_queries == 0);
    CHECK(config->max_queue_wait_ms == 2500);
    const std::string path = dir.Write("q2.textproto", "limits {\n  max_queued_queries: 5000\n"
                                                       "  max_queue_wait_ms: -1\n}\n");
    auto bad = LoadConfigFile(path);
    REQUIRE_FALSE(bad.ok());
    CHECK(Contains(bad.status(), path + ":2:3: limits.max_queued_queries is 5000; allowed: 0 to 4096"));
    CHECK(Contains(bad.status(), path + ":3:3: limits.max_queue_wait_ms is -1; allowed: 0 to 3600000 ms"));
  }

  TEST_CASE("set fields override defaults and unset ones keep theirs") {
    TempDir dir;
    auto config = LoadConfigFile(dir.Write("c.textproto",
                                           "listen_address: \"0.0.0.0:9000\"\n"
                                           "database_path: \"/data/m.db\"\n"
                                           "data_version: \"v7\"\n"
                                           "tls { client_ca_file: \"/pki/ca.pem\" }\n"
                                           "limits { max_concurrent_queries: 3 max_deadline_ms: 60000 }\n"));
    REQUIRE(config.ok());
    CHECK(config->listen_address == "0.0.0.0:9000");
    CHECK(config->database_path == "/data/m.db");
    CHECK(config->client_ca_file == "/pki/ca.pem");
    CHECK(config->expected_data_version == "v7");
    CHECK(config->max_concurrent_queries == 3);
    CHECK(config->max_deadline_ms == 60000);
    CHECK(config->default_deadline_ms == 30000);
    CHECK(config->max_concurrent_streams == 16);
  }

  TEST_CASE("relative paths are resolved against the config file's directory") {
    TempDir dir;
    fs::create_directories(dir.path() / "etc");
    auto config = LoadConfigFile(dir.Write("etc/enclaved.textproto",
                                           "database_path: \"../data/m.db\"\n"
                                           "policies_dir: \"policies\"\n"
                                           "state_dir: \"/var/lib/enclaved\"\n"
                                           "port_file: \"run/port\"\n"
                                           "tls { server_key_file: \"pki/server.key\" }\n"));
    REQUIRE(config.ok());
    CHECK(config->database_path == (dir.path() / "data/m.db").string());
    CHECK(config->policies_dir == (dir.path() / "etc/policies").string());
    CHECK(config->state_dir == "/var/lib/enclaved");
    CHECK(config->port_file == (dir.path() / "etc/run/port").string());
    CHECK(config->server_key_file == (dir.path() / "etc/pki/server.key").string());
  }

  TEST_CASE("a syntax error is reported as FILE:LINE:COL") {
    TempDir dir;
    const std::string path = dir.Write("bad.textproto",
                                       "database_path: \"/data/m.db\"\n"
                                       "limits {\n"
                                       "  max_deadline_ms: \"soon\"\n"
                                       "}\n");
    auto config = LoadConfigFile(path);
    REQUIRE_FALSE(config.ok());
    CHECK(config.status().code() == absl::StatusCode::kInvalidArgument);
    CHECK(Contains(config.status(), path + ":3:"));
  }

  TEST_CASE("an unknown setting is reported with its line") {
    TempDir dir;
    const std::string path = dir.Write("unknown.textproto", "\n\nlisten_adress: \"x:1\"\n");
    auto config = LoadConfigFile(path);
    REQUIRE_FALSE(config.ok());
    CHECK(Contains(config.status(), path + ":3:"));
    CHECK(Contains(config.status(), "listen_adress"));
  }

  TEST_CASE("an out-of-range limit is reported with its line, the setting and the range") {
    TempDir dir;
    const std::string path = dir.Write("range.textproto",
                                       "limits {\n"
                                       "  max_concurrent_streams: 4\n"
                                       "  max_concurrent_queries: 0\n"
                                       "}\n");
    auto config = LoadConfigFile(path);
    REQUIRE_FALSE(config.ok());
    CHECK(config.status().code() == absl::StatusCode::kInvalidArgument);
    CHECK(Contains(config.status(), path + ":3:3: limits.max_concurrent_queries is 0"));
    CHECK(Contains(config.status(), "allowed: 1 to 256"));
  }

  TEST_CASE("a malformed listen address in the file is reported with its line") {
    TempDir dir;
    const std::string path = dir.Write("addr.textproto", "listen_address: \"localhost\"\n");
    auto config = LoadConfigFile(path);
    REQUIRE_FALSE(config.ok());
    CHECK(Contains(config.status(), path + ":1:1: listen_address"));
  }

  TEST_CASE("a missing file is reported with its path and the reason") {
    auto config = LoadConfigFile("/nonexistent/enclaved.textproto");
    REQUIRE_FALSE(config.ok());
    CHECK(config.status().code() == absl::StatusCode::kNotFound);
    CHECK(Contains(config.status(), "/nonexistent/enclaved.textproto"));
    CHECK(Contains(config.status(), "No such file or directory"));
  }

  TEST_CASE("the example configuration in deploy/ parses") {
    // Keeps deploy/enclaved.example.textproto in step with config.proto.
    const fs::path example = fs::path(ENCLAVE_SOURCE_DIR) / "deploy" / "enclaved.example.textproto";
    REQUIRE(fs::exists(example));
    // The example (the packaged /etc/enclaved/enclaved.textproto) takes the log-signing key from
    // the unit's credential, as systemd would deliver it.
    ::setenv("CREDENTIALS_DIRECTORY", "/run/credentials/enclaved.service", 1);
    auto config = LoadConfigFile(example.string());
    ::unsetenv("CREDENTIALS_DIRECTORY");
    REQUIRE_MESSAGE(config.ok(), config.status().ToString());
    CHECK(ValidateConfig(*config).ok());
    // The example documents the defaults.
    CHECK(config->max_queued_queries == Config{}.max_queued_queries);
    CHECK(config->max_queue_wait_ms == Config{}.max_queue_wait_ms);
  }
}

TEST_SUITE("ValidateConfig") {
  TEST_CASE("a complete configuration is valid") { CHECK(ValidateConfig(ValidConfig()).ok()); }

  TEST_CASE("each required setting is named when missing, with its flag") {
    struct Case {
      std::string Config::*member;
      const char* text;
    };
    const Case cases[] = {
        {&Config::client_ca_file, "tls.client_ca_file is required"},
        {&Config::server_cert_file, "tls.server_cert_file is required"},
        {&Config::server_key_file, "tls.server_key_file is required"},
        {&Config::database_path, "database_path is required"},
        {&Config::policies_dir, "policies_dir is required"},
        {&Config::state_dir, "state_dir is required (set it in the config file or with --state-dir)"},
    };
    for (const Case& c : cases) {
      Config config = ValidConfig();
      config.*c.member = "";
      const absl::Status s = ValidateConfig(config);
      CHECK(s.code() == absl::StatusCode::kInvalidArgument);
      CHECK_MESSAGE(Contains(s, c.text), s.message());
    }
  }

  TEST_CASE("limits outside their range name the setting and the allowed range") {
    Config config = ValidConfig();
    config.max_receive_message_bytes = 10;
    absl::Status s = ValidateConfig(config);
    CHECK(Contains(s, "limits.max_receive_message_bytes is 10; allowed: 1024 to 67108864 bytes"));
    config = ValidConfig();
    config.max_concurrent_streams = 0;
    CHECK(Contains(ValidateConfig(config), "limits.max_concurrent_streams is 0"));
    config = ValidConfig();
    config.default_deadline_ms = 200000;
    config.max_deadline_ms = 100000;
    CHECK(Contains(ValidateConfig(config), "exceeds limits.max_deadline_ms"));
  }

  TEST_CASE("the listen address must be host:port") {
    for (const char* bad : {"localhost", ":7443", "127.0.0.1:", "127.0.0.1:70000", "127.0.0.1:x",
                            "unix:/tmp/sock", "[::1", "a b:1"}) {
      Config config = ValidConfig();
      config.listen_address = bad;
      const absl::Status s = ValidateConfig(config);
      CHECK_MESSAGE(Contains(s, "listen_address"), bad);
    }
    for (const char* good : {"127.0.0.1:0", "0.0.0.0:7443", "[::1]:7443", "enclave.local:443"}) {
      Config config = ValidConfig();
      config.listen_address = good;
      CHECK_MESSAGE(ValidateConfig(config).ok(), good);
    }
  }
}

}  // namespace enclave::server
