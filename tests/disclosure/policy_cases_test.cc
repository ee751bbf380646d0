// Data-driven primary-rule cases in tests/policy_cases/<rule>/*.textproto, so that privacy
// officers can add and review cases without C++. The format is a flat subset of protobuf text
// format, one `key: value` per line, `#` comments; repeated keys (top_abs) repeat the line:
//
//   # name: Handbook example 1: (1,50) passes at equality, the p% rule fails
//   rule_set: "cbs-default"          # cbs-default, cbs-business or cbs-income (rule_set.h presets)
//   check: MAGNITUDE                 # COUNT MAGNITUDE MEAN QUANTILE SHARE RATIO_DENOMINATOR
//                                    # DOMINANCE P_PERCENT INCOME GROUP
//   units: 12                        # facts: units holdings top_abs abs_sum min max permille
//   top_abs: 50000                   #   numerator denominator group_units category_units
//   top_abs: 49000                   #   sensitive structural_zero income_use (MEAN_OR_SUM|QUANTILE)
//   abs_sum: 100000
//   expect: CONFIDENTIAL             # RELEASED or CONFIDENTIAL
//   expect_rule: "p-percent"         # optional: the rule id that decides
//   expect_average: MEDIAN           # MEAN only: MEAN, MEDIAN or NONE
//   expect_upper: 104000             # optional: the protection requirement (§4.3)
//   expect_lower: 45
//
// Unknown keys fail the case, so a typo cannot silently pass. `holdings` defaults to `units`.
#include <doctest/doctest.h>

#include <algorithm>
#include <charconv>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <map>
#include <optional>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "enclave/disclosure/primary.h"
#include "enclave/disclosure/rule_set.h"

namespace enclave::disclosure {
namespace {

namespace fs = std::filesystem;

const fs::path kCases = fs::path(ENCLAVE_SOURCE_DIR) / "tests" / "policy_cases";

struct Case {
  std::string file;
  std::multimap<std::string, std::string> kv;
  std::vector<std::string> problems;

  bool Has(const std::string& key) const { return kv.count(key) > 0; }
  std::string Text(const std::string& key, const std::string& fallback = "") const {
    auto it = kv.find(key);
    return it == kv.end() ? fallback : it->second;
  }
  std::int64_t Int(const std::string& key, std::int64_t fallback = 0) {
    auto it = kv.find(key);
    if (it == kv.end()) return fallback;
    std::int64_t v = 0;
    const std::string& s = it->second;
    auto [ptr, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
    if (ec != std::errc() || ptr != s.data() + s.size()) {
      problems.push_back(key + " is not an integer: " + s);
    }
    return v;
  }
  bool Bool(const std::string& key) {
    const std::string v = Text(key, "false");
    if (v != "true" && v != "false") problems.push_back(key + " must be true or false");
    return v == "true";
  }
  std::vector<std::int64_t> Ints(const std::string& key) {
    std::vector<std::int64_t> out;
    auto [first, last] = kv.equal_range(key);
    for (auto it = first; it != last; ++it) {
      std::int64_t v = 0;
      const std::string& s = it->second;
      auto [ptr, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
      if (ec != std::errc() || ptr != s.data() + s.size()) {
        problems.push_back(key + " is not an integer: " + s);
      }
      out.push_back(v);
    }
    return out;
  }
};

std::string Trim(const std::string& s) {
  const auto b = s.find_first_not_of(" \t\r");
  if (b == std::string::npos) return "";
  const auto e = s.find_last_not_of(" \t\r");
  return s.substr(b, e - b + 1);
}

Case Parse(const fs::path& path) {
  Case c;
  c.file = path.lexically_relative(kCases).string();
  std::ifstream in(path);
  std::string line;
  int number = 0;
  while (std::getline(in, line)) {
    ++number;
    const std::string t = Trim(line);
    if (t.rfind("# name:", 0) == 0) {
      c.kv.emplace("name", Trim(t.substr(7)));
      continue;
    }
    // Strip a comment outside quotes.
    std::string body;
    bool quoted = false;
    for (char ch : t) {
      if (ch == '"') quoted = !quoted;
      if (ch == '#' && !quoted) break;
      body += ch;
    }
    body = Trim(body);
    if (body.empty()) continue;
    const auto colon = body.find(':');
    if (colon == std::string::npos) {
      c.problems.push_back("line " + std::to_string(number) + ": expected key: value");
      continue;
    }
    std::string value = Trim(body.substr(colon + 1));
    if (value.size() >= 2 && value.front() == '"' && value.back() == '"') {
      value = value.substr(1, value.size() - 2);
    }
    c.kv.emplace(Trim(body.substr(0, colon)), value);
  }
  return c;
}

const std::set<std::string> kKeys = {
    "name",         "rule_set",       "check",       "units",          "holdings",
    "top_abs",      "abs_sum",        "min",         "max",            "permille",
    "numerator",    "denominator",    "group_units", "category_units", "sensitive",
    "structural_zero", "income_use",  "expect",      "expect_rule",    "expect_average",
    "expect_upper", "expect_lower",   "expect_params"};

MagnitudeFacts Magnitude(Case& c) {
  MagnitudeFacts f;
  f.units = c.Int("units");
  f.holdings = c.Int("holdings", f.units);
  f.top_abs = c.Ints("top_abs");
  f.abs_sum = c.Int("abs_sum");
  f.min = c.Int("min");
  f.max = c.Int("max", f.top_abs.empty() ? 0 : f.top_abs.front());
  return f;
}

GroupFacts Group(Case& c) {
  GroupFacts g;
  g.group_units = c.Int("group_units");
  g.category_units = c.Int("category_units");
  g.sensitive = c.Bool("sensitive");
  g.structural_zero = c.Bool("structural_zero");
  return g;
}

// Runs one case; returns its problems (empty = passed).
std::vector<std::string> Run(Case c) {
  for (const auto& [key, value] : c.kv) {
    if (kKeys.count(key) == 0) c.problems.push_back("unknown key " + key);
  }
  if (!c.Has("name")) c.problems.push_back("a case needs a '# name:' line");
  const std::string set = c.Text("rule_set", "cbs-default");
  RuleSetParams rules;
  if (set == "cbs-default") {
    rules = CbsDefaultRuleSet();
  } else if (set == "cbs-business") {
    rules = CbsBusinessRuleSet();
  } else if (set == "cbs-income") {
    rules = CbsIncomeRuleSet();
  } else {
    c.problems.push_back("unknown rule_set " + set);
  }
  const std::string check = c.Text("check");
  Decision d;
  std::optional<ProtectionRequirement> protection;
  std::optional<AverageDecision> average;
  if (check == "COUNT") {
    GroupFacts g = Group(c);
    const bool grouped = c.Has("group_units");
    d = CountDecision(rules, c.Int("units"), grouped ? &g : nullptr);
    if (grouped && (d.rule == "group" || d.rule == "sensitive-zero")) {
      protection = GroupProtection(rules, g);
    } else {
      protection = ThresholdProtection(rules, g.sensitive);
    }
  } else if (check == "MAGNITUDE" || check == "DOMINANCE" || check == "P_PERCENT") {
    const MagnitudeFacts f = Magnitude(c);
    d = check == "MAGNITUDE" ? MagnitudeDecision(rules, f)
        : check == "DOMINANCE" ? DominanceNk(rules, f)
                               : PPercent(rules, f);
    protection = MagnitudeProtection(rules, f);
  } else if (check == "INCOME") {
    const std::string use = c.Text("income_use", "MEAN_OR_SUM");
    if (use != "MEAN_OR_SUM" && use != "QUANTILE") c.problems.push_back("bad income_use");
    d = IncomeRule(rules, Magnitude(c),
                   use == "QUANTILE" ? IncomeUse::kQuantile : IncomeUse::kMeanOrSum);
  } else if (check == "MEAN") {
    average = MeanOrMedian(rules, Magnitude(c));
    d = average->release == AverageRelease::kMean     ? average->mean
        : average->release == AverageRelease::kMedian ? average->median
                                                      : average->mean;
  } else if (check == "QUANTILE") {
    d = QuantileDecision(rules, c.Int("units"), static_cast<std::uint32_t>(c.Int("permille")));
  } else if (check == "SHARE") {
    d = ShareDecision(rules, c.Int("numerator"), c.Int("denominator"), c.Bool("sensitive"));
  } else if (check == "GROUP") {
    const GroupFacts g = Group(c);
    d = GroupDisclosure(rules, g);
    protection = GroupProtection(rules, g);
  } else {
    c.problems.push_back("unknown check '" + check + "'");
  }

  const std::string expect = c.Text("expect");
  if (expect != "RELEASED" && expect != "CONFIDENTIAL") {
    c.problems.push_back("expect must be RELEASED or CONFIDENTIAL");
  } else if ((d.status == CellStatus::kReleased) != (expect == "RELEASED")) {
    c.problems.push_back("expected " + expect + ", got rule " + d.rule);
  }
  if (c.Has("expect_rule") && d.rule != c.Text("expect_rule")) {
    c.problems.push_back("expected rule " + c.Text("expect_rule") + ", got " + d.rule);
  }
  if (c.Has("expect_params") && d.params != c.Text("expect_params")) {
    c.problems.push_back("expected params " + c.Text("expect_params") + ", got " + d.params);
  }
  if (c.Has("expect_average")) {
    const std::string want = c.Text("expect_average");
    if (!average) {
      c.problems.push_back("expect_average needs check: MEAN");
    } else {
      const char* got = average->release == AverageRelease::kMean     ? "MEAN"
                        : average->release == AverageRelease::kMedian ? "MEDIAN"
                                                                      : "NONE";
      if (want != got) c.problems.push_back("expected average " + want + ", got " + got);
    }
  }
  for (const char* key : {"expect_upper", "expect_lower"}) {
    if (!c.Has(key)) continue;
    const bool upper = std::string(key) == "expect_upper";
    const std::int64_t want = c.Int(key);
    if (!protection) {
      c.problems.push_back(std::string(key) + " is not available for this check");
    } else if (upper ? (!protection->has_upper || protection->upper != want)
                     : (!protection->has_lower || protection->lower != want)) {
      c.problems.push_back(std::string(key) + " differs: got " +
                           std::to_string(upper ? protection->upper : protection->lower));
    }
  }
  return c.problems;
}

TEST_CASE("every policy case in tests/policy_cases holds") {
  std::vector<fs::path> files;
  for (const auto& entry : fs::recursive_directory_iterator(kCases)) {
    if (entry.is_regular_file() && entry.path().extension() == ".textproto") {
      files.push_back(entry.path());
    }
  }
  std::sort(files.begin(), files.end());
  // The suite must not pass vacuously if the folder is moved or emptied.
  REQUIRE(files.size() >= 20);
  std::set<std::string> rules_covered;
  for (const fs::path& path : files) {
    Case c = Parse(path);
    rules_covered.insert(path.parent_path().filename().string());
    const std::vector<std::string> problems = Run(c);
    for (const std::string& p : problems) {
      FAIL_CHECK(c.file << " (" << c.Text("name") << "): " << p);
    }
  }
  for (const char* rule : {"threshold", "dominance", "p_percent", "income", "group", "quantile",
                           "share", "mean"}) {
    CHECK_MESSAGE(rules_covered.count(rule) == 1, "no policy cases for ", rule);
  }
}

TEST_CASE("a case with a wrong expectation is reported, so cases cannot pass vacuously") {
  Case wrong;
  wrong.kv = {{"name", "nine units released"}, {"check", "COUNT"}, {"units", "9"},
              {"expect", "RELEASED"}};
  CHECK_FALSE(Run(wrong).empty());
  Case typo;
  typo.kv = {{"name", "typo"}, {"check", "COUNT"}, {"unit", "9"}, {"expect", "CONFIDENTIAL"}};
  CHECK_FALSE(Run(typo).empty());
  Case right;
  right.kv = {{"name", "nine units confidential"}, {"check", "COUNT"}, {"units", "9"},
              {"expect", "CONFIDENTIAL"}, {"expect_rule", "threshold"}};
  CHECK(Run(right).empty());
}

}  // namespace
}  // namespace enclave::disclosure
