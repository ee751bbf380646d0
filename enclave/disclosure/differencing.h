// The differencing guard (disclosure-control.md §6.1) and the decomposition quota (§6.2). Pure:
// in memory, no I/O; adapters/sqlite/release_history_store.h persists what it records.
//
// A population is a set of units given as dense, per-data-version-stable indices
// (core::UnitIndex). Per data version and unit type — for every principal and project alike, since
// SDC releases are treated as publishable — the guard keeps every released population and
//   1. refuses a release with a population that differs from a kept one by 1 to T-1 units (two such
//      releases would give, by subtraction, a statistic about fewer than T units);
//   2. refuses a release that would show a population broken down in more distinct partitions than
//      the quota (averaging the sums of many partitions recovers exact counts, §6.2).
// Check and record are one atomic step, so two concurrent releases cannot both pass without
// seeing each other.
//
//   DifferencingGuard guard;
//   GuardRecord added;
//   ENCLAVE_RETURN_IF_ERROR(guard.CheckAndRecord(key, populations, {.min_units = 10,
//                                                                   .max_partitions = 10}, &added));
//   // ... log the release; persist `added` (ReleaseHistory) before sending.
//
// Finding the populations within T-1 of a new one among 10^6 kept ones is a set-similarity join:
// |P Δ Q| < T implies |Q| ∈ (|P| - T, |P| + T) and, because at most T-1 of P's units are missing
// from Q (and vice versa), that P's T first units and Q's T first units share one, in any fixed
// global order of units (prefix filtering, Chaudhuri et al. 2006). The guard orders units by a
// fixed bijective mix of their index, indexes each kept population under its T first units and its
// size bucket, and confirms candidates exactly. No false negatives; cost per new population: one
// pass over its units, about 3T hash lookups, and an exact merge per candidate.
#pragma once

#include <compare>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <utility>
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

// A 128-bit fingerprint of a population's units (not cryptographic: the units come from the
// store, not from callers). Names a population in the decomposition quota's records.
struct PopulationDigest {
  std::uint64_t hi = 0;
  std::uint64_t lo = 0;
  auto operator<=>(const PopulationDigest&) const = default;
  std::string Hex() const;  // 32 lower-case hex digits
  static absl::StatusOr<PopulationDigest> FromHex(std::string_view hex);
};
PopulationDigest DigestOf(const Population& population);

// Where populations are compared: per data version and unit type, across all principals.
struct GuardKey {
  std::string data_version;
  std::string unit_type;
  auto operator<=>(const GuardKey&) const = default;
};

// One population a release shows, with the partitions of it the release shows: each partition
// is named by the code lists it breaks the population down by, canonical ("herkomst+wijk"), so
// that the same breakdown through another template is the same partition.
struct GuardedPopulation {
  Population units;
  std::vector<std::string> partitions;
};

struct GuardLimits {
  std::uint64_t min_units = 10;       // T: populations differing by 1..T-1 are refused
  std::uint32_t max_partitions = 10;  // distinct partitions of one population; 0: no quota
};

// An entity population (disclosure-control.md §6.1): the distinct entities (e.g. enterprises,
// be_id) of a cell's units, plus one identity element derived from the units themselves, so that
// two cells with the same entities but different units (a chain's branch more or less) are
// different populations. Two entity populations of different units therefore differ by their
// entities plus 2 (or, with probability 2^-31 per pair, plus 0), and CheckAndRecord compares them
// against min_units + kEntityIdentitySlack when CheckAndRecord is given an entity noun: refused iff the
// units differ and fewer than min_units entities do (|ent(P) Δ ent(Q)| <= |ent(P Δ Q)|, so every
// difference that touches fewer than min_units entities is refused). REQUIRES: every entity
// index at most kMaxEntityIndex (checked: kInternal).
inline constexpr std::uint64_t kEntityIdentitySlack = 2;
inline constexpr std::uint32_t kMaxEntityIndex = 0x7fffffffU;
absl::StatusOr<Population> EntityPopulation(std::vector<std::uint32_t> entities,
                                            const Population& units);

// A kept population: its encoding (EncodePopulation) and the largest threshold T it was released
// under. Two populations are compared with the smaller of their thresholds: a table released at
// T = 100 (income) and one at T = 10 (counts) differing by 50 persons describe those 50 by a count,
// which T = 10 allows; two income tables differing by 50 would describe their income.
struct KeptPopulation {
  std::string encoding;
  std::uint32_t min_units = 10;
};

// What one release added to the history: to persist before it is sent. A population kept before
// under a smaller T appears again with the larger one.
struct GuardRecord {
  std::vector<KeptPopulation> populations;
  std::vector<std::pair<PopulationDigest, std::string>> partitions;  // (population, partition)
  bool empty() const { return populations.empty() && partitions.empty(); }
};

// Thread-safe.
class DifferencingGuard {
 public:
  // The largest threshold the guard serves.
  static constexpr std::uint64_t kMaxMinUnits = 1000;

  DifferencingGuard();
  ~DifferencingGuard();
  DifferencingGuard(const DifferencingGuard&) = delete;
  DifferencingGuard& operator=(const DifferencingGuard&) = delete;

  // OK when every population in `populations` either equals one already recorded under `key` or
  // differs from each recorded one by 0 or at least min(limits.min_units, that one's T) units,
  // and no population
  // would then have more than limits.max_partitions distinct partitions; then records them (and
  // fills `added`, may be null). Otherwise kFailedPrecondition with DifferencingRefusal or
  // QuotaRefusal (no counts, no unit ids, nothing about earlier releases' callers) and nothing is
  // recorded. Populations of the same call are not compared with each other (secondary suppression
  // protects within one table). kInternal when limits.min_units is 0 or above kMaxMinUnits.
  //
  // `entity_noun` set ("enterprises"): the populations are entity populations (EntityPopulation),
  // the thresholds count entities (R5 asks for 10 enterprises, whatever their vestigingen); a
  // population is refused when its units differ from a kept one's while fewer than
  // limits.min_units entities do (0 included), and the refusal names the noun. Keep one kind of
  // population per key.
  absl::Status CheckAndRecord(const GuardKey& key, std::span<const GuardedPopulation> populations,
                              const GuardLimits& limits, GuardRecord* added = nullptr,
                              std::string_view entity_noun = {});

  // Restores recorded populations and partitions (start-up, from the history store).
  // All-or-nothing: kDataLoss on any undecodable encoding, and then nothing is added.
  absl::Status Restore(const GuardKey& key, std::span<const KeptPopulation> populations,
                       std::span<const std::pair<PopulationDigest, std::string>> partitions);

  std::size_t RecordedCount(const GuardKey& key) const;
  std::size_t PartitionsOf(const GuardKey& key, const Population& population) const;

  // The refusals: the public threshold and quota, never a count, a unit or which earlier release.
  static std::string DifferencingRefusal(std::uint64_t min_units,
                                         std::string_view noun = "units");
  static std::string QuotaRefusal(std::uint32_t max_partitions);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace enclave::disclosure
