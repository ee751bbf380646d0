// Port: where record keys come from (disclosure-control.md §5.1).
//
// The core never sees the record-key secret. An adapter (enclave/crypto/record_key_source.h, over
// crypto::RecordKeyer) implements this port; tests use a fake. Record keys are internal to the
// enclave: they go to no response, log, export or error message.
#pragma once

#include <cstdint>
#include <string_view>

namespace enclave::core {

class RecordKeySource {
 public:
  virtual ~RecordKeySource() = default;
  // The unit's 32-bit record key: deterministic for (unit_type, unit) under one key version.
  // Thread-safe; never fails (an implementation that cannot compute a key aborts: fail closed).
  virtual std::uint32_t KeyFor(std::string_view unit_type, std::string_view unit) = 0;
};

}  // namespace enclave::core
