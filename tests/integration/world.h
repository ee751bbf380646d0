// Test worlds for the integration tests (e2e, crash, attack, authz, systemd_notify): the PKI, the
// generated microdata and the binaries they share, and per test binary its own directory for state
// directories and policy copies, enclaved on 127.0.0.1:0, client settings per principal and
// enclavectl runs.
//
// The shared part is read-only and made once per CTest run: the CTest test integration/world-setup
// (FIXTURES_SETUP integration_world, tests/integration/world_setup_test.cc) builds it into the
// build tree with BuildSharedWorld, and every integration test declares FIXTURES_REQUIRED
// integration_world. A test binary run by hand builds the shared world first when it is missing
// or older than enclave-datagen (SharedWorldDir). A test that changes its data or state copies
// it into its own directory first (TestWorld::dir).
#pragma once

#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "enclave/client/client.h"
#include "tests/integration/process.h"
#include "tests/testing/temp_dir.h"

namespace enclave::testing {

// A synthetic microdata database of the shared world: enclave-datagen --seed S --persons N,
// written to <shared world>/<name>.db, mode 0400.
struct Dataset {
  const char* name;
  int seed;
  int persons;
};
// e2e and attack: 20,000 persons, cells on both sides of every threshold.
inline constexpr Dataset kStandardData = {"lv-s7-p20000", 7, 20000};
// crash, authz and systemd_notify: 3,000 persons, fast queries.
inline constexpr Dataset kSmallData = {"lv-s11-p3000", 11, 3000};

// The shared world's PKI: deploy/dev-pki.sh's whole set (ca, server, one client certificate per
// development principal, unknown1, rogue1) plus, for integration/authz, analyst2 and limited1
// (municipal analysts the policies do not list, 30 days) and researcher1long (researcher1's
// identity on a certificate valid for 1000 days, beyond its agreement's end).
//
// Builds the shared world into `dir` afresh (pki/, one database per dataset, a `ready` stamp),
// the certificates and databases made in parallel; replaces an earlier world only once the new
// one is complete. Serialised across processes by a lock file beside `dir`.
absl::Status BuildSharedWorld(const std::string& dir);

// Whether `dir` holds a complete shared world younger than the enclave-datagen binary and at most
// 7 days old (the client certificates last 30).
bool SharedWorldReady(const std::string& dir);

// The shared world's directory (ENCLAVE_WORLD_DIR, in the build tree), built first if it is not
// SharedWorldReady (as when a test binary runs outside CTest).
absl::StatusOr<std::string> SharedWorldDir();

// The source tree, its policies/ and the binaries under test.
std::string SourceDir();
std::string ShippedPolicies();
std::string EnclavedPath();
std::string EnclavectlPath();

// One test binary's world: the shared PKI and one dataset (both read-only), and its own
// temporary directory. The per-file `World` of each integration test derives from it.
class TestWorld {
 public:
  // REQUIREs the shared world (see SharedWorldDir) and the dataset in it.
  explicit TestWorld(const Dataset& data);
  TestWorld(const TestWorld&) = delete;
  TestWorld& operator=(const TestWorld&) = delete;

  TempDir dir;      // this binary's own files: state directories, policy copies, approvals
  std::string pki;  // shared: ca.pem, server.{pem,key}, <who>.pem and <who>.key per principal
  std::string db;   // shared: the dataset's database

  // dir/<name> as a state directory (created mode 0700 if missing; an existing one is kept).
  std::string StateDir(const std::string& name) const;
  // enclaved's flags for the database, `policies`, `state_dir` and the server's TLS files
  // (without --listen, which ServerProcess adds).
  std::vector<std::string> ServerFlags(const std::string& policies,
                                       const std::string& state_dir) const;
  // enclaved with ServerFlags on 127.0.0.1:0, its templates signed by a test officer1
  // (ServerProcess); port() is 0 if it did not come up.
  std::unique_ptr<ServerProcess> StartEnclaved(const std::string& policies,
                                               const std::string& state_dir) const;

  // The client settings of `who` (a certificate name of the PKI) for `target`.
  client::ConnectOptions ClientOptions(
      const std::string& target, const std::string& who,
      std::chrono::milliseconds deadline = std::chrono::milliseconds(30000)) const;
  // client::Connect with ClientOptions; REQUIREs success.
  std::unique_ptr<client::EnclaveClient> Connect(
      const std::string& target, const std::string& who,
      std::chrono::milliseconds deadline = std::chrono::milliseconds(30000)) const;
  // The enclavectl command line up to the subcommand: --target, --ca, --cert, --key of `who`.
  std::vector<std::string> EnclavectlArgv(const std::string& target, const std::string& who) const;
  // Runs enclavectl as `who` against `target` with `args` (RunProcess).
  ProcessResult Enclavectl(const std::string& target, const std::string& who,
                           const std::vector<std::string>& args) const;
};

}  // namespace enclave::testing
