// Structural checks on a template that need no database: anything that could let a template
// release record-level rows, or that is inconsistent, is an error naming the field and the problem.
#pragma once

#include <string>
#include <vector>

#include "absl/status/status.h"
#include "enclave/templates/template.h"

namespace enclave::templates {

// The smallest min_units any template may declare.
inline constexpr std::int64_t kMinUnitsFloor = 10;
// The most dimensions one table may have (geography plus two breakdowns).
inline constexpr std::size_t kMaxDimensions = 3;

struct TemplateProblem {
  std::string field;    // e.g. "statistic[2].flag", "parameter[year].max"
  std::string message;  // what is wrong and what is allowed
};

// Returns every problem found (empty = valid). Checks, among others: id and version present;
// every dimension has a non-empty code list and its column is not the unit column; every
// statistic is COUNT/SUM/MEAN/QUANTILE/SHARE with the inputs it needs (no min/max/list, which
// would release one unit's value); flags and measure are declared columns; parameters are typed
// with a non-empty domain; BREAKDOWN values name declared dimensions; at most kMaxDimensions per
// table; min_units >= kMinUnitsFloor; the SQL text uses only declared :parameters.
std::vector<TemplateProblem> Validate(const Template& t);

}  // namespace enclave::templates
