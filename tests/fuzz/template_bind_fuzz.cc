// Parameter binding (enclave/templates/binding.h) over the shipped templates (policies/), and the
// suggestions derived from a bound request (hints.h). Input: the first byte picks a template, the
// rest is "name=value" lines (the caller's --param pairs; values are any bytes but a newline).
// Properties:
//   - an accepted binding has every declared parameter once, sorted, each within its type and
//     domain, and at most kMaxDimensions dimensions; binding its canonical values again gives the
//     same canonical form;
//   - a refusal is INVALID_ARGUMENT with a message that does not depend on a caller's name or value
//     beyond its 64th byte (binding.h: never the offending value beyond 64 characters);
//   - every suggestion binds (hints.h promises only suggestions Bind accepts) and survives the
//     payload encoding; DecodeSuggestions never crashes on the input and round-trips what it reads.
#include <algorithm>
#include <charconv>
#include <cstdlib>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "enclave/adapters/policy_files/loader.h"
#include "enclave/templates/binding.h"
#include "enclave/templates/hints.h"
#include "enclave/templates/validate.h"
#include "tests/fuzz/fuzz_common.h"

namespace {

namespace templates = enclave::templates;
using Pairs = std::vector<std::pair<std::string, std::string>>;

struct Catalog {
  std::vector<templates::Template> templates;
};

const Catalog& GetCatalog() {
  static const Catalog* catalog = [] {
    absl::StatusOr<enclave::adapters::policy_files::LoadedPolicies> loaded =
        enclave::adapters::policy_files::LoadPolicies(ENCLAVE_SOURCE_DIR "/policies", nullptr);
    FUZZ_CHECK(loaded.ok(), loaded.status().ToString());
    auto* c = new Catalog{loaded->catalog->templates};
    FUZZ_CHECK(!c->templates.empty(), "no templates in policies/");
    for (const templates::Template& t : c->templates) {
      for (const templates::ParamSpec& p : t.params) {
        FUZZ_CHECK(p.name.size() <= 64, "a declared parameter name longer than 64 bytes");
        for (const templates::Code& code : p.allowed) {
          FUZZ_CHECK(code.code.size() <= 64, "an allowed code longer than 64 bytes");
        }
      }
    }
    return c;
  }();
  return *catalog;
}

std::string ValueText(const templates::ParamValue& v) {
  if (const auto* i = std::get_if<std::int64_t>(&v)) return std::to_string(*i);
  return std::get<std::string>(v);
}

Pairs PairsOf(const templates::BoundQuery& q) {
  Pairs out;
  for (const templates::BoundParam& p : q.params) out.emplace_back(p.name, ValueText(p.value));
  return out;
}

void CheckAccepted(const templates::Template& t, const templates::BoundQuery& q) {
  FUZZ_CHECK(q.tmpl == &t, "bound to another template");
  FUZZ_CHECK(q.params.size() == t.params.size(), "not every declared parameter is bound");
  for (std::size_t i = 0; i < q.params.size(); ++i) {
    FUZZ_CHECK(i == 0 || q.params[i - 1].name < q.params[i].name, "parameters not sorted/unique");
    const templates::ParamSpec* spec = t.FindParam(q.params[i].name);
    FUZZ_CHECK(spec != nullptr, "bound an undeclared parameter");
    if (spec->type == templates::ParamType::kInteger) {
      const auto* v = std::get_if<std::int64_t>(&q.params[i].value);
      FUZZ_CHECK(v != nullptr && *v >= spec->min && *v <= spec->max, "integer outside its range");
    } else {
      const auto* v = std::get_if<std::string>(&q.params[i].value);
      FUZZ_CHECK(v != nullptr && std::any_of(spec->allowed.begin(), spec->allowed.end(),
                                             [&](const templates::Code& c) { return c.code == *v; }),
                 "code outside its domain");
    }
  }
  FUZZ_CHECK(q.dimensions.size() <= templates::kMaxDimensions, "too many dimensions");
  absl::StatusOr<templates::BoundQuery> again = templates::Bind(t, PairsOf(q));
  FUZZ_CHECK(again.ok(), "the canonical values do not bind: " + again.status().ToString());
  FUZZ_CHECK(again->CanonicalParams() == q.CanonicalParams(), "the canonical form is not stable");
  FUZZ_CHECK(again->dimensions == q.dimensions, "the canonical values choose other dimensions");
}

// True if `text` binds as the integer parameter `spec` (then changing it may change the verdict).
bool ValidInteger(const templates::ParamSpec& spec, const std::string& text) {
  std::int64_t v = 0;
  const auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
  return ec == std::errc() && ptr == text.data() + text.size() && v >= spec.min && v <= spec.max;
}

// A refusal is INVALID_ARGUMENT with a message, and never depends on the bytes of a caller's name
// or value beyond the 64th: changing them (keeping the verdict) must give the same message. (A
// substring check would not do: the fuzzer writes names that contain the message's own text.)
void CheckRefused(const templates::Template& t, const absl::Status& s, const Pairs& raw) {
  FUZZ_CHECK(s.code() == absl::StatusCode::kInvalidArgument, "not INVALID_ARGUMENT: " + s.ToString());
  FUZZ_CHECK(!s.message().empty(), "a refusal without a message");
  for (std::size_t i = 0; i < raw.size(); ++i) {
    for (const bool value : {false, true}) {
      const std::string& text = value ? raw[i].second : raw[i].first;
      if (text.size() <= 64) continue;
      // A long name is never declared (all are shorter), so it stays unknown; a long value never
      // is a code, but may be a zero-padded integer, which the edit would make invalid.
      const templates::ParamSpec* spec = t.FindParam(raw[i].first);
      if (value && spec != nullptr && spec->type == templates::ParamType::kInteger &&
          ValidInteger(*spec, text)) {
        continue;
      }
      Pairs edited = raw;
      std::string& e = value ? edited[i].second : edited[i].first;
      for (std::size_t k = 64; k < e.size(); ++k) e[k] = e[k] == 'x' ? 'y' : 'x';
      absl::StatusOr<templates::BoundQuery> again = templates::Bind(t, edited);
      FUZZ_CHECK(!again.ok() && again.status().message() == s.message(),
                 std::string("a refusal depends on the bytes beyond the 64th of a caller's ") +
                     (value ? "value" : "name") + " (" + std::to_string(text.size()) + " bytes)");
    }
  }
}

void CheckSuggestions(const templates::Template& t, const templates::BoundQuery& q) {
  const std::vector<templates::Suggestion> suggestions = templates::SuggestAlternatives(q);
  for (const templates::Suggestion& s : suggestions) {
    Pairs changed = PairsOf(q);
    for (const auto& change : s.changes) {
      auto it = std::find_if(changed.begin(), changed.end(),
                             [&](const auto& p) { return p.first == change.first; });
      FUZZ_CHECK(it != changed.end(), "a suggestion changes an undeclared parameter");
      it->second = change.second;
    }
    absl::StatusOr<templates::BoundQuery> b = templates::Bind(t, changed);
    FUZZ_CHECK(b.ok(), std::string("a ") + templates::SuggestionKindName(s.kind) +
                           " suggestion does not bind: " + b.status().ToString());
    FUZZ_CHECK(b->CanonicalParams() != q.CanonicalParams(), "a suggestion changes nothing");
  }
  const std::optional<std::vector<templates::Suggestion>> back =
      templates::DecodeSuggestions(templates::EncodeSuggestions(suggestions));
  FUZZ_CHECK(back.has_value() && *back == suggestions, "suggestions do not survive the payload");
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) return 0;
  const Catalog& catalog = GetCatalog();
  const std::size_t which = data[0] % catalog.templates.size();
  const templates::Template& t = catalog.templates[which];
  const std::string_view text(reinterpret_cast<const char*>(data) + 1, size - 1);

  Pairs raw;
  for (std::size_t start = 0; start < text.size();) {
    std::size_t end = text.find('\n', start);
    if (end == std::string_view::npos) end = text.size();
    const std::string_view line = text.substr(start, end - start);
    const std::size_t eq = line.find('=');
    raw.emplace_back(line.substr(0, eq), eq == std::string_view::npos ? "" : line.substr(eq + 1));
    start = end + 1;
  }

  absl::StatusOr<templates::BoundQuery> bound = templates::Bind(t, raw);
  enclave::fuzz::Say("Bind " + t.id, bound.ok() ? bound->CanonicalParams() : bound.status().ToString());
  if (bound.ok()) {
    CheckAccepted(t, *bound);
    CheckSuggestions(t, *bound);
  } else {
    CheckRefused(t, bound.status(), raw);
  }

  // The same text as a suggestions payload (internal between core and rpc, but parsed).
  if (std::optional<std::vector<templates::Suggestion>> s = templates::DecodeSuggestions(text)) {
    const std::optional<std::vector<templates::Suggestion>> back =
        templates::DecodeSuggestions(templates::EncodeSuggestions(*s));
    FUZZ_CHECK(back.has_value() && *back == *s, "decoded suggestions do not round-trip");
  }
  return 0;
}
