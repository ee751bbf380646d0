// The differencing guard (disclosure-control.md §6.1) and the decomposition quota (§6.2). Pure:
// in memory, no I/O; adapters/sqlite/release_history_store.h persists what it records.
//
// A population is a set of units given as dense, per-data-version-stable indices
// (core::UnitIndex). Per project, data version and unit type the guard keeps every released
// population and refuses a new one that differs from a kept one by 1 to T-1 units: two such
// releases would give, by subtraction, a statistic about fewer than T units.
//
//   DifferencingGuard guard;
//   ENCLAVE_RETURN_IF_ERROR(guard.CheckAndRecord(key, populations_of_this_release, rules.min_units));
//   // ... release; persist the newly recorded populations before sending.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <span>
#include <string>
#include <string_view>
#include <tuple>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace enclave::disclosure {

// A set of unit indices, sorted ascending without repeats.
class Population {
 public:
  Population() = default;
  // Sorts and removes repeats.
  static Population FromIndices(std::vector<std::uint32_t> indices);
  // REQUIRES: strictly ascending (checked).
  static Population FromSorted(std::vector<std::uint32_t> sorted);

  std::span<const std::uint32_t> units() const { return units_; }
  std::size_t size() const { return units_.size(); }
  bool operator==(const Population& other) const = default;

 private:
  std::vector<std::uint32_t> units_;
};

// |a Δ b|, exact when below `limit`; stops early and returns a value >= limit otherwise (in
// particular when the sizes alone differ by >= limit).
std::uint64_t SymmetricDifferenceSize(const Population& a, const Population& b,
                                      std::uint64_t limit);

// Compact, canonical encoding: one kind byte, then either delta-varints (0x01: count, first,
// gaps - 1) or a bitmap over [first, last] (0x02: count, first, bit length, bits), whichever is
// shorter (≤ 9.8 KB for 78,000 units). DecodePopulation accepts only what EncodePopulation
// produces for some population (strictly ascending, in range, exact counts, no trailing bytes,
// the shorter form); anything else is kDataLoss.
std::string EncodePopulation(const Population& population);
absl::StatusOr<Population> DecodePopulation(std::string_view bytes);

// Where populations are compared: only within one project, data version and unit type.
struct GuardKey {
  std::string project;
  std::string data_version;
  std::string unit_type;
  auto operator<=>(const GuardKey&) const = default;
};

// Thread-safe.
class DifferencingGuard {
 public:
  DifferencingGuard();
  ~DifferencingGuard();
  DifferencingGuard(const DifferencingGuard&) = delete;
  DifferencingGuard& operator=(const DifferencingGuard&) = delete;

  // OK when every population in `populations` either equals one already recorded under `key` or
  // differs from each recorded one by 0 or at least `min_units` (T) units; otherwise
  // kFailedPrecondition with RefusalMessage (no counts, no unit ids, no other project's data).
  // Populations of the same call are not compared with each other (secondary suppression
  // protects within one table). REQUIRES: min_units >= 1.
  absl::Status Check(const GuardKey& key, std::span<const Population> populations,
                     std::uint64_t min_units) const;

  // Records the populations (repeats of recorded ones are ignored). Returns the ones that were
  // new, encoded (EncodePopulation), for the caller to persist.
  std::vector<std::string> Record(const GuardKey& key, std::span<const Population> populations);

  // Check and, if OK, Record, atomically: two concurrent releases cannot both pass against the
  // history without seeing each other. USE THIS in the query path. On OK, `newly_recorded`
  // receives the encodings to persist (may be null).
  absl::Status CheckAndRecord(const GuardKey& key, std::span<const Population> populations,
                              std::uint64_t min_units,
                              std::vector<std::string>* newly_recorded = nullptr);

  // Restores recorded populations from their encodings (start-up, from the history store).
  // All-or-nothing: kDataLoss on any undecodable encoding, and then nothing is added.
  absl::Status Restore(const GuardKey& key, std::span<const std::string> encodings);

  std::size_t RecordedCount(const GuardKey& key) const;

  // The refusal message: names the caller's own project and the public threshold, never a count,
  // a unit or which earlier release.
  static std::string RefusalMessage(std::string_view project, std::uint64_t min_units);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// The decomposition quota (§6.2): distinct partitions (breakdowns) of one population per project,
// default 10; beyond that, a privacy officer must approve. A partition is identified by a
// canonical string the caller builds (e.g. "template@version|dim1,dim2|canonical filters").
// Thread-safe.
class DecompositionQuota {
 public:
  explicit DecompositionQuota(std::uint32_t max_partitions = 10);
  ~DecompositionQuota();

  // OK if `partition` was seen before for this population, or fewer than max_partitions were;
  // then records it. Otherwise kResourceExhausted with a fixed message.
  absl::Status Use(const GuardKey& key, const Population& population, std::string_view partition);
  std::size_t PartitionsOf(const GuardKey& key, const Population& population) const;

 private:
  std::uint32_t max_partitions_;
  mutable std::mutex mu_;
  // (key, population encoding) -> partitions seen.
  std::map<std::pair<GuardKey, std::string>, std::set<std::string, std::less<>>> seen_;
};

}  // namespace enclave::disclosure
