// Unit keys to dense unit indices and cached record keys, in one hash lookup.
//
// The cell key method needs each unit's record key (one HMAC, about 1 µs); the differencing guard
// needs each unit as a small integer (disclosure::Population). A UnitIndex per unit type gives both
// and computes each record key once per process:
//
//   core::UnitIndex persons = core::UnitIndex::FromUniverse("person", all_person_keys, source);
//   std::optional<core::UnitIndex::Entry> e = persons.Lookup(row.unit);   // index + record key
//
// Two modes:
//   - FromUniverse (use this in the enclave): built from every unit of the unit type in the loaded
//     data version; index = the unit's rank in byte-wise sorted order, so indices are the same
//     after a restart and populations persisted by the release history stay meaningful. A unit
//     outside the universe is not indexed (Lookup gives nullopt: fail closed).
//   - Growing: indices in first-seen order, stable for the process lifetime only (basis() empty:
//     populations built on it must not be persisted).
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "enclave/core/record_key_port.h"

namespace enclave::core {

// Thread-safe: Lookup may run concurrently from any number of threads.
class UnitIndex {
 public:
  struct Entry {
    std::uint32_t index = 0;       // dense: 0 .. size()-1
    std::uint32_t record_key = 0;  // keys.KeyFor(unit_type, unit)
  };

  // Growing mode. `keys` must outlive the index.
  UnitIndex(std::string unit_type, RecordKeySource& keys);
  // Universe mode: repeats in `universe` are ignored. REQUIRES: fewer than 2^32 units (checked).
  static std::unique_ptr<UnitIndex> FromUniverse(std::string unit_type,
                                                 std::vector<std::string> universe,
                                                 RecordKeySource& keys);
  ~UnitIndex();
  UnitIndex(const UnitIndex&) = delete;
  UnitIndex& operator=(const UnitIndex&) = delete;

  // Growing mode: always an entry (interned on first sight). Universe mode: nullopt for a unit
  // outside the universe. The record key is computed on first lookup and cached.
  std::optional<Entry> Lookup(std::string_view unit);

  std::size_t size() const;
  const std::string& unit_type() const;
  // Identifies the numbering: "universe/<n>/<16 hex digits of a 64-bit FNV-1a over the sorted
  // units>" in universe mode, "" in growing mode. Persist populations only with a non-empty basis,
  // and refuse persisted populations whose basis differs from the current one.
  const std::string& basis() const;

 private:
  struct Impl;
  explicit UnitIndex(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace enclave::core
