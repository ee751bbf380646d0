// Reads a delivery description (policies/deliveries/*.textproto, proto/enclave/v1/delivery.proto).
#pragma once

#include <string>

#include "absl/status/statusor.h"
#include "enclave/delivery/description.h"

namespace enclave::steward {

// kNotFound if the file cannot be read; kInvalidArgument with "file:line:column: problem" for a
// parse error, or naming the inconsistency (delivery::CheckDescription).
absl::StatusOr<delivery::DeliveryDescription> LoadDescription(const std::string& path);

// The same from text (tests); `name` is used in messages.
absl::StatusOr<delivery::DeliveryDescription> ParseDescription(const std::string& text,
                                                                const std::string& name);

}  // namespace enclave::steward
