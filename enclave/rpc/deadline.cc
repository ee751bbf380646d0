// Effective query deadlines.
#include "enclave/rpc/deadline.h"

#include <algorithm>

namespace enclave::rpc {

std::chrono::steady_clock::time_point EffectiveDeadline(
    std::chrono::system_clock::time_point client_deadline, const DeadlinePolicy& policy,
    std::chrono::system_clock::time_point system_now,
    std::chrono::steady_clock::time_point steady_now) {
  const auto max_budget = std::chrono::milliseconds(policy.max_deadline_ms);
  if (client_deadline == std::chrono::system_clock::time_point::max()) {
    return steady_now + std::min(std::chrono::milliseconds(policy.default_deadline_ms), max_budget);
  }
  if (client_deadline <= system_now) return steady_now;
  const auto remaining =
      std::chrono::duration_cast<std::chrono::milliseconds>(client_deadline - system_now);
  return steady_now + std::min(remaining, max_budget);
}

}  // namespace enclave::rpc
