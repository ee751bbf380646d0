// Retrying a call the enclave refused because it was busy (issue 11 §3).
//
// A busy enclave (its queue full, or no query slot within the deadline) and the per-principal
// limits answer RESOURCE_EXHAUSTED with "retry after N s" and the same wait in trailing metadata
// `retry-after-ms`, which the client library attaches to the status (RetryAfterOf reads it). Only such a refusal is retried: one without
// the hint (a spent privacy budget, a table too large) would fail again.
//
//   enclave::client::RetryPolicy policy;                      // 4 retries within 20 s
//   enclave::client::RetryHooks hooks = enclave::client::SystemRetryHooks();
//   hooks.on_retry = [](const absl::Status& s, std::chrono::milliseconds wait, int retry) { ... };
//   absl::StatusOr<QueryResult> r = enclave::client::CallWithRetries<QueryResult>(
//       policy, hooks, [&] { return client->RunQuery(id, params); });
//
// The wait before retry k (1-based) is max(hint, initial_backoff * 2^(k-1), capped at
// max_backoff), plus a random 0-50 % of it (jitter, so that refused clients do not all come back
// at the same moment): never shorter than the enclave asked.
#pragma once

#include <chrono>
#include <functional>
#include <optional>
#include <utility>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace enclave::client {

struct RetryPolicy {
  int max_retries = 4;                              // after the first attempt; 0: never retry
  std::chrono::milliseconds max_total{20000};       // no wait may end later than this after the
                                                    // first attempt began
  std::chrono::milliseconds initial_backoff{1000};
  std::chrono::milliseconds max_backoff{16000};
};

// The wait the enclave asked for on a RESOURCE_EXHAUSTED (trailing metadata retry-after-ms), as the
// client library attached it to the status; nullopt when there is none or the code differs.
std::optional<std::chrono::milliseconds> RetryAfterOf(const absl::Status& status);
// `status` with `wait` attached as RetryAfterOf reads it (the gRPC client does this; a fake
// EnclaveClient in a test may too).
absl::Status WithRetryAfter(absl::Status status, std::chrono::milliseconds wait);

// What the loop needs from the outside world; SystemRetryHooks() gives the real ones.
struct RetryHooks {
  std::function<std::chrono::steady_clock::time_point()> now;
  std::function<void(std::chrono::milliseconds)> sleep;
  std::function<double()> uniform01;  // in [0, 1): the jitter
  // Called before each wait with the refusal, the wait and the retry's number (1-based); may be
  // empty.
  std::function<void(const absl::Status&, std::chrono::milliseconds, int)> on_retry;
};

// steady_clock, this_thread::sleep_for, a randomly seeded generator; no on_retry.
RetryHooks SystemRetryHooks();

// The wait before retry `retry` (1-based) with the enclave's `hint` and a jitter draw `u` in [0, 1).
std::chrono::milliseconds RetryDelay(const RetryPolicy& policy, int retry,
                                     std::optional<std::chrono::milliseconds> hint, double u);

// Calls `attempt` until it returns a status that is not a RESOURCE_EXHAUSTED with a retry hint,
// the retries are used up, or the next wait would end beyond max_total; returns the last status.
absl::Status RetryLoop(const RetryPolicy& policy, const RetryHooks& hooks,
                       const std::function<absl::Status()>& attempt);

// RetryLoop for a call that returns a value.
template <typename T, typename Call>
absl::StatusOr<T> CallWithRetries(const RetryPolicy& policy, const RetryHooks& hooks, Call&& call) {
  std::optional<absl::StatusOr<T>> last;
  (void)RetryLoop(policy, hooks, [&]() -> absl::Status {
    last.emplace(call());
    return last->status();
  });
  if (!last.has_value()) return absl::InternalError("no attempt was made");
  return *std::move(last);
}

}  // namespace enclave::client
