// systemd readiness and watchdog (sd_notify(3), Type=notify in deploy/enclaved.service).
//
// enclaved tells the service manager READY=1 once it listens, STOPPING=1 when a stop begins, and,
// when the unit sets WatchdogSec=, WATCHDOG=1 from a thread at half the interval, but only while a
// self-check passes (the query log's writer answers, RunningServer::CheckAlive). A hung or failed
// server stops pinging, and systemd kills and restarts it (Restart=on-failure).
//
// Every call is a no-op when $NOTIFY_SOCKET is unset (enclaved started by hand, tests, --check).
// Only fixed words and numbers are sent: never a path, a value or a message text.
//
//   NotifyReady(port);
//   std::optional<Watchdog> watchdog;
//   if (auto interval = WatchdogInterval()) watchdog.emplace(*interval / 2, [&] { return ...; });
//   ...
//   NotifyStopping();
//   watchdog.reset();
#pragma once

#include <chrono>
#include <condition_variable>
#include <functional>
#include <mutex>
#include <optional>
#include <thread>

#include "absl/status/status.h"

namespace enclave::server {

// READY=1 with STATUS=listening on port N and MAINPID.
void NotifyReady(int port);
// STOPPING=1 with STATUS=stopping.
void NotifyStopping();

// The watchdog interval the service manager set for this process (WATCHDOG_USEC, and
// WATCHDOG_PID when set must be this process), or nullopt when there is no watchdog.
std::optional<std::chrono::microseconds> WatchdogInterval();

// A thread that runs `check` every `period` and sends WATCHDOG=1 after each OK result. A failed
// check sends no ping (it is logged as `watchdog_self_check_failed code=...` once per failure
// run, with STATUS=self-check failed); a check that blocks sends none either, so the service
// manager's timer runs out. The first check runs at once.
class Watchdog {
 public:
  using Check = std::function<absl::Status()>;
  Watchdog(std::chrono::microseconds period, Check check);
  // Stop()s.
  ~Watchdog();
  Watchdog(const Watchdog&) = delete;
  Watchdog& operator=(const Watchdog&) = delete;

  // Ends the thread; waits for a check in progress. Idempotent.
  void Stop();

 private:
  void Loop();

  const std::chrono::microseconds period_;
  const Check check_;
  std::mutex mu_;
  std::condition_variable cv_;
  bool stop_ = false;  // guarded by mu_
  std::thread thread_;
};

}  // namespace enclave::server
