// The web page's test fixture (issue 12), for the browser tests (tests/browser) and for trying
// the page by hand: the real enclaved on the shared integration world (PKI and the standard
// 20,000-person dataset, tests/integration/world.h) with the shipped policies, and one real
// `enclavectl serve` per principal: analyst1 (municipal analyst), officer1 (privacy officer, with
// the log's pinned key) and researcher1.
//
// Run the binary enclave_web_fixture (a doctest program; CTest does not register it):
//
//   ENCLAVE_WEB_COMMAND='node tests/browser/run.mjs' build/dev/tests/integration/enclave_web_fixture
//
// It runs ENCLAVE_WEB_COMMAND with /bin/sh -c once everything is up, stdout and stderr inherited,
// with these environment variables, and fails unless the command exits 0:
//   ENCLAVE_WEB_ANALYST_URL     http://127.0.0.1:PORT/?token=TOKEN of analyst1's serve
//   ENCLAVE_WEB_OFFICER_URL     the same for officer1 (the log view verifies with the pinned key)
//   ENCLAVE_WEB_RESEARCHER_URL  the same for researcher1
//   ENCLAVE_TARGET              the enclave's host:port (for enclavectl run by the command)
//   ENCLAVE_PKI                 the PKI directory: ca.pem, <who>.pem and <who>.key
//   ENCLAVE_LOG_KEY             the query log's verifier key (for enclavectl audit ... --log-key)
//   ENCLAVECTL                  the enclavectl binary under test
// Without ENCLAVE_WEB_COMMAND it prints those variables and waits for Ctrl-C (open the URLs in a
// browser). Every serve must exit 0 on SIGTERM afterwards.
//
// In CMake (tests/browser/CMakeLists.txt), with the shared world built first:
//   add_test(NAME browser/page COMMAND enclave_web_fixture)
//   set_tests_properties(browser/page PROPERTIES FIXTURES_REQUIRED integration_world
//     ENVIRONMENT "ENCLAVE_WEB_COMMAND=node ${PROJECT_SOURCE_DIR}/tests/browser/run.mjs")
#include <doctest/doctest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <iostream>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "enclave/adapters/sqlite/audit_log_store.h"
#include "tests/integration/process.h"
#include "tests/integration/serve_process.h"
#include "tests/integration/world.h"

namespace enclave::testing {
namespace {

std::string Trim(std::string s) {
  while (!s.empty() && (s.back() == '\n' || s.back() == ' ' || s.back() == '\r')) s.pop_back();
  return s;
}

int RunShell(const std::string& command) {
  const pid_t pid = fork();
  if (pid == 0) {
    execl("/bin/sh", "sh", "-c", command.c_str(), static_cast<char*>(nullptr));
    _exit(127);
  }
  int status = 0;
  if (pid < 0 || waitpid(pid, &status, 0) != pid) return -1;
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

}  // namespace

TEST_CASE("web fixture: enclaved and enclavectl serve per principal, then the command") {
  TestWorld world(kStandardData);
  const std::string state = world.StateDir("state");
  std::unique_ptr<ServerProcess> enclaved = world.StartEnclaved(ShippedPolicies(), state);
  INFO(enclaved->stderr_text());
  REQUIRE(enclaved->port() > 0);
  const std::string log_key = Trim(ReadFile(state + "/log_verifier.key"));
  REQUIRE(!log_key.empty());

  const std::map<std::string, std::string> principals = {
      {"ANALYST", "analyst1"}, {"OFFICER", "officer1"}, {"RESEARCHER", "researcher1"}};
  std::map<std::string, std::unique_ptr<ServeProcess>> serves;
  for (const auto& [role, who] : principals) {
    std::vector<std::string> argv = world.EnclavectlArgv(enclaved->target(), who);
    argv.insert(argv.end(), {"serve", "--no-browser-hint", "--log-key", log_key, "--origin",
                             adapters::sqlite::kDefaultLogOrigin});
    auto serve = std::make_unique<ServeProcess>(
        argv, world.dir.path().string() + "/serve-" + who + ".stderr");
    INFO(serve->stderr_text());
    REQUIRE(!serve->url().empty());
    setenv(("ENCLAVE_WEB_" + role + "_URL").c_str(), serve->url().c_str(), 1);
    serves[role] = std::move(serve);
  }
  setenv("ENCLAVE_TARGET", enclaved->target().c_str(), 1);
  setenv("ENCLAVE_PKI", world.pki.c_str(), 1);
  setenv("ENCLAVE_LOG_KEY", log_key.c_str(), 1);
  setenv("ENCLAVECTL", EnclavectlPath().c_str(), 1);

  const char* command = std::getenv("ENCLAVE_WEB_COMMAND");
  if (command != nullptr && *command != '\0') {
    const int code = RunShell(command);
    CHECK_MESSAGE(code == 0, "ENCLAVE_WEB_COMMAND exited with " << code);
  } else {
    for (const char* name : {"ENCLAVE_WEB_ANALYST_URL", "ENCLAVE_WEB_OFFICER_URL",
                             "ENCLAVE_WEB_RESEARCHER_URL", "ENCLAVE_TARGET", "ENCLAVE_PKI",
                             "ENCLAVE_LOG_KEY", "ENCLAVECTL"}) {
      std::cout << name << "=" << std::getenv(name) << "\n";
    }
    std::cout << "Ctrl-C stops everything.\n" << std::flush;
    sigset_t stop;
    sigemptyset(&stop);
    sigaddset(&stop, SIGINT);
    sigaddset(&stop, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &stop, nullptr);
    int signal_number = 0;
    sigwait(&stop, &signal_number);
  }
  for (auto& [role, serve] : serves) {
    CAPTURE(role);
    INFO(serve->stderr_text());
    CHECK(serve->Stop() == 0);
  }
  CHECK(enclaved->Stop() == 0);
}

}  // namespace enclave::testing
