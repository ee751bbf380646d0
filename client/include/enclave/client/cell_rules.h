// Decoding a query-result log entry's per-cell rules (officer-only provenance) into the labels of
// the release's layout (issue 12).
//
// The enclave writes `cell_rules` as
//   rules{<rule-set parameters>} record_key{<key id>} counts{<count treatment>} cells{r1,r2,...}
// with one rule per cell of the release, in the order of the release's cells: dimensions vary
// slowest-first (each dimension's codes, then its total), the statistic fastest. Each rule is an
// id, optionally followed by its parameters in brackets ("threshold[T=10]",
// "share-denominator[share(100/10)]", "secondary[units/flags=1/lp-audit]").
//
//   absl::StatusOr<enclave::client::ReleaseLayout> layout =
//       client->DescribeLayout(leaf.template_id, enclave::client::SplitCanonicalParams(leaf.canonical_params));
//   absl::StatusOr<enclave::client::DecodedCellRules> d =
//       enclave::client::DecodeCellRules(leaf.cell_rules, *layout);
//   for (const auto& c : d->cells) if (c.withheld) std::cout << CellDescription(c, false) << "\n";
#pragma once

#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "enclave/client/client.h"

namespace enclave::client {

struct DecodedCell {
  std::vector<std::string> codes;  // per dimension ("total" for a margin)
  std::vector<Text> labels;        // per dimension
  std::size_t statistic_index = 0;
  StatisticInfo statistic;
  std::string rule;    // the rule id as the enclave wrote it
  std::string detail;  // its parameters (inside the brackets), "" when none
  Text explanation;    // plain language, e.g. "withheld, share denominator below 100"
  bool withheld = true;
  bool known = true;   // false: a rule id this client does not know (shown verbatim)
};

struct DecodedCellRules {
  std::string header;  // "rules{…} record_key{…} counts{…}"
  std::vector<DecodedCell> cells;  // in the release's cell order
};

// "a=1&b=x" -> {{"a","1"},{"b","x"}}; a piece without '=' is skipped (refusal entries of the
// audit service carry a range there, not parameters).
std::vector<std::pair<std::string, std::string>> SplitCanonicalParams(std::string_view canonical);

// kInvalidArgument when `cell_rules` is not of the form above; kFailedPrecondition naming both
// counts when the number of rules differs from the layout's number of cells (never a misaligned
// decode). An unknown rule id is decoded with known = false and the explanation
// "unknown rule '<id>' …" (withheld: an unknown rule is never taken for a release).
absl::StatusOr<DecodedCellRules> DecodeCellRules(std::string_view cell_rules,
                                                 const ReleaseLayout& layout);

// The explanation of one rule (nl and en) given its id, parameters and the header's counts{…}.
// `known` is set false for an id this client does not know.
Text ExplainRule(std::string_view rule, std::string_view detail, std::string_view counts,
                 bool* withheld, bool* known);

// "District 04 × Female (count): withheld, share denominator below 100" (nl: Dutch labels and
// explanation). With several statistics the statistic's label is added in parentheses.
std::string CellDescription(const DecodedCell& cell, bool dutch, bool with_statistic);

}  // namespace enclave::client
