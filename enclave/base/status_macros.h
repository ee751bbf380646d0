// Propagation macros for absl::Status / absl::StatusOr (Debian's Abseil 20220623 has none).
#pragma once

#include <utility>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

#define ENCLAVE_RETURN_IF_ERROR(expr)                                   \
  do {                                                                  \
    if (::absl::Status enclave_status_ = (expr); !enclave_status_.ok()) \
      return enclave_status_;                                           \
  } while (false)

// ENCLAVE_ASSIGN_OR_RETURN(auto rows, source.Run(q));  never as an unbraced if-body.
#define ENCLAVE_ASSIGN_OR_RETURN(lhs, rexpr) \
  ENCLAVE_AOR_(ENCLAVE_CAT_(enclave_statusor_, __LINE__), lhs, rexpr)
#define ENCLAVE_AOR_(tmp, lhs, rexpr)            \
  auto tmp = (rexpr);                            \
  if (!tmp.ok()) return std::move(tmp).status(); \
  lhs = *std::move(tmp)
#define ENCLAVE_CAT_(a, b) ENCLAVE_CAT2_(a, b)
#define ENCLAVE_CAT2_(a, b) a##b
