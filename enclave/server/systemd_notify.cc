#include "enclave/server/systemd_notify.h"

#include <systemd/sd-daemon.h>
#include <unistd.h>

#include <cstdint>
#include <string>
#include <utility>

#include "absl/strings/str_cat.h"
#include "enclave/base/log.h"

namespace enclave::server {
namespace {

void Send(const std::string& state) {
  // 0 = NOTIFY_SOCKET unset (nothing to do); < 0 = the manager could not be told. Neither stops
  // the server: without a manager there is nobody to tell, and a unit whose manager misses READY
  // fails its own start (TimeoutStartSec).
  if (sd_notify(0, state.c_str()) < 0) base::LogWarning("sd_notify_failed", {});
}

}  // namespace

void NotifyReady(int port) {
  Send(absl::StrCat("READY=1\nSTATUS=listening on port ", port, "\nMAINPID=", ::getpid()));
}

void NotifyStopping() { Send("STOPPING=1\nSTATUS=stopping"); }

std::optional<std::chrono::microseconds> WatchdogInterval() {
  std::uint64_t usec = 0;
  if (sd_watchdog_enabled(0, &usec) <= 0 || usec == 0) return std::nullopt;
  return std::chrono::microseconds(usec);
}

Watchdog::Watchdog(std::chrono::microseconds period, Check check)
    : period_(period), check_(std::move(check)) {
  thread_ = std::thread([this] { Loop(); });
}

Watchdog::~Watchdog() { Stop(); }

void Watchdog::Stop() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stop_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

void Watchdog::Loop() {
  bool failing = false;
  std::unique_lock<std::mutex> lock(mu_);
  while (!stop_) {
    lock.unlock();
    const absl::Status alive = check_();
    if (alive.ok()) {
      if (failing) {
        base::LogInfo("watchdog_self_check_ok", {});
        failing = false;
      }
      Send("WATCHDOG=1");
    } else if (!failing) {
      failing = true;
      base::LogError("watchdog_self_check_failed", {{"code", alive.code()}});
      Send(absl::StrCat("STATUS=self-check failed: ", absl::StatusCodeToString(alive.code())));
    }
    lock.lock();
    cv_.wait_for(lock, period_, [this] { return stop_; });
  }
}

}  // namespace enclave::server
