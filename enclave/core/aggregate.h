// Aggregation and disclosure control inside the enclave: from unit-level rows to per-cell unit
// contributions (every margin included), then the disclosure pipeline of disclosure-control.md §2
// steps 4 and 6-9: primary rules, secondary suppression with the LP audit, cell-key perturbation,
// derived values and the assembled release. (Step 5, the differencing guard, runs in QueryService
// on the populations this returns, because it needs the project's history.)
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "enclave/core/ports.h"
#include "enclave/core/record_keys.h"
#include "enclave/core/release.h"
#include "enclave/disclosure/cell_key.h"
#include "enclave/disclosure/differencing.h"
#include "enclave/disclosure/lp_solver.h"
#include "enclave/disclosure/secondary.h"
#include "enclave/disclosure/threshold.h"

namespace enclave::core {

// What the disclosure step needs besides the rows. Every pointer and the key function are
// required (Finish fails closed with kInternal otherwise).
struct DisclosureTools {
  const disclosure::RuleSetParams* rules = nullptr;  // the effective rule set (template floors applied)
  UnitIndex* units = nullptr;                        // of the template's unit type
  // Of the template's disclosure.threshold_entity (T10: "enterprise"), when it declares one: the
  // guard's populations are then each cell's distinct entities (§6.1). Required with it.
  UnitIndex* entities = nullptr;
  disclosure::LpSolver* solver = nullptr;            // one per worker: not thread-safe
  // The integer check (§4.6) of tables whose LP bounds may not be integral (more than two
  // dimensions, a multi-valued dimension): its solver (one per worker) and time limits. Optional:
  // without integer.solver such a table with withheld cells is refused.
  disclosure::IntegerCheck integer;
  disclosure::MagnitudeKeyFn magnitude_key;          // crypto::RecordKeyer::MagnitudeKey
  disclosure::MagnitudeParams magnitude;             // §5.7 defaults: k = 2, w = (1, .5), m = .10
};

struct FinishedTable {
  Release release;
  // The populations the differencing guard and the decomposition quota see (§6.1, §6.2): every
  // cell of the table over its non-sensitive dimensions (templates::DisclosureSettings::
  // IsSensitiveDimension), margins and the whole filtered universe included, each with the
  // partitions of it the table shows (named by code lists: every non-empty set of the table's
  // dimensions at their total in that cell). Empty cells are left out. With a declared
  // disclosure.threshold_entity, each population is the cell's distinct entities plus one
  // identity element of its units (disclosure::EntityPopulation), to be guarded as such
  // (DifferencingGuard::CheckAndRecord's entity_noun).
  std::vector<disclosure::GuardedPopulation> populations;
  std::int64_t disclosure_micros = 0;  // the disclosure step alone (steps 4, 6-9)
};

// Accumulates rows for one bound query; feed it from MicrodataSource::Scan.
//
// Each unit contributes once per cell: its measure is the sum of its rows' measures in that cell
// and its flags are the OR of its rows' flags. A row whose dimension value is not in the
// dimension's code list is kInternal (fail closed; the value is not echoed).
class TableBuilder {
 public:
  explicit TableBuilder(const templates::BoundQuery& query);
  ~TableBuilder();
  TableBuilder(const TableBuilder&) = delete;
  TableBuilder& operator=(const TableBuilder&) = delete;

  absl::Status Add(const RowView& row);

  // Aggregates, applies the pipeline and assembles the release (data_version and rule set filled
  // from the arguments). Per statistic kind (disclosure/primary.h):
  //   COUNT     CountDecision; released counts through the rule set's one count treatment
  //             (cell-key random rounding to base lcm(rounding base, precision), or the ptable);
  //   SUM       MagnitudeDecision; PerturbMagnitude with the two largest contributions;
  //   MEAN      MeanOrMedian (only the mean is released here); mean = perturbed sum / released
  //             count (DerivedMean);
  //   QUANTILE  QuantileDecision; rounded to the precision, not perturbed;
  //   SHARE     ShareDecision; 100 (or the statistic's per, 1000) * released numerator /
  //             released denominator;
  //   RATIO     RatioDecision; 100 * perturbed numerator / perturbed denominator.
  //   SHARE_DIFFERENCE  from its two shares' released counts (disclosure/comparison.h); after
  //             secondary suppression a comparison (shares, differences, arm-size COUNTs) is
  //             withheld whole ("comparison") unless every part is released.
  // Secondary suppression (ProtectTable with the LP audit) runs per additive table: the unit
  // counts of one flag combination (COUNT, SHARE numerators) and the sums of one flag (SUM, MEAN);
  // every statistic on that table shares its pattern. Where the LP may overstate (more than two
  // dimensions, counting a hierarchy as one; a multi-valued dimension) the pattern is confirmed
  // by the integer check (tools.integer). A dimension declared multi_valued (a unit may lie in
  // several of its codes) enters the unit counts' audit as "code <= margin <= sum of codes";
  // sums stay additive; at most one such dimension per table with withheld counts. A table
  // dimension on one level of a
  // declared hierarchy (a code list with parent_list, and the other level among the template's
  // dimensions: wijk -> wijkcluster) is aggregated, ruled and protected as the full hierarchy
  // (both levels and the total), and only the requested level is released (§4.6): the wijk and
  // wijkcluster releases are slices of one pattern. A row whose parent column is not its child
  // code's parent is kInternal. Cell keys cover the units of each released
  // statistic. Errors (nothing may be released):
  //   kFailedPrecondition  "this table cannot be released safely ...": a table with primary
  //                        suppressions that cannot be protected (units in several codes of a
  //                        dimension not declared multi-valued, two multi-valued dimensions,
  //                        negative values, no integer solver where one is needed, no pattern,
  //                        a solver not optimal, the integer check out of time);
  //   kInternal            a unit outside the unit index, missing tools, a broken template.
  absl::StatusOr<FinishedTable> Finish(const DisclosureTools& tools,
                                       const std::string& data_version) &&;

 private:
  struct Impl;
  Impl* impl_;
};

}  // namespace enclave::core
