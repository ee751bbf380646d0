// Retrying RESOURCE_EXHAUSTED refusals that carry the enclave's retry hint.
#include "enclave/client/retry.h"

#include <algorithm>
#include <charconv>
#include <cstdint>
#include <memory>
#include <random>
#include <string>
#include <thread>

#include "absl/strings/cord.h"

namespace enclave::client {
namespace {

// The hint travels on the absl::Status as this payload (decimal milliseconds).
constexpr char kRetryAfterPayload[] = "enclave.client/retry-after-ms";
// Longer hints are not believed (a day).
constexpr std::int64_t kMaxHintMs = 24LL * 60 * 60 * 1000;

}  // namespace

std::optional<std::chrono::milliseconds> RetryAfterOf(const absl::Status& status) {
  if (status.code() != absl::StatusCode::kResourceExhausted) return std::nullopt;
  const auto payload = status.GetPayload(kRetryAfterPayload);
  if (!payload.has_value()) return std::nullopt;
  const std::string text(*payload);
  std::int64_t ms = 0;
  const auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), ms);
  if (text.empty() || ec != std::errc() || ptr != text.data() + text.size() || ms < 0 ||
      ms > kMaxHintMs) {
    return std::nullopt;
  }
  return std::chrono::milliseconds(ms);
}

absl::Status WithRetryAfter(absl::Status status, std::chrono::milliseconds wait) {
  status.SetPayload(kRetryAfterPayload,
                    absl::Cord(std::to_string(std::max<std::int64_t>(0, wait.count()))));
  return status;
}

RetryHooks SystemRetryHooks() {
  RetryHooks hooks;
  hooks.now = [] { return std::chrono::steady_clock::now(); };
  hooks.sleep = [](std::chrono::milliseconds d) { std::this_thread::sleep_for(d); };
  auto engine = std::make_shared<std::mt19937_64>(std::random_device{}());
  hooks.uniform01 = [engine] {
    return std::uniform_real_distribution<double>(0.0, 1.0)(*engine);
  };
  return hooks;
}

std::chrono::milliseconds RetryDelay(const RetryPolicy& policy, int retry,
                                     std::optional<std::chrono::milliseconds> hint, double u) {
  std::int64_t backoff = std::max<std::int64_t>(policy.initial_backoff.count(), 0);
  const std::int64_t cap = std::max<std::int64_t>(policy.max_backoff.count(), backoff);
  for (int i = 1; i < retry && backoff < cap; ++i) backoff = std::min(cap, backoff * 2);
  const std::int64_t base = std::max(backoff, hint.has_value() ? hint->count() : 0);
  const double jitter = std::clamp(u, 0.0, 1.0) * 0.5 * static_cast<double>(base);
  return std::chrono::milliseconds(base + static_cast<std::int64_t>(jitter));
}

absl::Status RetryLoop(const RetryPolicy& policy, const RetryHooks& hooks,
                       const std::function<absl::Status()>& attempt) {
  const auto start = hooks.now();
  for (int retry = 1;; ++retry) {
    absl::Status status = attempt();
    const std::optional<std::chrono::milliseconds> hint = RetryAfterOf(status);
    if (!hint.has_value() || retry > policy.max_retries) return status;
    const std::chrono::milliseconds wait =
        RetryDelay(policy, retry, hint, hooks.uniform01 ? hooks.uniform01() : 0.0);
    if (hooks.now() + wait > start + policy.max_total) return status;
    if (hooks.on_retry) hooks.on_retry(status, wait, retry);
    hooks.sleep(wait);
  }
}

}  // namespace enclave::client
