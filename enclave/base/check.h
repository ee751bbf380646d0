// ENCLAVE_CHECK: a broken invariant is a bug; log and abort (fail closed). Never for input checks.
#pragma once

namespace enclave::base {
[[noreturn]] void CheckFailed(const char* condition, const char* file, int line);
}  // namespace enclave::base

#define ENCLAVE_CHECK(cond) \
  ((cond) ? static_cast<void>(0) : ::enclave::base::CheckFailed(#cond, __FILE__, __LINE__))
