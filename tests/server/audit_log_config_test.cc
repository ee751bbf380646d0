// The query log's settings in enclaved's configuration (audit_log { ... }: checkpoint timers,
// handshake-failure summaries, the signing key as a systemd credential), and the counting of
// failed TLS handshakes from gRPC's log messages.
#include <doctest/doctest.h>
#include <grpc/support/log.h>

#include <chrono>
#include <cstdlib>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "enclave/server/auth_failures.h"
#include "enclave/server/config.h"
#include "tests/testing/temp_dir.h"

namespace enclave::server {
namespace {

using ::enclave::testing::TempDir;

bool Contains(const absl::Status& s, const std::string& text) {
  return std::string(s.message()).find(text) != std::string::npos;
}

// Restores $CREDENTIALS_DIRECTORY after a test.
class CredentialsEnv {
 public:
  CredentialsEnv() {
    if (const char* v = std::getenv("CREDENTIALS_DIRECTORY"); v != nullptr) saved_ = v;
  }
  ~CredentialsEnv() {
    if (saved_.empty()) {
      ::unsetenv("CREDENTIALS_DIRECTORY");
    } else {
      ::setenv("CREDENTIALS_DIRECTORY", saved_.c_str(), 1);
    }
  }

 private:
  std::string saved_;
};

class MemoryLog final : public core::QueryLog {
 public:
  absl::Status Append(const core::QueryLogEntry& entry) override {
    std::lock_guard<std::mutex> lock(mu);
    if (fail) return absl::UnavailableError("log down");
    entries.push_back(entry);
    return absl::OkStatus();
  }
  std::vector<core::QueryLogEntry> Entries() {
    std::lock_guard<std::mutex> lock(mu);
    return entries;
  }
  std::mutex mu;
  bool fail = false;
  std::vector<core::QueryLogEntry> entries;
};

// gRPC 1.51's messages for the handshakes dev-pki.sh's rogue1 and a certificate-less client
// cause on the server (observed; tests/server/start_server_test.cc checks them end to end).
// gRPC logs nothing before its verbosity is initialised (grpc_init does it in a server).
void InstallForTest() {
  gpr_log_verbosity_init();
  InstallHandshakeFailureCapture();
  TakeHandshakeFailureCounts();
}

constexpr char kRogueMessage[] =
    "Handshake failed with fatal error SSL_ERROR_SSL: error:0A000086:SSL "
    "routines::certificate verify failed.";
constexpr char kNoCertMessage[] =
    "Handshake failed with fatal error SSL_ERROR_SSL: error:0A0000C7:SSL routines::peer did "
    "not return a certificate.";

}  // namespace

TEST_SUITE("audit_log config") {
  TEST_CASE("defaults: checkpoints every 1000 entries and 60 s, summaries every 60 s") {
    TempDir dir;
    auto config = LoadConfigFile(dir.Write("c.textproto", "# nothing\n"));
    REQUIRE(config.ok());
    CHECK(config->checkpoint_every_entries == 1000);
    CHECK(config->checkpoint_interval_ms == 60000);
    CHECK(config->auth_failure_summary_interval_ms == 60000);
    CHECK(config->log_signing_key_file.empty());
  }

  TEST_CASE("set values are read, a relative key path is resolved against the file") {
    TempDir dir;
    auto config = LoadConfigFile(dir.Write("etc/c.textproto",
                                           "audit_log {\n"
                                           "  checkpoint_every_entries: 50\n"
                                           "  checkpoint_interval_ms: 5000\n"
                                           "  auth_failure_summary_interval_ms: 2000\n"
                                           "  signing_key_file: \"keys/log.pem\"\n"
                                           "}\n"));
    REQUIRE_MESSAGE(config.ok(), config.status().ToString());
    CHECK(config->checkpoint_every_entries == 50);
    CHECK(config->checkpoint_interval_ms == 5000);
    CHECK(config->auth_failure_summary_interval_ms == 2000);
    CHECK(config->log_signing_key_file == (dir.path() / "etc/keys/log.pem").string());
  }

  TEST_CASE("an out-of-range interval names the setting, its line and the range") {
    TempDir dir;
    const std::string path = dir.Write("c.textproto",
                                       "audit_log {\n"
                                       "  checkpoint_interval_ms: 0\n"
                                       "}\n");
    auto config = LoadConfigFile(path);
    REQUIRE_FALSE(config.ok());
    CHECK(config.status().code() == absl::StatusCode::kInvalidArgument);
    CHECK(Contains(config.status(), path + ":2:"));
    CHECK(Contains(config.status(),
                   "audit_log.checkpoint_interval_ms is 0; allowed: 1000 to 86400000 ms"));
    Config c;
    c.checkpoint_every_entries = 0;
    CHECK(Contains(ValidateConfig(c), "audit_log.checkpoint_every_entries is 0"));
  }

  TEST_CASE("$CREDENTIALS_DIRECTORY/NAME reads the key from systemd's credentials directory") {
    CredentialsEnv restore;
    TempDir dir;
    const std::string path =
        dir.Write("c.textproto",
                  "audit_log { signing_key_file: \"$CREDENTIALS_DIRECTORY/log-signing-key\" }\n");
    ::setenv("CREDENTIALS_DIRECTORY", "/run/credentials/enclaved.service", 1);
    auto config = LoadConfigFile(path);
    REQUIRE_MESSAGE(config.ok(), config.status().ToString());
    CHECK(config->log_signing_key_file == "/run/credentials/enclaved.service/log-signing-key");

    ::unsetenv("CREDENTIALS_DIRECTORY");
    auto unset = LoadConfigFile(path);
    REQUIRE_FALSE(unset.ok());
    CHECK(Contains(unset.status(), "$CREDENTIALS_DIRECTORY is not set"));

    ::setenv("CREDENTIALS_DIRECTORY", "/run/credentials/enclaved.service", 1);
    auto escape = LoadConfigFile(dir.Write(
        "d.textproto", "audit_log { signing_key_file: \"$CREDENTIALS_DIRECTORY/../x\" }\n"));
    REQUIRE_FALSE(escape.ok());
    CHECK(Contains(escape.status(), "does not name a credential"));
  }
}

TEST_SUITE("handshake failures") {
  TEST_CASE("gRPC's handshake messages are classified by reason, other messages are not") {
    CHECK(HandshakeFailureReason(kRogueMessage) == "certificate-not-trusted");
    CHECK(HandshakeFailureReason(kNoCertMessage) == "no-client-certificate");
    CHECK(HandshakeFailureReason("Handshake failed with fatal error SSL_ERROR_SSL: "
                                 "error:0A00010B:SSL routines::wrong version number.") ==
          "protocol");
    CHECK(HandshakeFailureReason("Handshake failed with fatal error SSL_ERROR_SSL: "
                                 "error:0A000418:SSL routines::tlsv1 alert unknown ca.") ==
          "peer-alert");
    CHECK(HandshakeFailureReason("Handshake failed with fatal error SSL_ERROR_SYSCALL: x") ==
          "other");
    CHECK(HandshakeFailureReason("Connection reset by peer").empty());
    CHECK(HandshakeFailureReason("").empty());
  }

  TEST_CASE("the installed gRPC log function counts failures by reason until taken") {
    InstallForTest();
    gpr_log_message(GPR_ERROR, kRogueMessage);
    gpr_log_message(GPR_ERROR, kRogueMessage);
    gpr_log_message(GPR_ERROR, kNoCertMessage);
    gpr_log_message(GPR_ERROR, "an unrelated gRPC error");
    const std::map<std::string, std::uint64_t> counts = TakeHandshakeFailureCounts();
    CHECK(counts == std::map<std::string, std::uint64_t>{{"certificate-not-trusted", 2},
                                                          {"no-client-certificate", 1}});
    CHECK(TakeHandshakeFailureCounts().empty());
  }

  TEST_CASE("the summary entry holds counts only") {
    const core::QueryLogEntry e = AuthFailureSummaryEntry(
        {{"certificate-not-trusted", 2}, {"no-client-certificate", 1}}, 1700000000000, "v1");
    CHECK(e.type == core::QueryLogEntry::Type::kAuthFailureSummary);
    CHECK(e.decision == "UNAUTHENTICATED");
    CHECK(e.detail ==
          "total=3 certificate-not-trusted=2 no-client-certificate=1 since_unix_ms=1700000000000");
    CHECK(e.caller.empty());
    CHECK(e.data_version == "v1");
  }

  TEST_CASE("the reporter writes a summary per interval when non-zero, and one at stop") {
    InstallForTest();
    auto log = std::make_shared<MemoryLog>();
    AuthFailureReporter reporter(log, std::chrono::milliseconds(50), "v1");
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
    CHECK(log->Entries().empty());  // nothing counted: no entry
    gpr_log_message(GPR_ERROR, kRogueMessage);
    for (int i = 0; i < 100 && log->Entries().empty(); ++i) {
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    REQUIRE(log->Entries().size() == 1);
    CHECK(log->Entries()[0].detail.rfind("total=1 certificate-not-trusted=1 ", 0) == 0);
    // A failure just before stop is not lost: Stop writes it.
    gpr_log_message(GPR_ERROR, kNoCertMessage);
    CHECK(reporter.Stop().ok());
    REQUIRE(log->Entries().size() == 2);
    CHECK(log->Entries()[1].detail.rfind("total=1 no-client-certificate=1 ", 0) == 0);
  }

  TEST_CASE("counts survive a failed log write and go into the next summary") {
    InstallForTest();
    auto log = std::make_shared<MemoryLog>();
    AuthFailureReporter reporter(log, std::chrono::hours(1), "v1");
    gpr_log_message(GPR_ERROR, kNoCertMessage);
    log->fail = true;
    CHECK(reporter.Flush().code() == absl::StatusCode::kUnavailable);
    log->fail = false;
    gpr_log_message(GPR_ERROR, kNoCertMessage);
    CHECK(reporter.Stop().ok());
    REQUIRE(log->Entries().size() == 1);
    CHECK(log->Entries()[0].detail.rfind("total=2 no-client-certificate=2 ", 0) == 0);
  }
}

}  // namespace enclave::server
