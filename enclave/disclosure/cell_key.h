// The cell key method: consistent perturbation of counts and magnitudes (disclosure-control.md
// §5). Pure: no I/O, no crypto (key derivation is a callback), integers only.
//
// Every unit has a secret 32-bit record key rk (crypto::RecordKeyer). A cell's key is the sum of
// its DISTINCT units' record keys mod 2^32 (§5.2), so the same set of units gets the same key, and
// hence the same released value, in any template, row order or margin:
//
//   CellKey ck;                                   // the aggregator has distinct units per cell
//   for (const Unit& u : cell_units) ck.AddDistinctUnit(u.record_key);
//   std::int64_t shown = PerturbCount(n, ck.value(), RandomRoundingPtable(5));
//
// A margin's key is its own unit set's key: when a margin's units are the disjoint union of inner
// cells' units, Merge() the inner keys (wrap-around addition is associative and commutative);
// when a unit can fall in several inner cells, accumulate the margin over its distinct units.
//
// SECRECY. Cell keys, record keys, the ptable and noise are internal to the enclave: they go to no
// response, log, export or error message, and no API the rpc layer uses returns them.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "enclave/disclosure/ptable.h"

namespace enclave::disclosure {

// Sum of record keys mod 2^32 over units the caller knows to be distinct.
class CellKey {
 public:
  void AddDistinctUnit(std::uint32_t record_key) { sum_ += record_key; }  // wraps mod 2^32
  // Adds the key of a DISJOINT unit set (a margin from its inner cells).
  void Merge(const CellKey& disjoint) { sum_ += disjoint.sum_; }
  std::uint32_t value() const { return sum_; }

 private:
  std::uint32_t sum_ = 0;
};

// Cell key over units that may repeat (several rows per unit): each unit index counts once.
class DistinctCellKey {
 public:
  // REQUIRES: the same unit always comes with the same record key.
  void Add(std::uint32_t unit_index, std::uint32_t record_key) {
    units_.emplace_back(unit_index, record_key);
  }
  // Sorts, drops repeats, sums. Leaves the accumulator empty.
  std::uint32_t Finish();

 private:
  std::vector<std::pair<std::uint32_t, std::uint32_t>> units_;
};

// The released count: count + the ptable's deviation for (count, cell_key). The same (count,
// cell key, table) always gives the same value. REQUIRES: count >= 0.
std::int64_t PerturbCount(std::int64_t count, std::uint32_t cell_key, const Ptable& treatment);

// §5.7: X' = X + Σ_{j=1..k} w_j·m·|x_(j)|·v_j, v_j = row.Lookup(key(variable, j, cell_key)).
struct MagnitudeParams {
  std::uint32_t k = 2;                              // largest contributions used (holdings)
  std::vector<std::int64_t> weights_permille = {1000, 500};  // w_j, j = 1..k
  std::int64_t m_permille = 100;                    // m = 0.10
  PtableRow row = PtableD3V1Js2().RowFor(1000000);  // general row: mean 0, |v| <= 3
};

// kInvalidArgument unless k >= 1, weights_permille has k entries in [0, 1000], m_permille in
// [0, 1000] and the row sums to 2^32 with mean exactly 0.
absl::Status CheckMagnitudeParams(const MagnitudeParams& params);

// Derives the 32-bit noise key for variable, rank j (1-based) and cell key; in the enclave
// crypto::RecordKeyer::MagnitudeKey. Must be deterministic.
using MagnitudeKeyFn =
    std::function<std::uint32_t(std::string_view variable, std::uint32_t j, std::uint32_t cell_key)>;

struct PerturbedMagnitude {
  std::int64_t perturbed = 0;  // X' before precision rounding (input to derived means)
  std::int64_t released = 0;   // X' rounded to the precision (half away from zero)
};

// Perturbs a sum X of a cell with key `cell_key`. `largest` holds the cell's largest
// contributions (holdings), any order, any sign; the k largest in absolute value are used (fewer
// if the cell has fewer). Noise = Σ w_j·m·|x_(j)|·v_j computed exactly in 128 bits, then rounded
// once to an integer (half away from zero); X + noise saturates at the int64 range.
// REQUIRES: CheckMagnitudeParams(params).ok() (checked), precision >= 1.
PerturbedMagnitude PerturbMagnitude(std::int64_t sum, std::span<const std::int64_t> largest,
                                    std::uint32_t cell_key, std::string_view variable,
                                    const MagnitudeParams& params, const MagnitudeKeyFn& key,
                                    std::int64_t precision);

// A mean derived from released parts (§5.7): X'/n' rounded once to the precision (half away from
// zero). nullopt when released_count <= 0.
std::optional<std::int64_t> DerivedMean(std::int64_t perturbed_sum, std::int64_t released_count,
                                        std::int64_t precision);

}  // namespace enclave::disclosure
