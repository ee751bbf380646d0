// Binding a caller's parameters to a template: parse each text value against its declared type,
// check it against its domain, fill defaults, and produce the canonical form.
//
// Values are only ever *bound* to the SQL statement (as SQLite parameters), never spliced into it.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <variant>
#include <vector>

#include "absl/status/statusor.h"
#include "enclave/templates/template.h"

namespace enclave::templates {

using ParamValue = std::variant<std::int64_t, std::string>;

struct BoundParam {
  std::string name;
  ParamValue value;
};

struct BoundQuery {
  const Template* tmpl = nullptr;  // not owned; outlives the BoundQuery
  // Every declared parameter, sorted by name (the canonical form).
  std::vector<BoundParam> params;
  // The table's dimensions, in order: fixed dimensions, then those chosen by BREAKDOWN parameters
  // in declaration order. Pointers into *tmpl.
  std::vector<const Dimension*> dimensions;

  // "name=value" pairs joined by '&', sorted by name: the canonical parameter string.
  std::string CanonicalParams() const;
};

// Caller-supplied parameters are bounded before anything else looks at them (docs/analyst.md,
// "Limits"; enclavectl checks the same before sending, enclave/client/client.h): at most
// kMaxParameters parameters, names of at most kMaxParameterNameBytes bytes, values of at most
// kMaxParameterValueBytes bytes, all valid UTF-8. Every value a template accepts is far shorter
// (codes, integers, dates).
inline constexpr std::size_t kMaxParameters = 32;
inline constexpr std::size_t kMaxParameterNameBytes = 64;
inline constexpr std::size_t kMaxParameterValueBytes = 256;

// True when `text` is well-formed UTF-8 (no overlong forms, surrogates or code points above
// U+10FFFF).
bool IsValidUtf8(std::string_view text);

// kInvalidArgument, naming the parameter and what is allowed, when: there are more than
// kMaxParameters parameters; a name or value is longer than its limit or not valid UTF-8 (the
// message then shows no byte of it, only its length); a parameter is unknown, given
// twice, missing without a default, not of its type (e.g. "20x4" for an integer), outside its
// range or not one of its codes, or when two BREAKDOWN parameters pick the same dimension.
// Messages quote only the parameter's name and its declared domain, never the offending value
// beyond 64 characters.
absl::StatusOr<BoundQuery> Bind(const Template& t,
                                const std::vector<std::pair<std::string, std::string>>& raw);

}  // namespace enclave::templates
