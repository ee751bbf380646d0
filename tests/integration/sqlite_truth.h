// The same aggregation as the enclave's, done by plain SQLite over a template's own unit-level SQL:
// exact distinct-unit counts for every cell, margins included. Tests use it as an independent
// truth; the benchmark uses it as its baseline.
#pragma once

#include <cstdint>
#include <map>
#include <set>
#include <string>
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

}  // namespace enclave::testing
