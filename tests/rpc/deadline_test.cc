// RunQuery's deadline: the client's, capped by the server maximum, or the default.
#include <doctest/doctest.h>

#include <chrono>

#include "enclave/rpc/deadline.h"

namespace enclave::rpc {

TEST_SUITE("EffectiveDeadline") {
  using std::chrono::milliseconds;
  using std::chrono::seconds;
  const auto sys_now = std::chrono::system_clock::time_point(seconds(1'700'000'000));
  const auto steady_now = std::chrono::steady_clock::time_point(seconds(5000));
  const DeadlinePolicy policy{30000, 120000};

  TEST_CASE("no client deadline gets the default") {
    CHECK(EffectiveDeadline(std::chrono::system_clock::time_point::max(), policy, sys_now,
                            steady_now) == steady_now + milliseconds(30000));
  }
  TEST_CASE("a client deadline beyond the maximum is capped") {
    CHECK(EffectiveDeadline(sys_now + seconds(600), policy, sys_now, steady_now) ==
          steady_now + milliseconds(120000));
  }
  TEST_CASE("a shorter client deadline is kept") {
    CHECK(EffectiveDeadline(sys_now + seconds(2), policy, sys_now, steady_now) ==
          steady_now + milliseconds(2000));
  }
  TEST_CASE("a deadline already past expires immediately") {
    CHECK(EffectiveDeadline(sys_now - seconds(1), policy, sys_now, steady_now) == steady_now);
  }
}

}  // namespace enclave::rpc
