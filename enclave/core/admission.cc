#include "enclave/core/admission.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <string>
#include <utility>

#include "absl/status/status.h"
#include "enclave/base/retry_hint.h"

namespace enclave::core {
namespace {

using Clock = std::chrono::steady_clock;

// How often a waiter looks at its caller's cancellation (ServerContext::IsCancelled is polled).
constexpr auto kCancelPoll = std::chrono::milliseconds(50);
// Bounds of the deadline reserve: the wait ends this long (a typical query) before the deadline.
constexpr auto kMinReserve = std::chrono::milliseconds(50);
constexpr auto kMaxReserve = std::chrono::milliseconds(5000);
// Typical query duration assumed before any query has finished.
constexpr double kDefaultHoldUs = 1e6;
// Weight of the newest query in the running average of slot hold times.
constexpr double kEwmaWeight = 0.2;
constexpr std::int64_t kMaxRetryAfterSeconds = 60;

std::string Seconds(Clock::duration d) {
  char buffer[32];
  std::snprintf(buffer, sizeof buffer, "%.1f",
                std::chrono::duration<double>(d).count());
  return buffer;
}

}  // namespace

void AdmissionQueue::Slot::Reset() {
  if (queue_ != nullptr) queue_->Release(start_);
  queue_ = nullptr;
}

AdmissionQueue::AdmissionQueue(AdmissionOptions options) : options_(options) {}

std::chrono::microseconds AdmissionQueue::TypicalHoldLocked() const {
  const double us = hold_us_ewma_ < 0 ? kDefaultHoldUs : hold_us_ewma_;
  return std::chrono::microseconds(static_cast<std::int64_t>(us));
}

std::chrono::seconds AdmissionQueue::RetryAfterLocked() const {
  // A caller arriving now waits behind everyone queued: (waiting + 1) queries must finish, on
  // max_running slots, before one is free for it.
  const double hold_s = std::chrono::duration<double>(TypicalHoldLocked()).count();
  const double waves = static_cast<double>(waiters_.size() + 1) /
                       static_cast<double>(std::max(options_.max_running, 1));
  const auto s = static_cast<std::int64_t>(std::ceil(waves * hold_s));
  return std::chrono::seconds(std::clamp<std::int64_t>(s, 1, kMaxRetryAfterSeconds));
}

absl::StatusOr<AdmissionQueue::Slot> AdmissionQueue::Acquire(const Cancellation& cancel) {
  const auto arrived = Clock::now();
  std::unique_lock<std::mutex> lock(mu_);
  if (running_ < options_.max_running && waiters_.empty()) {
    ++running_;
    ++stats_.admitted;
    return Slot(this, arrived);
  }
  const std::string busy = "the enclave is running its maximum of " +
                           std::to_string(options_.max_running) + " queries";
  const auto refuse = [&](std::string why) {
    const std::chrono::seconds after = RetryAfterLocked();
    return base::WithRetryAfter(
        absl::ResourceExhaustedError(busy + why + "; retry after " +
                                     std::to_string(after.count()) + " s"),
        after);
  };
  if (options_.max_queued <= 0 || options_.max_wait <= std::chrono::milliseconds(0)) {
    ++stats_.shed_queue_full;
    return refuse("");
  }
  if (waiters_.size() >= static_cast<std::size_t>(options_.max_queued)) {
    ++stats_.shed_queue_full;
    return refuse(" and its queue of " + std::to_string(options_.max_queued) +
                  " waiting queries is full");
  }
  const auto reserve = std::clamp<Clock::duration>(TypicalHoldLocked(), kMinReserve, kMaxReserve);
  Clock::time_point give_up = arrived + options_.max_wait;
  if (cancel.deadline != Clock::time_point::max()) {
    give_up = std::min(give_up, cancel.deadline - reserve);
  }
  if (give_up <= arrived) {
    ++stats_.shed_timeout;
    return refuse(" and this one's deadline leaves no time to wait for a slot");
  }

  Waiter me;
  waiters_.push_back(&me);
  ++stats_.queued;
  stats_.max_waiting = std::max(stats_.max_waiting, static_cast<int>(waiters_.size()));
  bool cancelled = false;
  while (!me.granted) {
    const auto now = Clock::now();
    if (now >= give_up) break;
    if (cancel.cancelled && cancel.cancelled()) {
      cancelled = true;
      break;
    }
    me.cv.wait_until(lock, std::min(give_up, now + kCancelPoll));
  }
  const auto waited = Clock::now() - arrived;
  if (me.granted) {
    // Release() handed its slot over: running_ already counts this query.
    ++stats_.admitted;
    stats_.total_wait_us +=
        std::chrono::duration_cast<std::chrono::microseconds>(waited).count();
    return Slot(this, Clock::now());
  }
  waiters_.erase(std::find(waiters_.begin(), waiters_.end(), &me));
  if (cancelled) {
    ++stats_.cancelled;
    return absl::CancelledError("the query was cancelled by the caller while it waited for a slot");
  }
  ++stats_.shed_timeout;
  return refuse(" and this one waited " + Seconds(waited) + " s without a free slot");
}

void AdmissionQueue::Release(std::chrono::steady_clock::time_point start) {
  const double held_us =
      std::chrono::duration<double, std::micro>(Clock::now() - start).count();
  std::lock_guard<std::mutex> lock(mu_);
  hold_us_ewma_ = hold_us_ewma_ < 0 ? held_us
                                    : (1 - kEwmaWeight) * hold_us_ewma_ + kEwmaWeight * held_us;
  if (!waiters_.empty()) {
    // Hand the slot to the longest waiter: running_ stays as it is.
    Waiter* next = waiters_.front();
    waiters_.pop_front();
    next->granted = true;
    next->cv.notify_one();
    return;
  }
  --running_;
}

AdmissionStats AdmissionQueue::stats() const {
  std::lock_guard<std::mutex> lock(mu_);
  AdmissionStats out = stats_;
  out.running = running_;
  out.waiting = static_cast<int>(waiters_.size());
  return out;
}

}  // namespace enclave::core
