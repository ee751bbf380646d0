// Domain types → enclave.v1 messages. Pure functions, no network: tested offline.
//
// Only what a caller may see is marshalled. core::Release::provenance (which rule withheld a cell)
// is server-side only and never touched here; a confidential cell becomes `withheld = CONFIDENTIAL`
// with no value, whatever value the domain object might hold.
#pragma once

#include <string>

#include "absl/status/statusor.h"
#include "enclave/core/query_service.h"
#include "enclave/core/release.h"
#include "enclave/disclosure/threshold.h"
#include "enclave/templates/hints.h"
#include "enclave/templates/template.h"
#include "enclave/v1/service.pb.h"

namespace enclave::rpc {

// The notes every released table carries (nl/en).
inline constexpr char kTotalsNoteNl[] =
    "Totalen zijn berekend uit de microdata en hoeven niet gelijk te zijn aan de som van de "
    "vrijgegeven cellen";
inline constexpr char kTotalsNoteEn[] =
    "Totals are computed from the microdata and need not equal the sum of the released cells";
// Differentially private releases (treatment "DP_..."): totals are not from the microdata.
inline constexpr char kDpNoteNl[] =
    "Waarden bevatten ruis (differentiële privacy); totalen zijn sommen van de cellen met ruis "
    "eronder; een telling met ruis onder de drempel is geheim";
inline constexpr char kDpNoteEn[] =
    "Values are noisy (differential privacy); totals are sums of the noisy cells under them; a "
    "noisy count below the display threshold is confidential";
inline constexpr char kConfidentialNoteNl[] = "'.' = geheim";
inline constexpr char kConfidentialNoteEn[] = "'.' = confidential";

enclave::v1::TemplateSummary ToTemplateSummary(const templates::Template& tmpl);

// `rule_set` is the named rule set the template refers to, or null when the catalog has none of
// that name; it contributes the version ("cbs-default@1") and the floor of min_units.
enclave::v1::TemplateDescription ToTemplateDescription(const templates::Template& tmpl,
                                                       const disclosure::RuleSetParams* rule_set);

// The response for one release. kInternal (fail closed, nothing marshalled) when the release is
// inconsistent: no template, a released cell without a value, a coordinate or statistic index out
// of range.
absl::StatusOr<enclave::v1::RunQueryResponse> ToRunQueryResponse(const core::Release& release,
                                                                 const std::string& request_id);

// The same for a whole RunQuery outcome: also what a DP release charged (budget_charge) and the
// alternatives of an all-withheld table (suggestions).
absl::StatusOr<enclave::v1::RunQueryResponse> ToRunQueryResponse(const core::RunResult& result);

// DescribeTemplate's layout for a set of parameters (QueryService::DescribeLayout).
enclave::v1::ReleaseLayout ToReleaseLayout(const core::QueryService::Layout& layout);

void ToSuggestion(const templates::Suggestion& in, enclave::v1::Suggestion* out);
void ToBudgetCharge(const core::DpCharge& in, enclave::v1::BudgetCharge* out);

}  // namespace enclave::rpc
