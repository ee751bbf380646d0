// Binding caller parameters to a template: typed, range-checked, defaults filled, canonical order.
#include "enclave/templates/binding.h"

#include <algorithm>
#include <charconv>
#include <map>
#include <optional>
#include <string_view>
#include <system_error>

namespace enclave::templates {
namespace {

std::string JoinCodes(const std::vector<Code>& codes) {
  std::string out;
  for (const Code& c : codes) {
    if (!out.empty()) out += ", ";
    out += c.code;
  }
  return out;
}

std::string JoinParamNames(const Template& t) {
  std::string out;
  for (const ParamSpec& p : t.params) {
    if (!out.empty()) out += ", ";
    out += p.name;
  }
  return out.empty() ? std::string("(none)") : out;
}

std::string DomainText(const ParamSpec& spec) {
  switch (spec.type) {
    case ParamType::kInteger:
      return "must be an integer from " + std::to_string(spec.min) + " to " +
             std::to_string(spec.max);
    case ParamType::kCode:
    case ParamType::kBreakdown:
      return "must be one of " + JoinCodes(spec.allowed);
  }
  return "has an unknown type";
}

absl::Status ParamError(const std::string& name, const std::string& what) {
  return absl::InvalidArgumentError("parameter '" + name + "': " + what);
}

std::optional<std::int64_t> ParseInteger(std::string_view text) {
  std::int64_t value = 0;
  const char* first = text.data();
  const char* last = text.data() + text.size();
  if (text.empty()) return std::nullopt;
  auto [ptr, ec] = std::from_chars(first, last, value);
  if (ec != std::errc() || ptr != last) return std::nullopt;
  return value;
}

bool IsAllowedCode(const ParamSpec& spec, const std::string& value) {
  return std::any_of(spec.allowed.begin(), spec.allowed.end(),
                     [&](const Code& c) { return c.code == value; });
}

// The request-shape limits of binding.h: checked before names and values are looked at, so a
// message never quotes an over-long or malformed name.
absl::Status CheckShape(const Template& t,
                        const std::vector<std::pair<std::string, std::string>>& raw) {
  if (raw.size() > kMaxParameters) {
    return absl::InvalidArgumentError(
        "too many parameters (" + std::to_string(raw.size()) + "); allowed: at most " +
        std::to_string(kMaxParameters) + ", one per parameter name: " + JoinParamNames(t));
  }
  for (const auto& [name, value] : raw) {
    // An over-long name is refused for its length alone: the message must not depend on bytes
    // beyond the limit (fuzz/template_bind checks it).
    const bool too_long = name.size() > kMaxParameterNameBytes;
    if (too_long || !IsValidUtf8(name)) {
      return absl::InvalidArgumentError(
          "a parameter name of " + std::to_string(name.size()) + " bytes" +
          (too_long ? std::string() : std::string(" that is not valid UTF-8")) +
          "; allowed: a name of at most " + std::to_string(kMaxParameterNameBytes) +
          " bytes of UTF-8, one of: " + JoinParamNames(t));
    }
    const ParamSpec* spec = t.FindParam(name);
    const std::string domain = spec != nullptr ? "; it " + DomainText(*spec) : std::string();
    if (value.size() > kMaxParameterValueBytes) {
      return ParamError(name, "the value is " + std::to_string(value.size()) +
                                  " bytes long; allowed: at most " +
                                  std::to_string(kMaxParameterValueBytes) + " bytes" + domain);
    }
    if (!IsValidUtf8(value)) {
      return ParamError(name, "the value is not valid UTF-8; allowed: UTF-8 text of at most " +
                                  std::to_string(kMaxParameterValueBytes) + " bytes" + domain);
    }
  }
  return absl::OkStatus();
}

}  // namespace

bool IsValidUtf8(std::string_view text) {
  const auto* p = reinterpret_cast<const unsigned char*>(text.data());
  const unsigned char* end = p + text.size();
  while (p < end) {
    const unsigned char c = *p;
    if (c < 0x80) {
      ++p;
      continue;
    }
    int extra = 0;
    std::uint32_t cp = 0;
    if (c >= 0xC2 && c <= 0xDF) {
      extra = 1;
      cp = c & 0x1FU;
    } else if (c >= 0xE0 && c <= 0xEF) {
      extra = 2;
      cp = c & 0x0FU;
    } else if (c >= 0xF0 && c <= 0xF4) {
      extra = 3;
      cp = c & 0x07U;
    } else {
      return false;  // a continuation byte first, an overlong lead (C0, C1) or above F4
    }
    if (end - p <= extra) return false;
    for (int i = 1; i <= extra; ++i) {
      if ((p[i] & 0xC0U) != 0x80U) return false;
      cp = (cp << 6U) | (p[i] & 0x3FU);
    }
    if ((extra == 2 && cp < 0x800) || (extra == 3 && (cp < 0x10000 || cp > 0x10FFFF)) ||
        (cp >= 0xD800 && cp <= 0xDFFF)) {
      return false;  // overlong, out of range, or a surrogate
    }
    p += extra + 1;
  }
  return true;
}

std::string BoundQuery::CanonicalParams() const {
  std::string out;
  for (const BoundParam& p : params) {
    if (!out.empty()) out += '&';
    out += p.name;
    out += '=';
    if (const auto* i = std::get_if<std::int64_t>(&p.value)) {
      out += std::to_string(*i);
    } else {
      out += std::get<std::string>(p.value);
    }
  }
  return out;
}

absl::StatusOr<BoundQuery> Bind(const Template& t,
                                const std::vector<std::pair<std::string, std::string>>& raw) {
  if (absl::Status shape = CheckShape(t, raw); !shape.ok()) return shape;
  // Names are checked before values, so an unknown name is reported even beside a bad value.
  std::map<std::string, const std::string*> given;
  for (const auto& [name, value] : raw) {
    if (t.FindParam(name) == nullptr) {
      std::string shown = name.size() > 64 ? name.substr(0, 64) + "..." : name;
      return ParamError(shown, "unknown parameter; allowed parameters: " + JoinParamNames(t));
    }
    if (!given.emplace(name, &value).second) {
      return ParamError(name, "given more than once");
    }
  }

  BoundQuery query;
  query.tmpl = &t;
  for (const std::string& fixed : t.fixed_dimensions) {
    const Dimension* d = t.FindDimension(fixed);
    if (d == nullptr) {
      return absl::FailedPreconditionError("template '" + t.id + "': fixed dimension '" + fixed +
                                           "' is not declared");
    }
    query.dimensions.push_back(d);
  }
  std::map<std::string, std::string> chosen_by;  // dimension name -> parameter that chose it
  for (const std::string& fixed : t.fixed_dimensions) chosen_by.emplace(fixed, std::string());

  for (const ParamSpec& spec : t.params) {
    const std::string* text = nullptr;
    if (auto it = given.find(spec.name); it != given.end()) {
      text = it->second;
    } else if (spec.default_value.has_value()) {
      text = &*spec.default_value;
    } else {
      return ParamError(spec.name, "is required (no default); it " + DomainText(spec));
    }

    switch (spec.type) {
      case ParamType::kInteger: {
        std::optional<std::int64_t> v = ParseInteger(*text);
        if (!v.has_value() || *v < spec.min || *v > spec.max) {
          return ParamError(spec.name, DomainText(spec));
        }
        query.params.push_back({spec.name, *v});
        break;
      }
      case ParamType::kCode: {
        if (!IsAllowedCode(spec, *text)) return ParamError(spec.name, DomainText(spec));
        query.params.push_back({spec.name, *text});
        break;
      }
      case ParamType::kBreakdown: {
        if (!IsAllowedCode(spec, *text)) return ParamError(spec.name, DomainText(spec));
        query.params.push_back({spec.name, *text});
        if (*text == kNoBreakdown) break;
        const Dimension* d = t.FindDimension(*text);
        if (d == nullptr) {
          return absl::FailedPreconditionError("template '" + t.id + "': parameter '" +
                                               spec.name + "' names an undeclared dimension");
        }
        auto [it, inserted] = chosen_by.emplace(d->name, spec.name);
        if (!inserted) {
          if (it->second.empty()) {
            return ParamError(spec.name, "dimension '" + d->name +
                                             "' is always in the table; choose another "
                                             "breakdown or " + kNoBreakdown);
          }
          return ParamError(spec.name, "selects dimension '" + d->name +
                                           "', which parameter '" + it->second +
                                           "' already selects; choose different dimensions");
        }
        query.dimensions.push_back(d);
        break;
      }
    }
  }

  std::sort(query.params.begin(), query.params.end(),
            [](const BoundParam& a, const BoundParam& b) { return a.name < b.name; });
  return query;
}

}  // namespace enclave::templates
