// The same aggregation as the enclave's, done by plain SQLite over a template's own unit-level SQL:
// exact distinct-unit counts for every cell, margins included. Tests use it as an independent
// truth; the benchmark uses it as its baseline.
#pragma once

#include <cstdint>
#include <map>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "enclave/templates/binding.h"

namespace enclave::testing {

using CellCounts = std::map<std::vector<std::uint32_t>, std::int64_t>;

// Keys are cell coordinates as in a Release (a dimension's total = its number of codes). Cells
// with no units are absent. `flag` restricts to rows whose flag column is 1 (empty: all rows).
absl::StatusOr<CellCounts> IndependentCounts(const std::string& db_path,
                                             const templates::BoundQuery& q,
                                             const std::string& flag);

// Per cell (margins included, coordinates as above): the units in it and how many of them have
// `flag` (all of them when empty). Cells with no units are absent. For the differencing attack,
// which compares the populations of two releases.
struct CellUnitSet {
  std::set<std::string> units;
  std::int64_t flagged = 0;
};
using CellUnitSets = std::map<std::vector<std::uint32_t>, CellUnitSet>;
absl::StatusOr<CellUnitSets> IndependentCellUnits(const std::string& db_path,
                                                  const templates::BoundQuery& q,
                                                  const std::string& flag);
// Each unit the template's own SQL returns (bound as `q`), with its dimension codes in the
// template's dimension order: what decides the unit set of every cell and margin of any table of
// the template. kInternal when one unit's rows disagree about a code.
using UnitCodes = std::map<std::string, std::vector<std::string>>;
absl::StatusOr<UnitCodes> UnitDimensionCodes(const std::string& db_path,
                                             const templates::BoundQuery& q);

// T10 (event_impact_pin) per (winkelgebied, sector_group), computed with plain SQL straight from
// vestiging, ref_sbi, pin_dag and evenement (SQLite's own date functions, not the template's SQL
// nor the derived d_dag): the panel (vestigingen of the four sector groups with any PIN row), the
// vestigingen with PIN rows in the window and in the baseline, and the two weighted sums.
struct PinCellTruth {
  std::int64_t panel = 0;
  std::int64_t window_units = 0;
  std::int64_t baseline_units = 0;
  std::int64_t window_sum = 0;
  std::int64_t baseline_sum = 0;
};
using PinTruth = std::map<std::pair<std::string, std::string>, PinCellTruth>;
absl::StatusOr<PinTruth> EventImpactTruth(const std::string& db_path, const std::string& event_id,
                                          const std::string& window, const std::string& baseline,
                                          const std::string& measure);

}  // namespace enclave::testing
