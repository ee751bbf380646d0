// The admission queue (issue 11 §3): a caller beyond the enclave's concurrency limit waits, first
// in first out, for a slot, up to its deadline and the server's maximum wait, in a bounded queue;
// when it still cannot run it gets RESOURCE_EXHAUSTED with a retry hint.
#include "enclave/core/admission.h"

#include <doctest/doctest.h>

#include <atomic>
#include <chrono>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "enclave/base/retry_hint.h"

namespace enclave::core {
namespace {

using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;

bool Contains(const absl::Status& s, const std::string& text) {
  return std::string(s.message()).find(text) != std::string::npos;
}

// Polls until `done` holds (at most 10 s, then fails the test).
template <typename F>
void WaitFor(F done) {
  const auto until = Clock::now() + std::chrono::seconds(10);
  while (!done()) {
    REQUIRE(Clock::now() < until);
    std::this_thread::sleep_for(milliseconds(2));
  }
}

AdmissionOptions Options(int running, int queued, milliseconds wait) {
  AdmissionOptions o;
  o.max_running = running;
  o.max_queued = queued;
  o.max_wait = wait;
  return o;
}

// A caller on its own thread: Acquire, then hold the slot until told to let go.
struct Caller {
  std::thread thread;
  std::atomic<bool> done{false};
  absl::Status status = absl::UnknownError("not run");
  std::optional<AdmissionQueue::Slot> slot;

  void Start(AdmissionQueue& queue, Cancellation cancel = {}) {
    thread = std::thread([this, &queue, cancel] {
      absl::StatusOr<AdmissionQueue::Slot> s = queue.Acquire(cancel);
      status = s.status();
      if (s.ok()) slot.emplace(*std::move(s));
      done = true;
    });
  }
  void Join() {
    if (thread.joinable()) thread.join();
  }
  ~Caller() { Join(); }
};

}  // namespace

TEST_SUITE("AdmissionQueue") {
  TEST_CASE("below the limit a slot is given at once, a released slot is reused") {
    AdmissionQueue queue(Options(2, 4, milliseconds(1000)));
    auto a = queue.Acquire({});
    auto b = queue.Acquire({});
    REQUIRE(a.ok());
    REQUIRE(b.ok());
    CHECK(queue.stats().running == 2);
    CHECK(queue.stats().queued == 0);
    a->Reset();
    CHECK(queue.stats().running == 1);
    auto c = queue.Acquire({});
    CHECK(c.ok());
    CHECK(queue.stats().admitted == 3);
  }

  TEST_CASE("a waiting caller gets the slot when one frees") {
    AdmissionQueue queue(Options(1, 4, milliseconds(10000)));
    auto held = queue.Acquire({});
    REQUIRE(held.ok());
    Caller waiter;
    waiter.Start(queue);
    WaitFor([&] { return queue.stats().waiting == 1; });
    std::this_thread::sleep_for(milliseconds(100));
    CHECK_FALSE(waiter.done.load());  // it waits, it is not refused
    held->Reset();
    WaitFor([&] { return waiter.done.load(); });
    waiter.Join();
    CHECK(waiter.status.ok());
    const AdmissionStats stats = queue.stats();
    CHECK(stats.running == 1);  // handed over: the waiter holds it now
    CHECK(stats.waiting == 0);
    CHECK(stats.queued == 1);
    CHECK(stats.admitted == 2);
    CHECK(stats.shed_queue_full + stats.shed_timeout == 0);
    waiter.slot.reset();
    CHECK(queue.stats().running == 0);
  }

  TEST_CASE("the maximum wait ends in RESOURCE_EXHAUSTED with 'retry after N s' and the hint") {
    AdmissionQueue queue(Options(1, 4, milliseconds(200)));
    auto held = queue.Acquire({});
    REQUIRE(held.ok());
    const auto start = Clock::now();
    auto late = queue.Acquire({});
    const auto waited = Clock::now() - start;
    REQUIRE_FALSE(late.ok());
    CHECK(late.status().code() == absl::StatusCode::kResourceExhausted);
    CHECK(waited >= milliseconds(200));
    CHECK(waited < milliseconds(2000));
    CHECK(Contains(late.status(), "the enclave is running its maximum of 1 queries and this one "
                                  "waited 0."));
    CHECK(Contains(late.status(), "s without a free slot; retry after 1 s"));
    REQUIRE(base::RetryAfterOf(late.status()).has_value());
    CHECK(*base::RetryAfterOf(late.status()) == milliseconds(1000));
    CHECK(queue.stats().shed_timeout == 1);
    CHECK(queue.stats().waiting == 0);  // it left the queue
    held->Reset();
    CHECK(queue.stats().running == 0);  // and the freed slot went to nobody
  }

  TEST_CASE("the caller's deadline ends the wait before the deadline, with the retry hint") {
    AdmissionQueue queue(Options(1, 4, milliseconds(60000)));
    auto held = queue.Acquire({});
    REQUIRE(held.ok());
    Cancellation cancel;
    const auto start = Clock::now();
    cancel.deadline = start + milliseconds(1500);
    auto late = queue.Acquire(cancel);
    const auto end = Clock::now();
    REQUIRE_FALSE(late.ok());
    CHECK(late.status().code() == absl::StatusCode::kResourceExhausted);
    // It waited, and answered before the caller's deadline (one typical query earlier).
    CHECK(end - start >= milliseconds(300));
    CHECK(end < cancel.deadline);
    CHECK(Contains(late.status(), "retry after "));
    CHECK(base::RetryAfterOf(late.status()).has_value());

    SUBCASE("a deadline too close to wait at all is refused at once") {
      Cancellation soon;
      soon.deadline = Clock::now() + milliseconds(20);
      auto refused = queue.Acquire(soon);
      REQUIRE_FALSE(refused.ok());
      CHECK(refused.status().code() == absl::StatusCode::kResourceExhausted);
      CHECK(Contains(refused.status(), "deadline leaves no time to wait for a slot; retry after"));
      CHECK(base::RetryAfterOf(refused.status()).has_value());
    }
  }

  TEST_CASE("waiters are served first in, first out") {
    AdmissionQueue queue(Options(1, 16, milliseconds(10000)));
    auto held = queue.Acquire({});
    REQUIRE(held.ok());
    constexpr int kWaiters = 6;
    std::mutex mu;
    std::vector<int> order;
    std::vector<std::thread> threads;
    for (int i = 0; i < kWaiters; ++i) {
      threads.emplace_back([&, i] {
        auto slot = queue.Acquire({});
        std::lock_guard<std::mutex> lock(mu);
        order.push_back(slot.ok() ? i : -1);
        // The slot is handed on when `slot` goes out of scope here.
      });
      // Each joins the queue before the next arrives.
      WaitFor([&] { return queue.stats().waiting == i + 1; });
    }
    held->Reset();
    for (auto& t : threads) t.join();
    CHECK(order == std::vector<int>{0, 1, 2, 3, 4, 5});
    CHECK(queue.stats().max_waiting == kWaiters);
    CHECK(queue.stats().running == 0);
  }

  TEST_CASE("a caller arriving at a full queue is refused at once with the retry hint") {
    AdmissionQueue queue(Options(1, 2, milliseconds(10000)));
    auto held = queue.Acquire({});
    REQUIRE(held.ok());
    Caller first, second;
    first.Start(queue);
    WaitFor([&] { return queue.stats().waiting == 1; });
    second.Start(queue);
    WaitFor([&] { return queue.stats().waiting == 2; });
    const auto start = Clock::now();
    auto third = queue.Acquire({});
    CHECK(Clock::now() - start < milliseconds(100));
    REQUIRE_FALSE(third.ok());
    CHECK(third.status().code() == absl::StatusCode::kResourceExhausted);
    CHECK(Contains(third.status(), "the enclave is running its maximum of 1 queries and its queue "
                                   "of 2 waiting queries is full; retry after "));
    CHECK(base::RetryAfterOf(third.status()).has_value());
    CHECK(queue.stats().shed_queue_full == 1);
    // The two in the queue still run, in turn.
    held->Reset();
    WaitFor([&] { return first.done.load(); });
    first.Join();
    CHECK(first.status.ok());
    first.slot.reset();
    WaitFor([&] { return second.done.load(); });
    second.Join();
    CHECK(second.status.ok());
  }

  TEST_CASE("without a queue a caller beyond the limit is refused at once") {
    for (const AdmissionOptions& o :
         {Options(1, 0, milliseconds(10000)), Options(1, 8, milliseconds(0))}) {
      AdmissionQueue queue(o);
      auto held = queue.Acquire({});
      REQUIRE(held.ok());
      auto refused = queue.Acquire({});
      REQUIRE_FALSE(refused.ok());
      CHECK(refused.status().message() ==
            "the enclave is running its maximum of 1 queries; retry after 1 s");
      CHECK(base::RetryAfterOf(refused.status()) == milliseconds(1000));
    }
  }

  TEST_CASE("a caller that cancels leaves the queue and never takes a slot") {
    AdmissionQueue queue(Options(1, 4, milliseconds(10000)));
    auto held = queue.Acquire({});
    REQUIRE(held.ok());
    auto cancelled = std::make_shared<std::atomic<bool>>(false);
    Cancellation cancel;
    cancel.cancelled = [cancelled] { return cancelled->load(); };
    Caller waiter;
    waiter.Start(queue, cancel);
    WaitFor([&] { return queue.stats().waiting == 1; });
    *cancelled = true;
    WaitFor([&] { return waiter.done.load(); });
    waiter.Join();
    CHECK(waiter.status.code() == absl::StatusCode::kCancelled);
    CHECK(queue.stats().waiting == 0);
    CHECK(queue.stats().cancelled == 1);
    held->Reset();
    CHECK(queue.stats().running == 0);
    CHECK(queue.Acquire({}).ok());
  }

  TEST_CASE("the retry hint grows with the queue ahead and the typical query time") {
    AdmissionQueue queue(Options(1, 8, milliseconds(10000)));
    {
      // One query held for 1.2 s: the typical query time becomes 1.2 s.
      auto first = queue.Acquire({});
      REQUIRE(first.ok());
      std::this_thread::sleep_for(milliseconds(1200));
    }
    auto held = queue.Acquire({});
    REQUIRE(held.ok());
    Caller a, b;
    a.Start(queue);
    WaitFor([&] { return queue.stats().waiting == 1; });
    b.Start(queue);
    WaitFor([&] { return queue.stats().waiting == 2; });
    Cancellation soon;
    soon.deadline = Clock::now() + milliseconds(20);
    auto refused = queue.Acquire(soon);
    REQUIRE_FALSE(refused.ok());
    // Three queries to finish on one slot before a slot is free: 3 x 1.2 s, rounded up.
    CHECK(Contains(refused.status(), "retry after 4 s"));
    CHECK(base::RetryAfterOf(refused.status()) == milliseconds(4000));
    held->Reset();
    WaitFor([&] { return a.done.load(); });
    a.Join();
    a.slot.reset();
    WaitFor([&] { return b.done.load(); });
    b.Join();
  }
}

}  // namespace enclave::core
