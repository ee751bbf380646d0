// Alternatives to a refused or all-withheld request, from the template and parameters only.
#include "enclave/templates/hints.h"

#include <algorithm>
#include <cstdint>
#include <string_view>
#include <variant>

#include "absl/strings/cord.h"

namespace enclave::templates {
namespace {

using Params = std::vector<std::pair<std::string, std::string>>;

std::string ValueText(const ParamValue& value) {
  if (const auto* i = std::get_if<std::int64_t>(&value)) return std::to_string(*i);
  return std::get<std::string>(value);
}

bool Allows(const ParamSpec& spec, const std::string& code) {
  return std::any_of(spec.allowed.begin(), spec.allowed.end(),
                     [&](const Code& c) { return c.code == code; });
}

// The template dimension whose code list is `list`, or null.
const Dimension* DimensionWithList(const Template& t, const std::string& list) {
  if (list.empty()) return nullptr;
  for (const Dimension& d : t.dimensions) {
    if (d.codes.name == list) return &d;
  }
  return nullptr;
}

// True when another dimension of the template names `d`'s code list as its parent level.
bool IsTopOfHierarchy(const Template& t, const Dimension& d) {
  return d.codes.parent_list.empty() &&
         std::any_of(t.dimensions.begin(), t.dimensions.end(), [&](const Dimension& e) {
           return &e != &d && e.codes.parent_list == d.codes.name;
         });
}

bool IsPeriodParameter(const std::string& name) {
  return std::any_of(std::begin(kPeriodParameters), std::end(kPeriodParameters),
                     [&](const char* p) { return name == p; });
}

// Percent-encoding of everything but [A-Za-z0-9._-], so that no value can hold a separator.
std::string Escape(std::string_view s) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  for (const char c : s) {
    const auto u = static_cast<unsigned char>(c);
    if ((u >= 'A' && u <= 'Z') || (u >= 'a' && u <= 'z') || (u >= '0' && u <= '9') || c == '.' ||
        c == '_' || c == '-') {
      out.push_back(c);
    } else {
      out.push_back('%');
      out.push_back(kHex[u >> 4]);
      out.push_back(kHex[u & 0x0f]);
    }
  }
  return out;
}

int HexDigit(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

std::optional<std::string> Unescape(std::string_view s) {
  std::string out;
  for (std::size_t i = 0; i < s.size(); ++i) {
    if (s[i] != '%') {
      out.push_back(s[i]);
      continue;
    }
    if (i + 2 >= s.size()) return std::nullopt;
    const int hi = HexDigit(s[i + 1]);
    const int lo = HexDigit(s[i + 2]);
    if (hi < 0 || lo < 0) return std::nullopt;
    out.push_back(static_cast<char>(hi * 16 + lo));
    i += 2;
  }
  return out;
}

std::optional<Suggestion::Kind> KindFromName(std::string_view name) {
  for (Suggestion::Kind k : {Suggestion::Kind::kCoarserGeography, Suggestion::Kind::kFewerBreakdowns,
                             Suggestion::Kind::kOtherPeriod}) {
    if (name == SuggestionKindName(k)) return k;
  }
  return std::nullopt;
}

}  // namespace

const char* SuggestionKindName(Suggestion::Kind kind) {
  switch (kind) {
    case Suggestion::Kind::kCoarserGeography:
      return "coarser_geography";
    case Suggestion::Kind::kFewerBreakdowns:
      return "fewer_breakdowns";
    case Suggestion::Kind::kOtherPeriod:
      return "other_period";
  }
  return "unknown";
}

std::vector<Suggestion> SuggestAlternatives(const BoundQuery& query) {
  std::vector<Suggestion> out;
  if (query.tmpl == nullptr) return out;
  const Template& t = *query.tmpl;
  // The request as text, in canonical order.
  Params asked;
  for (const BoundParam& p : query.params) asked.emplace_back(p.name, ValueText(p.value));
  auto current = [&](const std::string& name) -> const std::string* {
    for (const auto& [n, v] : asked) {
      if (n == name) return &v;
    }
    return nullptr;
  };
  // Adds the suggestion if it changes something, is new, and binds.
  auto offer = [&](Suggestion::Kind kind, const std::string& name, const std::string& value) {
    const std::string* now = current(name);
    if (now == nullptr || *now == value) return;
    Suggestion s{kind, {{name, value}}};
    for (const Suggestion& have : out) {
      if (have.changes == s.changes) return;
    }
    Params changed = asked;
    for (auto& [n, v] : changed) {
      if (n == name) v = value;
    }
    if (!Bind(t, changed).ok()) return;
    out.push_back(std::move(s));
  };

  // 1. Coarser levels of hierarchical breakdowns; 2. other breakdowns dropped.
  std::vector<std::pair<const ParamSpec*, std::string>> drops;
  for (const ParamSpec& spec : t.params) {
    if (spec.type != ParamType::kBreakdown) continue;
    const std::string* value = current(spec.name);
    if (value == nullptr || *value == kNoBreakdown) continue;
    const Dimension* d = t.FindDimension(*value);
    if (d == nullptr) continue;
    if (const Dimension* up = DimensionWithList(t, d->codes.parent_list);
        up != nullptr && Allows(spec, up->name)) {
      offer(Suggestion::Kind::kCoarserGeography, spec.name, up->name);
    } else if (IsTopOfHierarchy(t, *d) && Allows(spec, kNoBreakdown)) {
      offer(Suggestion::Kind::kCoarserGeography, spec.name, kNoBreakdown);
    } else if (Allows(spec, kNoBreakdown)) {
      drops.emplace_back(&spec, kNoBreakdown);
    }
  }
  for (const auto& [spec, value] : drops) {
    offer(Suggestion::Kind::kFewerBreakdowns, spec->name, value);
  }

  // 3. A neighbouring period.
  for (const ParamSpec& spec : t.params) {
    if (!IsPeriodParameter(spec.name)) continue;
    const std::string* value = current(spec.name);
    if (value == nullptr) break;
    if (spec.type == ParamType::kCode) {
      for (std::size_t i = 0; i < spec.allowed.size(); ++i) {
        if (spec.allowed[i].code != *value) continue;
        if (i > 0) offer(Suggestion::Kind::kOtherPeriod, spec.name, spec.allowed[i - 1].code);
        if (i + 1 < spec.allowed.size()) {
          offer(Suggestion::Kind::kOtherPeriod, spec.name, spec.allowed[i + 1].code);
        }
        break;
      }
    } else if (spec.type == ParamType::kInteger) {
      for (const BoundParam& p : query.params) {
        const auto* v = std::get_if<std::int64_t>(&p.value);
        if (p.name != spec.name || v == nullptr) continue;
        if (*v > spec.min) offer(Suggestion::Kind::kOtherPeriod, spec.name, std::to_string(*v - 1));
        if (*v < spec.max) offer(Suggestion::Kind::kOtherPeriod, spec.name, std::to_string(*v + 1));
      }
    }
    break;  // the first period parameter only
  }
  return out;
}

std::string EncodeSuggestions(const std::vector<Suggestion>& suggestions) {
  std::string out;
  for (const Suggestion& s : suggestions) {
    out += SuggestionKindName(s.kind);
    for (const auto& [name, value] : s.changes) {
      out += '\t';
      out += Escape(name);
      out += '=';
      out += Escape(value);
    }
    out += '\n';
  }
  return out;
}

std::optional<std::vector<Suggestion>> DecodeSuggestions(std::string_view text) {
  std::vector<Suggestion> out;
  while (!text.empty()) {
    const std::size_t nl = text.find('\n');
    if (nl == std::string_view::npos) return std::nullopt;
    std::string_view line = text.substr(0, nl);
    text.remove_prefix(nl + 1);
    const std::size_t tab = line.find('\t');
    const std::optional<Suggestion::Kind> kind = KindFromName(line.substr(0, tab));
    if (!kind.has_value() || tab == std::string_view::npos) return std::nullopt;
    Suggestion s;
    s.kind = *kind;
    line.remove_prefix(tab + 1);
    for (;;) {
      const std::size_t next = line.find('\t');
      const std::string_view field = line.substr(0, next);
      const std::size_t eq = field.find('=');
      if (eq == std::string_view::npos || eq == 0) return std::nullopt;
      std::optional<std::string> name = Unescape(field.substr(0, eq));
      std::optional<std::string> value = Unescape(field.substr(eq + 1));
      if (!name.has_value() || !value.has_value()) return std::nullopt;
      s.changes.emplace_back(*std::move(name), *std::move(value));
      if (next == std::string_view::npos) break;
      line.remove_prefix(next + 1);
    }
    out.push_back(std::move(s));
  }
  return out;
}

absl::Status WithSuggestions(absl::Status status, const std::vector<Suggestion>& suggestions) {
  if (status.ok() || suggestions.empty()) return status;
  status.SetPayload(kSuggestionsPayload, absl::Cord(EncodeSuggestions(suggestions)));
  return status;
}

std::vector<Suggestion> SuggestionsOf(const absl::Status& status) {
  const auto payload = status.GetPayload(kSuggestionsPayload);
  if (!payload.has_value()) return {};
  std::optional<std::vector<Suggestion>> decoded = DecodeSuggestions(std::string(*payload));
  return decoded.has_value() ? *std::move(decoded) : std::vector<Suggestion>{};
}

}  // namespace enclave::templates
