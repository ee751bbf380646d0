// Adapter: core::RecordKeySource over crypto::RecordKeyer (header-only; link enclave::crypto).
//
//   ENCLAVE_ASSIGN_OR_RETURN(crypto::Secret k, crypto::LoadOrCreateSecret(state_dir + "/record_key.secret"));
//   crypto::RecordKeyer keyer(k);
//   crypto::RecordKeyerSource source(keyer);
//   auto persons = core::UnitIndex::FromUniverse("person", units, source);
#pragma once

#include "enclave/core/record_key_port.h"
#include "enclave/crypto/hmac.h"

namespace enclave::crypto {

class RecordKeyerSource final : public core::RecordKeySource {
 public:
  // `keyer` must outlive this object.
  explicit RecordKeyerSource(const RecordKeyer& keyer) : keyer_(keyer) {}
  std::uint32_t KeyFor(std::string_view unit_type, std::string_view unit) override {
    return keyer_.RecordKey(unit_type, unit);
  }

 private:
  const RecordKeyer& keyer_;
};

}  // namespace enclave::crypto
