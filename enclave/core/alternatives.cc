// Alternatives on refusals and all-withheld releases (templates/hints.h).
#include "enclave/core/alternatives.h"

#include <algorithm>

#include "absl/status/status.h"
#include "enclave/templates/binding.h"
#include "enclave/templates/hints.h"

namespace enclave::core {

bool AllInnerCellsWithheld(const Release& release) {
  bool any_inner = false;
  for (const ReleasedCell& cell : release.cells) {
    bool inner = true;
    for (std::size_t d = 0; d < cell.coordinates.size() && d < release.dimensions.size(); ++d) {
      const auto& codes = release.dimensions[d].codes;
      if (cell.coordinates[d] >= codes.size() || codes[cell.coordinates[d]].is_total) {
        inner = false;
        break;
      }
    }
    if (!inner) continue;
    any_inner = true;
    if (cell.status == disclosure::CellStatus::kReleased) return false;
  }
  return any_inner;
}

absl::StatusOr<RunResult> AddAlternatives(
    const templates::Template* tmpl,
    const std::vector<std::pair<std::string, std::string>>& params,
    absl::StatusOr<RunResult> outcome) {
  if (tmpl == nullptr) return outcome;
  const bool refused = !outcome.ok() && absl::IsFailedPrecondition(outcome.status()) &&
                       !tmpl->dp.has_value();
  const bool empty = outcome.ok() && AllInnerCellsWithheld(outcome->release);
  if (!refused && !empty) return outcome;
  absl::StatusOr<templates::BoundQuery> bound = templates::Bind(*tmpl, params);
  if (!bound.ok()) return outcome;
  std::vector<templates::Suggestion> suggestions = templates::SuggestAlternatives(*bound);
  if (refused) return templates::WithSuggestions(outcome.status(), suggestions);
  outcome->suggestions = std::move(suggestions);
  return outcome;
}

}  // namespace enclave::core
