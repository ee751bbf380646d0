// The deadline a query runs under: the client's, capped by the server's maximum, or the default.
#pragma once

#include <chrono>

namespace enclave::rpc {

struct DeadlinePolicy {
  // Applied when the client sets no deadline.
  int default_deadline_ms = 30000;
  // The most a client's deadline may grant.
  int max_deadline_ms = 120000;
};

// The steady-clock deadline for a call: min(client deadline, now + max), or now + default when
// the client set none (client_deadline == system_clock::time_point::max()). Pure given the clocks.
std::chrono::steady_clock::time_point EffectiveDeadline(
    std::chrono::system_clock::time_point client_deadline, const DeadlinePolicy& policy,
    std::chrono::system_clock::time_point system_now, std::chrono::steady_clock::time_point steady_now);

}  // namespace enclave::rpc
