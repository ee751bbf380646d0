// Structural checks on a template: nothing that could release record-level rows gets loaded.
#include "enclave/templates/validate.h"

#include <algorithm>
#include <cctype>
#include <charconv>
#include <set>
#include <string_view>
#include <system_error>

namespace enclave::templates {
namespace {

class Problems {
 public:
  void Add(std::string field, std::string message) {
    list_.push_back({std::move(field), std::move(message)});
  }
  std::vector<TemplateProblem> Take() { return std::move(list_); }

 private:
  std::vector<TemplateProblem> list_;
};

bool IsIdentifier(std::string_view s) {
  if (s.empty() || s.size() > 64) return false;
  if (!(std::islower(static_cast<unsigned char>(s[0])) || s[0] == '_')) return false;
  return std::all_of(s.begin(), s.end(), [](char c) {
    auto u = static_cast<unsigned char>(c);
    return std::islower(u) || std::isdigit(u) || c == '_';
  });
}

bool IsCodeText(std::string_view s) {
  if (s.empty() || s.size() > 64) return false;
  return std::all_of(s.begin(), s.end(), [](char c) {
    auto u = static_cast<unsigned char>(c);
    return std::isalnum(u) || c == '_' || c == '-' || c == '.' || c == '+' || c == '<' ||
           c == '>' || c == '=';
  });
}

bool IsIdentChar(char c) {
  auto u = static_cast<unsigned char>(c);
  return std::isalnum(u) || c == '_';
}

// What a scan of the SQL text found outside string literals, quoted identifiers and comments.
struct SqlScan {
  std::set<std::string> named_params;  // ":name" without the colon
  bool other_param_syntax = false;     // '?', '@x', '$x'
  bool inner_semicolon = false;        // ';' other than one trailing
  bool unterminated = false;           // literal or comment left open
  std::string first_word;              // upper-cased
};

SqlScan ScanSql(std::string_view sql) {
  SqlScan scan;
  std::size_t end = sql.size();
  while (end > 0 && std::isspace(static_cast<unsigned char>(sql[end - 1]))) --end;
  if (end > 0 && sql[end - 1] == ';') --end;  // one trailing ';' is allowed
  std::size_t i = 0;
  while (i < end) {
    char c = sql[i];
    if (c == '\'' || c == '"' || c == '`' || c == '[') {
      char close = c == '[' ? ']' : c;
      std::size_t j = i + 1;
      for (;;) {
        if (j >= end) {
          scan.unterminated = true;
          return scan;
        }
        if (sql[j] == close) {
          if (close != ']' && j + 1 < end && sql[j + 1] == close) {
            j += 2;  // doubled quote inside the literal
            continue;
          }
          break;
        }
        ++j;
      }
      i = j + 1;
      continue;
    }
    if (c == '-' && i + 1 < end && sql[i + 1] == '-') {
      while (i < end && sql[i] != '\n') ++i;
      continue;
    }
    if (c == '/' && i + 1 < end && sql[i + 1] == '*') {
      std::size_t close = sql.find("*/", i + 2);
      if (close == std::string_view::npos || close + 2 > end) {
        scan.unterminated = true;
        return scan;
      }
      i = close + 2;
      continue;
    }
    if (c == ';') {
      scan.inner_semicolon = true;
      ++i;
      continue;
    }
    if (c == '?' || ((c == '@' || c == '$') && i + 1 < end && IsIdentChar(sql[i + 1]))) {
      scan.other_param_syntax = true;
      ++i;
      continue;
    }
    if (c == ':' && i + 1 < end && IsIdentChar(sql[i + 1])) {
      std::size_t j = i + 1;
      while (j < end && IsIdentChar(sql[j])) ++j;
      scan.named_params.emplace(sql.substr(i + 1, j - i - 1));
      i = j;
      continue;
    }
    if (std::isalpha(static_cast<unsigned char>(c)) && scan.first_word.empty()) {
      std::size_t j = i;
      while (j < end && IsIdentChar(sql[j])) ++j;
      for (std::size_t k = i; k < j; ++k) {
        scan.first_word += static_cast<char>(std::toupper(static_cast<unsigned char>(sql[k])));
      }
      i = j;
      continue;
    }
    if (IsIdentChar(c)) {
      // Skip the rest of an identifier or number so "a:b" inside one is not misread.
      while (i < end && IsIdentChar(sql[i])) ++i;
      continue;
    }
    ++i;
  }
  return scan;
}

bool ParsesAsInteger(const std::string& text, std::int64_t* out) {
  const char* first = text.data();
  const char* last = text.data() + text.size();
  if (text.empty()) return false;
  auto [ptr, ec] = std::from_chars(first, last, *out);
  return ec == std::errc() && ptr == last;
}

bool HasCode(const std::vector<Code>& codes, const std::string& code) {
  return std::any_of(codes.begin(), codes.end(), [&](const Code& c) { return c.code == code; });
}

void CheckText(const LocalizedText& text, const std::string& field, Problems& p) {
  if (text.nl.empty()) p.Add(field + ".nl", "must not be empty (Dutch text is required)");
  if (text.en.empty()) p.Add(field + ".en", "must not be empty (English text is required)");
}

void CheckCodes(const std::vector<Code>& codes, const std::string& field, Problems& p) {
  std::set<std::string> seen;
  for (const Code& c : codes) {
    if (!IsCodeText(c.code)) {
      p.Add(field, "code '" + c.code.substr(0, 64) +
                       "' must be 1 to 64 characters from letters, digits and _-.+<>=");
    } else if (!seen.insert(c.code).second) {
      p.Add(field, "code '" + c.code + "' is listed more than once");
    }
  }
}

void CheckParams(const Template& t, Problems& p) {
  std::set<std::string> names;
  for (const ParamSpec& spec : t.params) {
    const std::string f = "parameter[" + spec.name + "]";
    if (!IsIdentifier(spec.name)) {
      p.Add(f + ".name", "must be a lower-case identifier ([a-z_][a-z0-9_]*, at most 64)");
    } else if (!names.insert(spec.name).second) {
      p.Add(f + ".name", "is declared more than once");
    }
    if (spec.description.nl.empty() && spec.description.en.empty()) {
      p.Add(f + ".description", "must describe the parameter (nl and en)");
    }
    switch (spec.type) {
      case ParamType::kInteger: {
        if (spec.min > spec.max) p.Add(f + ".max", "must be at least min");
        if (!spec.allowed.empty()) p.Add(f + ".allowed", "must be empty for an INTEGER parameter");
        if (spec.default_value.has_value()) {
          std::int64_t v = 0;
          if (!ParsesAsInteger(*spec.default_value, &v) || v < spec.min || v > spec.max) {
            p.Add(f + ".default_value", "must be an integer from " + std::to_string(spec.min) +
                                            " to " + std::to_string(spec.max));
          }
        }
        break;
      }
      case ParamType::kCode:
      case ParamType::kBreakdown: {
        if (spec.allowed.empty()) {
          p.Add(f + ".allowed", "must list at least one allowed value (a closed domain)");
        }
        if (spec.min != 0 || spec.max != 0) {
          p.Add(f + ".min", "min and max apply to INTEGER parameters only");
        }
        CheckCodes(spec.allowed, f + ".allowed", p);
        if (spec.default_value.has_value() && !HasCode(spec.allowed, *spec.default_value)) {
          p.Add(f + ".default_value", "must be one of the allowed values");
        }
        if (spec.type == ParamType::kBreakdown) {
          for (const Code& c : spec.allowed) {
            if (c.code == kNoBreakdown) continue;
            if (t.FindDimension(c.code) == nullptr) {
              p.Add(f + ".allowed", "value '" + c.code + "' must name a declared dimension or be '" +
                                        kNoBreakdown + "'");
            } else if (std::find(t.fixed_dimensions.begin(), t.fixed_dimensions.end(), c.code) !=
                       t.fixed_dimensions.end()) {
              p.Add(f + ".allowed", "value '" + c.code +
                                        "' is a fixed dimension, always in the table; remove it");
            }
          }
        }
        break;
      }
    }
  }
}

void CheckDimensions(const Template& t, Problems& p) {
  std::set<std::string> names;
  std::set<std::string> columns;
  for (const Dimension& d : t.dimensions) {
    const std::string f = "dimension[" + d.name + "]";
    if (!IsIdentifier(d.name)) {
      p.Add(f + ".name", "must be a lower-case identifier ([a-z_][a-z0-9_]*, at most 64)");
    } else if (d.name == kNoBreakdown) {
      p.Add(f + ".name", std::string("must not be '") + kNoBreakdown + "' (it means no breakdown)");
    } else if (!names.insert(d.name).second) {
      p.Add(f + ".name", "is declared more than once");
    }
    CheckText(d.label, f + ".label", p);
    if (!IsIdentifier(d.column)) {
      p.Add(f + ".column", "must be a lower-case identifier naming a result column");
    } else if (d.column == t.unit_column) {
      p.Add(f + ".column",
            "must not be the unit column: a dimension on the unit would release single units");
    } else if (!columns.insert(d.column).second) {
      p.Add(f + ".column", "is used by another dimension");
    }
    if (d.codes.codes.empty()) {
      p.Add(f + ".code_list", "must name a closed, non-empty code list");
    }
    CheckCodes(d.codes.codes, f + ".code_list", p);
  }
  std::set<std::string> fixed;
  for (const std::string& name : t.fixed_dimensions) {
    if (t.FindDimension(name) == nullptr) {
      p.Add("fixed_dimension", "'" + name + "' is not a declared dimension");
    } else if (!fixed.insert(name).second) {
      p.Add("fixed_dimension", "'" + name + "' is listed more than once");
    }
  }
  std::size_t possible = fixed.size();
  for (const ParamSpec& spec : t.params) {
    if (spec.type != ParamType::kBreakdown) continue;
    if (std::any_of(spec.allowed.begin(), spec.allowed.end(),
                    [](const Code& c) { return c.code != kNoBreakdown; })) {
      ++possible;
    }
  }
  if (possible > kMaxDimensions) {
    p.Add("dimension", "a table may have " + std::to_string(possible) +
                           " dimensions (fixed plus one per BREAKDOWN parameter); at most " +
                           std::to_string(kMaxDimensions) + " are allowed");
  }
}

void CheckColumns(const Template& t, Problems& p) {
  if (!IsIdentifier(t.unit_column)) {
    p.Add("unit_column", "must be a lower-case identifier naming the result column of the unit");
  }
  std::set<std::string> used;
  used.insert(t.unit_column);
  for (const Dimension& d : t.dimensions) used.insert(d.column);
  if (!t.measure_column.empty()) {
    if (!IsIdentifier(t.measure_column)) {
      p.Add("measure_column", "must be a lower-case identifier naming a result column");
    } else if (!used.insert(t.measure_column).second) {
      p.Add("measure_column", "must differ from the unit and dimension columns");
    }
  }
  for (const std::string& flag : t.flag_columns) {
    if (!IsIdentifier(flag)) {
      p.Add("flag_column", "'" + flag.substr(0, 64) + "' must be a lower-case identifier");
    } else if (!used.insert(flag).second) {
      p.Add("flag_column", "'" + flag + "' must differ from every other result column");
    }
  }
  const std::string& holding = t.disclosure.holding_column;
  if (!holding.empty()) {
    if (!IsIdentifier(holding)) {
      p.Add("disclosure.holding_column", "must be a lower-case identifier naming a result column");
    } else if (!used.insert(holding).second) {
      p.Add("disclosure.holding_column", "must differ from every other result column");
    } else if (t.measure_column.empty()) {
      p.Add("disclosure.holding_column",
            "holdings merge magnitudes: set measure_column or leave holding_column empty");
    }
  }
  const std::string& entity = t.disclosure.threshold_entity;
  if (!entity.empty()) {
    if (holding.empty()) {
      p.Add("disclosure.threshold_entity",
            "names the unit type of holding_column's values: set holding_column too");
    } else if (!IsIdentifier(entity) || entity == t.unit) {
      p.Add("disclosure.threshold_entity",
            "must be a lower-case unit type other than the template's unit");
    }
  }
}

bool NeedsMeasure(StatisticKind kind) {
  return kind == StatisticKind::kSum || kind == StatisticKind::kMean ||
         kind == StatisticKind::kQuantile || kind == StatisticKind::kRatio;
}

bool IsDeclaredFlag(const Template& t, const std::string& flag) {
  return std::find(t.flag_columns.begin(), t.flag_columns.end(), flag) != t.flag_columns.end();
}

const Statistic* FindStatistic(const Template& t, const std::string& name) {
  for (const Statistic& s : t.statistics) {
    if (s.name == name) return &s;
  }
  return nullptr;
}

// A SHARE_DIFFERENCE compares two SHARE statistics with denominator flags (the two arms); nothing
// else uses minuend, subtrahend or bound. Not under DP (DpReleaser releases counts, sums, means).
void CheckDifference(const Template& t, const Statistic& s, const std::string& f, Problems& p) {
  if (s.kind != StatisticKind::kShareDifference) {
    if (!s.minuend.empty() || !s.subtrahend.empty() || s.bound != DifferenceBound::kEstimate) {
      p.Add(f + ".minuend", "minuend, subtrahend and bound apply to SHARE_DIFFERENCE statistics only");
    }
    return;
  }
  if (!s.flag.empty() || !s.denominator_flag.empty()) {
    p.Add(f + ".flag", "SHARE_DIFFERENCE takes its flags from its minuend and subtrahend");
  }
  if (t.dp.has_value()) {
    p.Add(f + ".kind", "SHARE_DIFFERENCE is not released under differential privacy");
  }
  for (const auto& [field, name] : {std::pair<const char*, const std::string*>{"minuend", &s.minuend},
                                    {"subtrahend", &s.subtrahend}}) {
    const Statistic* arm = FindStatistic(t, *name);
    if (arm == nullptr || arm->kind != StatisticKind::kShare || arm->denominator_flag.empty()) {
      p.Add(f + "." + field, "must name a SHARE statistic of this template with a denominator_flag");
    }
  }
  if (s.minuend == s.subtrahend) p.Add(f + ".subtrahend", "must differ from the minuend");
  if (s.precision > 100) p.Add(f + ".precision", "SHARE_DIFFERENCE precision is at most 100 points");
}

void CheckStatistics(const Template& t, Problems& p) {
  if (t.statistics.empty()) p.Add("statistic", "at least one statistic is required");
  std::set<std::string> names;
  for (std::size_t i = 0; i < t.statistics.size(); ++i) {
    const Statistic& s = t.statistics[i];
    const std::string f = "statistic[" + std::to_string(i) + "]";
    if (!IsIdentifier(s.name)) {
      p.Add(f + ".name", "must be a lower-case identifier ([a-z_][a-z0-9_]*, at most 64)");
    } else if (!names.insert(s.name).second) {
      p.Add(f + ".name", "'" + s.name + "' is declared more than once");
    }
    CheckText(s.label, f + ".label", p);
    switch (s.kind) {
      case StatisticKind::kCount:
      case StatisticKind::kSum:
      case StatisticKind::kMean:
      case StatisticKind::kQuantile:
      case StatisticKind::kShare:
      case StatisticKind::kRatio:
      case StatisticKind::kRelativeRisk:
      case StatisticKind::kShareDifference:
        break;
      default:
        p.Add(f + ".kind", "must be COUNT, SUM, MEAN, QUANTILE, SHARE, RATIO, RELATIVE_RISK or "
                           "SHARE_DIFFERENCE (no min, max or lists: they release one unit's value)");
        continue;
    }
    if (s.kind == StatisticKind::kQuantile) {
      if (s.quantile_permille == 0 || s.quantile_permille >= 1000) {
        p.Add(f + ".quantile_permille",
              "must be between 1 and 999 (0 and 1000 would be the minimum and maximum)");
      }
    } else if (s.quantile_permille != 0) {
      p.Add(f + ".quantile_permille", "applies to QUANTILE statistics only");
    }
    if (NeedsMeasure(s.kind) && t.measure_column.empty()) {
      p.Add(f + ".kind", std::string(StatisticKindName(s.kind)) +
                             " needs a measure: set measure_column");
    }
    if (!s.flag.empty() && !IsDeclaredFlag(t, s.flag)) {
      p.Add(f + ".flag", "'" + s.flag.substr(0, 64) + "' must be one of the flag_column entries");
    }
    if (s.kind == StatisticKind::kRatio) {
      if (s.flag.empty()) p.Add(f + ".flag", "RATIO needs a numerator flag");
      if (s.denominator_flag.empty()) p.Add(f + ".denominator_flag", "RATIO needs a denominator flag");
    } else if (s.kind == StatisticKind::kShare) {
      if (s.flag.empty()) p.Add(f + ".flag", "SHARE needs a numerator flag");
    } else if (s.kind == StatisticKind::kRelativeRisk) {
      if (s.flag.empty()) p.Add(f + ".flag", "RELATIVE_RISK needs a numerator flag");
    } else if (!s.denominator_flag.empty()) {
      p.Add(f + ".denominator_flag", "applies to SHARE, RATIO and RELATIVE_RISK statistics only");
    }
    if (s.kind == StatisticKind::kRelativeRisk) {
      if (s.reference_dimensions.empty()) {
        p.Add(f + ".reference_dimension",
              "RELATIVE_RISK needs at least one reference dimension (set to its total in the "
              "reference cell)");
      }
      for (const std::string& r : s.reference_dimensions) {
        if (std::none_of(t.dimensions.begin(), t.dimensions.end(),
                         [&](const Dimension& d) { return d.name == r; })) {
          p.Add(f + ".reference_dimension",
                "'" + r.substr(0, 64) + "' must be one of the template's dimensions");
        }
      }
    } else if (!s.reference_dimensions.empty()) {
      p.Add(f + ".reference_dimension", "applies to RELATIVE_RISK statistics only");
    }
    if (!s.denominator_flag.empty() && !IsDeclaredFlag(t, s.denominator_flag)) {
      p.Add(f + ".denominator_flag",
            "'" + s.denominator_flag.substr(0, 64) + "' must be one of the flag_column entries");
    }
    if (s.precision < 1) p.Add(f + ".precision", "must be at least 1");
    CheckDifference(t, s, f, p);
    if (s.per != 100 && s.per != 1000) {
      p.Add(f + ".per", "must be 100 (a percentage) or 1000 (per 1,000)");
    } else if (s.per != 100 && s.kind != StatisticKind::kShare) {
      p.Add(f + ".per", "applies to SHARE statistics only");
    }
  }
}

bool HasCode(const Dimension& d, const std::string& code) {
  return std::any_of(d.codes.codes.begin(), d.codes.codes.end(),
                     [&](const Code& c) { return c.code == code; });
}

// Sensitive categories and structural zeros name declared dimensions and codes, or flags.
void CheckGroups(const Template& t, Problems& p) {
  for (std::size_t i = 0; i < t.disclosure.sensitive.size(); ++i) {
    const SensitiveCategory& c = t.disclosure.sensitive[i];
    const std::string field = "disclosure.sensitive[" + std::to_string(i) + "]";
    if (!c.flag.empty()) {
      if (!c.dimension.empty() || !c.code.empty()) {
        p.Add(field, "names either a flag or a dimension and code, not both");
      } else if (!IsDeclaredFlag(t, c.flag)) {
        p.Add(field, "flag '" + c.flag.substr(0, 64) + "' is not a declared flag column");
      }
      continue;
    }
    const Dimension* d = t.FindDimension(c.dimension);
    if (d == nullptr) {
      p.Add(field, "must name a flag, or a declared dimension and one of its codes");
    } else if (!HasCode(*d, c.code)) {
      p.Add(field, "code '" + c.code.substr(0, 64) + "' is not a code of dimension " + d->name);
    }
  }
  for (std::size_t i = 0; i < t.disclosure.structural_zeros.size(); ++i) {
    const StructuralZero& z = t.disclosure.structural_zeros[i];
    const std::string field = "disclosure.structural_zero[" + std::to_string(i) + "]";
    if (z.codes.empty()) p.Add(field, "must name at least one dimension and code");
    std::set<std::string> seen;
    for (const auto& [dimension, code] : z.codes) {
      const Dimension* d = t.FindDimension(dimension);
      if (d == nullptr) {
        p.Add(field, "'" + dimension.substr(0, 64) + "' is not a declared dimension");
      } else if (!HasCode(*d, code)) {
        p.Add(field, "code '" + code.substr(0, 64) + "' is not a code of dimension " + d->name);
      } else if (!seen.insert(dimension).second) {
        p.Add(field, "names dimension " + dimension + " twice");
      }
    }
  }
}

// Sensitive dimensions name declared dimensions, once each; a flag is a declared flag column and
// then needs its none code, a code of the dimension.
void CheckSensitiveDimensions(const Template& t, Problems& p) {
  std::set<std::string> seen;
  for (std::size_t i = 0; i < t.disclosure.sensitive_dimensions.size(); ++i) {
    const SensitiveDimension& s = t.disclosure.sensitive_dimensions[i];
    const std::string field = "disclosure.sensitive_dimension[" + std::to_string(i) + "]";
    const Dimension* d = t.FindDimension(s.dimension);
    if (d == nullptr) {
      p.Add(field, "'" + s.dimension.substr(0, 64) + "' is not a declared dimension");
      continue;
    }
    if (!seen.insert(s.dimension).second) p.Add(field, "names dimension " + d->name + " twice");
    if (s.flag.empty()) {
      if (!s.none_code.empty()) p.Add(field, "a none_code needs the flag it is the absence of");
      continue;
    }
    if (!IsDeclaredFlag(t, s.flag)) {
      p.Add(field, "flag '" + s.flag.substr(0, 64) + "' is not a declared flag column");
    }
    if (s.none_code.empty()) {
      p.Add(field, "with a flag, name the code of units without it (none_code)");
    } else if (!HasCode(*d, s.none_code)) {
      p.Add(field, "none_code '" + s.none_code.substr(0, 64) + "' is not a code of dimension " +
                       d->name);
    }
  }
  if (t.disclosure.max_partitions < 0) {
    p.Add("disclosure.max_partitions", "must be 0 (the rule set's quota) or positive");
  }
}

// Differential privacy (disclosure-control.md §7): researcher-only, COUNT/SUM/MEAN, a positive
// budget within the per-table maximum, and bounds small enough for exact integer noise.
void CheckDp(const Template& t, Problems& p) {
  if (!t.dp.has_value()) return;
  const DpSettings& dp = *t.dp;
  constexpr std::int64_t kMaxBudgetMicro = 1'000'000;  // ε or ρ 1.0 per table at most
  constexpr std::int64_t kMaxClamp = 1'000'000'000;
  constexpr std::int64_t kMaxCells = 1000;
  if (t.roles.size() != 1 || t.roles[0] != Role::kResearcher) {
    p.Add("roles", "a template with dp settings is for researchers only (roles: RESEARCHER)");
  }
  if (dp.mechanism == DpSettings::Mechanism::kDiscreteLaplace) {
    if (dp.epsilon_micro < 1 || dp.epsilon_micro > kMaxBudgetMicro) {
      p.Add("dp.epsilon_micro", "must be in [1, 1000000] (epsilon > 0 and at most 1.0)");
    }
    if (dp.rho_micro != 0) p.Add("dp.rho_micro", "applies only to DISCRETE_GAUSSIAN");
  } else {
    if (dp.rho_micro < 1 || dp.rho_micro > kMaxBudgetMicro) {
      p.Add("dp.rho_micro", "must be in [1, 1000000] (rho > 0 and at most 1.0)");
    }
    if (dp.epsilon_micro != 0) p.Add("dp.epsilon_micro", "applies only to DISCRETE_LAPLACE");
  }
  if (dp.max_cells_per_unit < 1 || dp.max_cells_per_unit > kMaxCells) {
    p.Add("dp.max_cells_per_unit", "must be in [1, 1000]");
  }
  if (dp.clamp_min > dp.clamp_max || dp.clamp_min < -kMaxClamp || dp.clamp_max > kMaxClamp) {
    p.Add("dp.clamp_min", "clamp_min <= clamp_max, both within +-1000000000");
  }
  if (dp.display_threshold < 0) p.Add("dp.display_threshold", "must not be negative");
  if (dp.cells_public) {
    if (dp.selection_epsilon_micro != 0) {
      p.Add("dp.selection_epsilon_micro", "applies only when cells_public is false");
    }
  } else {
    if (dp.min_units < 1 || dp.min_units > 1'000'000) {
      p.Add("dp.min_units", "must be in [1, 1000000]");
    }
    if (dp.selection_epsilon_micro < 1 || dp.selection_epsilon_micro > kMaxBudgetMicro) {
      p.Add("dp.selection_epsilon_micro",
            "must be in [1, 1000000] when cells_public is false (selection epsilon > 0, at most "
            "1.0)");
    }
    if (dp.delta_exponent < 6 || dp.delta_exponent > 12) {
      p.Add("dp.delta_exponent", "must be in [6, 12] (delta = 1e-6 .. 1e-12)");
    }
  }
  bool sums = false;
  for (std::size_t i = 0; i < t.statistics.size(); ++i) {
    const StatisticKind k = t.statistics[i].kind;
    if (k != StatisticKind::kCount && k != StatisticKind::kSum && k != StatisticKind::kMean) {
      p.Add("statistic[" + std::to_string(i) + "].kind",
            "a dp template releases only COUNT, SUM and MEAN");
    }
    sums = sums || k == StatisticKind::kSum || k == StatisticKind::kMean;
  }
  if (sums && dp.clamp_min == 0 && dp.clamp_max == 0) {
    p.Add("dp.clamp_max", "SUM and MEAN need clamp bounds (the largest contribution per unit)");
  }
  if (dp.mechanism == DpSettings::Mechanism::kDiscreteGaussian && sums) {
    const std::int64_t linf = std::max(dp.clamp_min < 0 ? -dp.clamp_min : dp.clamp_min,
                                       dp.clamp_max < 0 ? -dp.clamp_max : dp.clamp_max);
    if (linf > 10'000 / std::max<std::int64_t>(1, dp.max_cells_per_unit)) {
      p.Add("dp.clamp_max", "for DISCRETE_GAUSSIAN, max_cells_per_unit * clamp^2 must be <= 1e8");
    }
  }
}

void CheckSql(const Template& t, Problems& p) {
  if (t.sql.empty()) {
    p.Add("sql", "must be one SELECT statement");
    return;
  }
  if (t.sql.size() > 64 * 1024) p.Add("sql", "must be at most 64 KiB");
  SqlScan scan = ScanSql(t.sql);
  if (scan.unterminated) {
    p.Add("sql", "has an unterminated string literal, quoted identifier or comment");
    return;
  }
  if (scan.first_word != "SELECT" && scan.first_word != "WITH") {
    p.Add("sql", "must start with SELECT or WITH");
  }
  if (scan.inner_semicolon) {
    p.Add("sql", "must be exactly one statement: ';' is allowed only at the end");
  }
  if (scan.other_param_syntax) {
    p.Add("sql", "parameters must be written :name ('?', '@name' and '$name' are not allowed)");
  }
  for (const std::string& name : scan.named_params) {
    if (t.FindParam(name) == nullptr) {
      p.Add("sql", "uses parameter ':" + name + "', which is not declared");
    }
  }
  for (const ParamSpec& spec : t.params) {
    // A BREAKDOWN parameter acts through the dimensions it selects; the SQL need not read it.
    if (spec.type == ParamType::kBreakdown) continue;
    if (scan.named_params.count(spec.name) == 0) {
      p.Add("parameter[" + spec.name + "]",
            "is declared but the SQL never uses :" + spec.name + " (it would have no effect)");
    }
  }
}

}  // namespace

std::vector<TemplateProblem> Validate(const Template& t) {
  Problems p;
  if (!IsIdentifier(t.id)) {
    p.Add("id", "must be a lower-case identifier ([a-z_][a-z0-9_]*, at most 64)");
  }
  if (t.version == 0) p.Add("version", "must be at least 1");
  if (t.theme.empty()) p.Add("theme", "must not be empty");
  CheckText(t.title, "title", p);
  CheckText(t.description, "description", p);
  if (t.roles.empty()) p.Add("roles", "must list at least one role");
  if (t.unit.empty()) p.Add("unit", "must name the statistical unit (person, spell, ...)");
  CheckParams(t, p);
  CheckDimensions(t, p);
  CheckColumns(t, p);
  CheckStatistics(t, p);
  CheckGroups(t, p);
  CheckSensitiveDimensions(t, p);
  if (t.disclosure.rule_set.empty()) p.Add("disclosure.rule_set", "must name a rule set");
  if (t.disclosure.min_units < kMinUnitsFloor) {
    p.Add("disclosure.min_units",
          "must be at least " + std::to_string(kMinUnitsFloor) + " (the floor of every rule set)");
  }
  if (t.disclosure.min_share_denominator < kMinUnitsFloor) {
    p.Add("disclosure.min_share_denominator",
          "must be at least " + std::to_string(kMinUnitsFloor));
  }
  CheckDp(t, p);
  CheckSql(t, p);
  return p.Take();
}

}  // namespace enclave::templates
