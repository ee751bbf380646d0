// A machine-readable "retry after" hint on a kResourceExhausted status (issue 11 §3): the enclave's
// admission queue and the per-principal limits attach it, the rpc layer sends it to the client as
// trailing metadata `retry-after-ms`, and enclavectl waits at least that long before it retries.
// The status message says the same in words ("retry after N s").
//
//   return base::WithRetryAfter(absl::ResourceExhaustedError("...; retry after 2 s"),
//                               std::chrono::seconds(2));
//   if (std::optional<std::chrono::milliseconds> ms = base::RetryAfterOf(status)) ...
#pragma once

#include <charconv>
#include <chrono>
#include <cstdint>
#include <optional>
#include <string>

#include "absl/status/status.h"
#include "absl/strings/cord.h"

namespace enclave::base {

// The payload key on the absl::Status (never sent as such: the rpc layer translates it).
inline constexpr char kRetryAfterPayload[] = "enclave.v1/retry-after-ms";
// The gRPC trailing-metadata key (lower case, as HTTP/2 requires), value: decimal milliseconds.
inline constexpr char kRetryAfterMetadata[] = "retry-after-ms";

// `status` with the hint attached; a negative wait is stored as 0. OK statuses are returned as they
// are (absl ignores payloads on OK).
inline absl::Status WithRetryAfter(absl::Status status, std::chrono::milliseconds wait) {
  const std::int64_t ms = wait.count() < 0 ? 0 : static_cast<std::int64_t>(wait.count());
  status.SetPayload(kRetryAfterPayload, absl::Cord(std::to_string(ms)));
  return status;
}

// Parses decimal milliseconds as sent in `retry-after-ms`: digits only, at most one day.
inline std::optional<std::chrono::milliseconds> ParseRetryAfterMs(std::string_view text) {
  constexpr std::int64_t kMaxMs = 24LL * 60 * 60 * 1000;
  if (text.empty() || text.size() > 12) return std::nullopt;
  std::int64_t ms = 0;
  const auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), ms);
  if (ec != std::errc() || ptr != text.data() + text.size() || ms < 0 || ms > kMaxMs) {
    return std::nullopt;
  }
  return std::chrono::milliseconds(ms);
}

// The hint on `status`, if any.
inline std::optional<std::chrono::milliseconds> RetryAfterOf(const absl::Status& status) {
  const auto payload = status.GetPayload(kRetryAfterPayload);
  if (!payload.has_value()) return std::nullopt;
  return ParseRetryAfterMs(std::string(*payload));
}

}  // namespace enclave::base
