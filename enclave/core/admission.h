// The enclave-wide admission of queries (issue 11 §3): at most `max_running` queries run at once;
// a caller beyond that waits in a first-in, first-out queue for a slot, up to its own deadline and
// at most `max_wait`, in a queue of at most `max_queued` callers. A caller that still cannot run
// gets kResourceExhausted with "retry after N s" and the same hint as a payload
// (base/retry_hint.h), which the rpc layer sends as trailing metadata `retry-after-ms`.
//
//   AdmissionQueue queue({.max_running = 8, .max_queued = 64, .max_wait = 10s});
//   absl::StatusOr<AdmissionQueue::Slot> slot = queue.Acquire(cancel);   // may block
//   if (!slot.ok()) return record.Refuse(slot.status());                  // logged, then answered
//   ... run the query; the slot goes to the next waiter when `slot` is destroyed.
//
// A freed slot is handed to the longest waiter directly, so a caller that arrives while others
// wait queues behind them (no overtaking). Thread-safe. Pure: no gRPC, no clock but steady_clock.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <mutex>

#include "absl/status/statusor.h"
#include "enclave/core/ports.h"

namespace enclave::core {

struct AdmissionOptions {
  int max_running = 8;
  // Callers that may wait at once; 0: no queue, a caller beyond max_running is refused at once.
  int max_queued = 64;
  // The longest a caller waits for a slot (its own deadline may end the wait sooner); 0: no wait.
  std::chrono::milliseconds max_wait{10000};
};

// Counters since construction (for the operator and the benchmark).
struct AdmissionStats {
  std::uint64_t admitted = 0;         // calls that got a slot (at once or after waiting)
  std::uint64_t queued = 0;           // calls that had to wait (admitted later or not)
  std::uint64_t shed_queue_full = 0;  // refused at once: the queue was full (or max_wait is 0)
  std::uint64_t shed_timeout = 0;     // waited until max_wait or their deadline, then refused
  std::uint64_t cancelled = 0;        // the caller cancelled while waiting
  std::int64_t total_wait_us = 0;     // summed over calls that waited and were admitted
  int running = 0;
  int waiting = 0;
  int max_waiting = 0;  // the longest queue seen
};

class AdmissionQueue {
 public:
  // Gives its slot back (to the next waiter, or to the pool) when destroyed or reset.
  class Slot {
   public:
    Slot() = default;
    Slot(Slot&& other) noexcept
        : queue_(other.queue_), start_(other.start_) {
      other.queue_ = nullptr;
    }
    Slot& operator=(Slot&& other) noexcept {
      if (this != &other) {
        Reset();
        queue_ = other.queue_;
        start_ = other.start_;
        other.queue_ = nullptr;
      }
      return *this;
    }
    Slot(const Slot&) = delete;
    Slot& operator=(const Slot&) = delete;
    ~Slot() { Reset(); }
    void Reset();

   private:
    friend class AdmissionQueue;
    Slot(AdmissionQueue* queue, std::chrono::steady_clock::time_point start)
        : queue_(queue), start_(start) {}
    AdmissionQueue* queue_ = nullptr;
    std::chrono::steady_clock::time_point start_;
  };

  explicit AdmissionQueue(AdmissionOptions options);
  AdmissionQueue(const AdmissionQueue&) = delete;
  AdmissionQueue& operator=(const AdmissionQueue&) = delete;

  // A slot at once when one is free and nobody waits; else waits (FIFO) until a slot is handed
  // over, `max_wait` has passed, the caller's deadline is near (a query started at its deadline
  // could not finish: the wait ends one typical query duration, at least 50 ms, before it), or
  // `cancel.cancelled()` (polled every 50 ms). kResourceExhausted with "retry after N s" and the
  // hint payload when the queue is full or the wait ended without a slot; kCancelled when the
  // caller cancelled.
  absl::StatusOr<Slot> Acquire(const Cancellation& cancel);

  AdmissionStats stats() const;
  const AdmissionOptions& options() const { return options_; }

 private:
  struct Waiter {
    std::condition_variable cv;
    bool granted = false;
  };
  void Release(std::chrono::steady_clock::time_point start);
  // Whole seconds (>= 1) after which a slot is likely free for a caller arriving now, from the
  // typical query duration and the queue ahead. Needs mu_.
  std::chrono::seconds RetryAfterLocked() const;
  // The typical time a slot is held (an average over recent queries). Needs mu_.
  std::chrono::microseconds TypicalHoldLocked() const;

  const AdmissionOptions options_;
  mutable std::mutex mu_;
  int running_ = 0;                // guarded by mu_
  std::deque<Waiter*> waiters_;    // guarded by mu_; front = longest waiting
  double hold_us_ewma_ = -1;       // guarded by mu_; < 0: no query finished yet
  AdmissionStats stats_;           // guarded by mu_ (running/waiting filled in by stats())
};

}  // namespace enclave::core
