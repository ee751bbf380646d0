// Perturbation tables (ptables) of the cell key method (disclosure-control.md §5.3-§5.5). Pure.
//
// A ptable maps an original count i and a cell key ck in [0, 2^32) to a deviation v: row i holds,
// for each v from -D to D, an integer count of keys; the counts sum to exactly 2^32, and v owns the
// key interval [F(v-1), F(v)) of the cumulative counts (§5.4): the released count is i + v for the
// first v whose cumulative count exceeds ck. Integer counts make the lookup exact and replayable.
//
//   const Ptable& rounding = RandomRoundingPtable(5);   // the default count treatment (§5.5)
//   std::int64_t released = rounding.Perturb(57, ck);    // 55 or 60, the same for the same units
//
// SECRECY. D, V, the rows and the cell keys are never returned through any API the rpc layer uses:
// no type in this header is marshalled, and release metadata carries only `id()@version()` (a
// name, not the parameters). Nothing may rely on their secrecy either (§5.6).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace enclave::disclosure {

// 128-bit integers for exact moment sums (a GCC/Clang extension; -Wpedantic-clean here).
__extension__ typedef __int128 Int128;

// The number of cell keys: every row's counts sum to this.
inline constexpr std::uint64_t kKeySpace = std::uint64_t{1} << 32;

// One row: counts[k] keys map to the deviation v = min_v + k.
struct PtableRow {
  std::int32_t min_v = 0;
  std::vector<std::uint64_t> counts;

  // The first v whose cumulative count exceeds `cell_key` (§5.4).
  // REQUIRES: counts sum to kKeySpace (checked by CheckPtable / Ptable::Create).
  std::int32_t Lookup(std::uint32_t cell_key) const;
  // Exact first and second moments of v, as sums over counts (Σ v·count, Σ v²·count).
  Int128 SumV() const;
  Int128 SumV2() const;
  std::int32_t max_v() const { return min_v + static_cast<std::int32_t>(counts.size()) - 1; }
};

// Which row serves count i.
enum class RowMapping {
  // rows[i] for i < rows.size() - 1; rows.back(), the general row, for every larger i.
  kGeneralBeyond,
  // rows[i mod rows.size()] (random rounding: the row depends on the residue only).
  kPeriodic,
};

struct PtableSpec {
  std::string id;              // e.g. "ckm-d3-v1-js2", "round-5"
  std::uint32_t version = 1;   // bumped on any change of a count: releases replay per version
  std::int32_t max_deviation = 0;  // D: every v with a non-zero count has |v| <= D
  std::int32_t js = 0;             // released counts 1..js are blocked (i + v never in [1, js])
  RowMapping mapping = RowMapping::kGeneralBeyond;
  std::vector<PtableRow> rows;
  // Largest allowed |Σ v·count| per row (0: exactly unbiased). Random rounding to a base b that
  // does not divide 2^32 cannot be exact; its rows are within b/2 (a bias below b/2^33).
  std::int64_t max_bias_numerator = 0;
};

// The constraints of §5.3 that every ptable must meet; kInvalidArgument naming the row and the
// constraint that fails:
//   - every row's counts sum to exactly 2^32;
//   - every v with a non-zero count has |v| <= D;
//   - for every original count i, each possible i + v is >= 0 and not in [1, js];
//   - count 0 always stays 0 (p_0(0) = 1);
//   - |Σ v·count| <= max_bias_numerator per row; and with kGeneralBeyond the general row is
//     symmetric (count(v) == count(-v)) with mean exactly 0.
absl::Status CheckPtable(const PtableSpec& spec);

class Ptable {
 public:
  // Checks the spec (CheckPtable) and builds the table.
  static absl::StatusOr<Ptable> Create(PtableSpec spec);

  // The deviation for an original count and a cell key. REQUIRES: count >= 0 (checked).
  std::int32_t Deviation(std::int64_t count, std::uint32_t cell_key) const;
  // count + Deviation(count, cell_key), saturating at the int64 range.
  std::int64_t Perturb(std::int64_t count, std::uint32_t cell_key) const;

  const PtableRow& RowFor(std::int64_t count) const;
  const PtableSpec& spec() const { return spec_; }
  const std::string& id() const { return spec_.id; }
  std::uint32_t version() const { return spec_.version; }

 private:
  explicit Ptable(PtableSpec spec) : spec_(std::move(spec)) {}
  PtableSpec spec_;
};

// Random rounding to base b as a ptable (§5.5): with r = i mod b, round down to i - r iff
// ck < 2^32 - round(r·2^32/b), else up to i + b - r. Unbiased up to rounding of the counts,
// variance r(b - r) (not r(b - r)/b as §5.5 says), D = b - 1, periodic rows.
// REQUIRES: 2 <= base <= 1000 (checked).
// id "round-<b>", version 1.
Ptable RandomRoundingPtable(std::int64_t base);

// The alternative rule set's table of §5.3: D = 3, V = 1, js = 2, rows for i = 1..5 as published
// (normalised, rounded to integer counts, the mean made exactly 0 by moving the rounding residue
// between two adjacent deviations) and the symmetric general row with the remainder on 0.
// id "ckm-d3-v1-js2", version 1: the counts are constants and never change within a version.
const Ptable& PtableD3V1Js2();

}  // namespace enclave::disclosure
