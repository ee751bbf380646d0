// Alternatives to a request that could not give a usable table (issue 10 §4): the same request
// with a coarser geography, one breakdown fewer, or a neighbouring period. A pure function of the
// template and the request's bound parameters: it never sees data, so a suggestion says nothing
// about any count (the same request gets the same suggestions on every database).
//
//   std::vector<templates::Suggestion> s = templates::SuggestAlternatives(bound);
//   return templates::WithSuggestions(refusal, s);   // carried to the rpc layer as a payload
//
// Suggestions are structured (parameter changes), never prose: the client words them in the
// user's language.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "enclave/templates/binding.h"

namespace enclave::templates {

struct Suggestion {
  enum class Kind {
    // A hierarchical breakdown one level up (wijk -> wijkcluster), or the top level dropped
    // (wijkcluster -> geen: the whole municipality).
    kCoarserGeography,
    // A breakdown dropped ("geen").
    kFewerBreakdowns,
    // The period parameter at a neighbouring value (kPeriodParameters).
    kOtherPeriod,
  };
  Kind kind = Kind::kFewerBreakdowns;
  // The parameters to change, each with its new value; every other parameter stays as asked.
  std::vector<std::pair<std::string, std::string>> changes;

  bool operator==(const Suggestion&) const = default;
};

// Stable lower-case name: "coarser_geography", "fewer_breakdowns", "other_period".
const char* SuggestionKindName(Suggestion::Kind kind);

// Names of the parameters that select a table's period in the shipped templates
// (policies/README.md): a CODE parameter gets its neighbouring allowed codes, an INTEGER one its
// value minus and plus one within [min, max].
inline constexpr const char* kPeriodParameters[] = {"peildatum", "period", "start_period", "year"};

// In this order, and only suggestions whose parameters Bind accepts:
//  1. each BREAKDOWN parameter (in declaration order) whose value is one level of a hierarchy
//     (a code list with parent_list) and whose allowed values include the level above: that
//     level (kCoarserGeography); at the top level of such a hierarchy, "geen" when allowed
//     (kCoarserGeography);
//  2. each other BREAKDOWN parameter with a value other than "geen", dropped to "geen" when
//     allowed (kFewerBreakdowns);
//  3. the first period parameter: the previous, then the next value (kOtherPeriod).
// Fixed dimensions are never suggested away. Duplicates are dropped. Depends on `query.tmpl` and
// `query.params` only.
std::vector<Suggestion> SuggestAlternatives(const BoundQuery& query);

// The status with `suggestions` attached as a payload (kSuggestionsPayload); the status itself
// unchanged when there are none or it is OK.
absl::Status WithSuggestions(absl::Status status, const std::vector<Suggestion>& suggestions);

// The suggestions a status carries; empty when it carries none or the payload is malformed.
std::vector<Suggestion> SuggestionsOf(const absl::Status& status);

// The payload's type URL (an internal name between core and rpc; never on the wire).
inline constexpr char kSuggestionsPayload[] = "enclave.internal/suggestions";

// The payload's text: one line per suggestion, "kind\tname=value\tname=value", names and values
// percent-encoded. Decode returns nullopt for malformed text.
std::string EncodeSuggestions(const std::vector<Suggestion>& suggestions);
std::optional<std::vector<Suggestion>> DecodeSuggestions(std::string_view text);

}  // namespace enclave::templates
