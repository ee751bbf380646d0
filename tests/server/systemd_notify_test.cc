// systemd readiness and watchdog (enclave/server/systemd_notify.h): what reaches a notification
// socket the test owns. The end-to-end version with the real enclaved is
// tests/integration/systemd_notify_test.cc.
#include "enclave/server/systemd_notify.h"

#include <doctest/doctest.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdlib>
#include <string>
#include <thread>

#include "tests/testing/notify_socket.h"
#include "tests/testing/temp_dir.h"

namespace enclave::server {
namespace {

using enclave::testing::NotifySocket;
using enclave::testing::TempDir;
using namespace std::chrono_literals;

// $NOTIFY_SOCKET (and optionally the watchdog variables) for the scope of one test.
struct NotifyEnv {
  explicit NotifyEnv(const std::string& socket) { ::setenv("NOTIFY_SOCKET", socket.c_str(), 1); }
  ~NotifyEnv() {
    ::unsetenv("NOTIFY_SOCKET");
    ::unsetenv("WATCHDOG_USEC");
    ::unsetenv("WATCHDOG_PID");
  }
};

// Counts the datagrams equal to `text` that arrive within `window`.
int CountWithin(NotifySocket& sock, const std::string& text, std::chrono::milliseconds window) {
  int n = 0;
  const auto end = std::chrono::steady_clock::now() + window;
  for (;;) {
    const auto left =
        std::chrono::duration_cast<std::chrono::milliseconds>(end - std::chrono::steady_clock::now());
    if (left.count() <= 0) return n;
    std::optional<std::string> m = sock.Receive(left);
    if (!m) return n;
    if (*m == text) ++n;
  }
}

TEST_CASE("READY=1 names the port and the main pid, STOPPING=1 at a stop") {
  TempDir dir;
  NotifySocket sock(dir.File("notify.sock"));
  REQUIRE(sock.ok());
  NotifyEnv env(sock.path());
  NotifyReady(7443);
  std::optional<std::string> ready = sock.Receive(2s);
  REQUIRE(ready.has_value());
  CHECK(*ready == "READY=1\nSTATUS=listening on port 7443\nMAINPID=" + std::to_string(::getpid()));
  NotifyStopping();
  std::optional<std::string> stopping = sock.Receive(2s);
  REQUIRE(stopping.has_value());
  CHECK(*stopping == "STOPPING=1\nSTATUS=stopping");
}

TEST_CASE("without NOTIFY_SOCKET every notification is a no-op") {
  ::unsetenv("NOTIFY_SOCKET");
  NotifyReady(1);
  NotifyStopping();
  Watchdog watchdog(1ms, [] { return absl::OkStatus(); });
  std::this_thread::sleep_for(20ms);
  watchdog.Stop();
}

TEST_CASE("the watchdog interval comes from WATCHDOG_USEC, for this process only") {
  TempDir dir;
  NotifySocket sock(dir.File("notify.sock"));
  NotifyEnv env(sock.path());
  CHECK_FALSE(WatchdogInterval().has_value());  // the unit set no WatchdogSec=
  ::setenv("WATCHDOG_USEC", "30000000", 1);
  REQUIRE(WatchdogInterval().has_value());
  CHECK(*WatchdogInterval() == 30s);
  ::setenv("WATCHDOG_PID", std::to_string(::getpid()).c_str(), 1);
  CHECK(WatchdogInterval().has_value());
  // Meant for another process (e.g. the parent that systemd started): not ours to ping.
  ::setenv("WATCHDOG_PID", std::to_string(::getppid()).c_str(), 1);
  CHECK_FALSE(WatchdogInterval().has_value());
}

TEST_CASE("the watchdog pings only while the self-check passes") {
  TempDir dir;
  NotifySocket sock(dir.File("notify.sock"));
  REQUIRE(sock.ok());
  NotifyEnv env(sock.path());
  std::atomic<bool> healthy{true};
  Watchdog watchdog(20ms, [&] {
    return healthy ? absl::OkStatus() : absl::UnavailableError("audit log: an earlier commit failed");
  });
  CHECK(CountWithin(sock, "WATCHDOG=1", 300ms) >= 3);

  // Negative control: a failed check sends no ping, says so once, and systemd's timer runs out.
  healthy = false;
  std::this_thread::sleep_for(60ms);
  while (sock.Receive(0ms)) {
  }
  std::optional<std::string> next = sock.Receive(300ms);
  if (next.has_value()) CHECK(*next == "STATUS=self-check failed: UNAVAILABLE");
  CHECK(CountWithin(sock, "WATCHDOG=1", 300ms) == 0);

  healthy = true;
  CHECK(CountWithin(sock, "WATCHDOG=1", 300ms) >= 3);
  watchdog.Stop();
  while (sock.Receive(50ms)) {
  }
  CHECK(CountWithin(sock, "WATCHDOG=1", 100ms) == 0);  // stopped means silent
}

TEST_CASE("a self-check that blocks sends no ping") {
  TempDir dir;
  NotifySocket sock(dir.File("notify.sock"));
  REQUIRE(sock.ok());
  NotifyEnv env(sock.path());
  std::atomic<bool> stuck{true};
  std::atomic<int> checks{0};
  Watchdog watchdog(10ms, [&] {
    ++checks;
    while (stuck) std::this_thread::sleep_for(5ms);
    return absl::OkStatus();
  });
  CHECK(CountWithin(sock, "WATCHDOG=1", 300ms) == 0);
  CHECK(checks.load() == 1);
  stuck = false;
  CHECK(CountWithin(sock, "WATCHDOG=1", 200ms) >= 1);
}

}  // namespace
}  // namespace enclave::server
