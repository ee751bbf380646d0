// What would work instead (issue 10 §4): the alternatives a RunQuery outcome carries when it gave
// nothing usable. From the template and the request's parameters only (templates/hints.h): the
// same request on any database gets the same alternatives, so they say nothing about counts.
#pragma once

#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "enclave/core/query_service.h"
#include "enclave/templates/template.h"

namespace enclave::core {

// True when the release has cells and every inner cell (no coordinate on a total) of every
// statistic is withheld; a table without dimensions counts its one cell as inner.
bool AllInnerCellsWithheld(const Release& release);

// `outcome` with alternatives attached:
//  - a kFailedPrecondition refusal of a template without differential privacy (the table cannot
//    be released safely, or the differencing guard or decomposition quota refuses it):
//    templates::WithSuggestions;
//  - a release whose inner cells are all withheld: RunResult::suggestions.
// Anything else, an unknown template (`tmpl` null) or parameters that do not bind, is returned
// unchanged.
absl::StatusOr<RunResult> AddAlternatives(
    const templates::Template* tmpl,
    const std::vector<std::pair<std::string, std::string>>& params,
    absl::StatusOr<RunResult> outcome);

}  // namespace enclave::core
