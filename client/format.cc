// Rendering of released tables and template descriptions. Every path that prints a cell goes
// through CellLookup, which answers "confidential" for a withheld, missing or duplicated-and-withheld
// cell, so no number can stand in for a confidential cell.
#include "enclave/client/format.h"

#include <algorithm>
#include <cstdint>
#include <map>
#include <optional>
#include <string_view>
#include <utility>
#include <vector>

#include "enclave/base/json.h"

namespace enclave::client {
namespace {

constexpr std::string_view kConfidentialMark = ".";

const std::string& Pick(const Text& text, Language lang) {
  const std::string& preferred = lang == Language::kNl ? text.nl : text.en;
  const std::string& other = lang == Language::kNl ? text.en : text.nl;
  return preferred.empty() ? other : preferred;
}

std::string_view Tr(Language lang, std::string_view nl, std::string_view en) {
  return lang == Language::kNl ? nl : en;
}

// Terminal output: control characters from the server (escape sequences) are not passed through.
std::string Printable(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (const char c : s) {
    const auto u = static_cast<unsigned char>(c);
    out.push_back(u < 0x20 || u == 0x7f ? '?' : c);
  }
  return out;
}

// Display width in a terminal: code points, counting UTF-8 continuation bytes as nothing.
std::size_t DisplayWidth(std::string_view s) {
  std::size_t width = 0;
  for (const char c : s) {
    if ((static_cast<unsigned char>(c) & 0xC0) != 0x80) ++width;
  }
  return width;
}

std::string PadLeft(std::string_view s, std::size_t width) {
  const std::size_t w = DisplayWidth(s);
  return std::string(w < width ? width - w : 0, ' ') + std::string(s);
}

std::string PadRight(std::string_view s, std::size_t width) {
  const std::size_t w = DisplayWidth(s);
  return std::string(s) + std::string(w < width ? width - w : 0, ' ');
}

std::string PlainNumber(std::int64_t value) { return std::to_string(value); }

// Thousands grouped as CBS StatLine does: a space in Dutch ("1 234 567"), a comma in English.
// Never '.', which is the confidential mark.
std::string GroupedNumber(std::int64_t value, Language lang) {
  const char separator = lang == Language::kNl ? ' ' : ',';
  // Magnitude as unsigned so that INT64_MIN has one.
  std::uint64_t magnitude = value < 0 ? std::uint64_t{0} - static_cast<std::uint64_t>(value)
                                      : static_cast<std::uint64_t>(value);
  const std::string digits = std::to_string(magnitude);
  std::string out;
  if (value < 0) out.push_back('-');
  for (std::size_t i = 0; i < digits.size(); ++i) {
    if (i > 0 && (digits.size() - i) % 3 == 0) out.push_back(separator);
    out.push_back(digits[i]);
  }
  return out;
}

std::string CodeLabel(const Code& code, Language lang) {
  const std::string& label = Pick(code.label, lang);
  if (!label.empty()) return label;
  if (code.is_total) return std::string(Tr(lang, "Totaal", "Total"));
  return code.code;
}

std::string DimensionLabel(const Dimension& dim, Language lang) {
  const std::string& label = Pick(dim.label, lang);
  return label.empty() ? dim.name : label;
}

// The wire's vocabulary (template units, statistic kinds, parameter types) in `lang`; a word the
// client does not know is shown as sent.
std::string UnitText(const std::string& unit, Language lang) {
  static const std::map<std::string, std::pair<std::string_view, std::string_view>> kUnits = {
      {"person", {"persoon", "person"}},
      {"household", {"huishouden", "household"}},
      {"establishment", {"vestiging", "establishment"}},
      {"business", {"bedrijf", "business"}},
      {"event", {"evenement", "event"}},
      {"trajectory", {"traject", "trajectory"}},
  };
  const auto it = kUnits.find(unit);
  return it == kUnits.end() ? unit : std::string(Tr(lang, it->second.first, it->second.second));
}

std::string KindText(const std::string& kind, Language lang) {
  static const std::map<std::string, std::pair<std::string_view, std::string_view>> kKinds = {
      {"count", {"aantal", "count"}},     {"sum", {"som", "sum"}},
      {"mean", {"gemiddelde", "mean"}},   {"quantile", {"kwantiel", "quantile"}},
      {"share", {"aandeel", "share"}},    {"ratio", {"verhouding", "ratio"}},
      {"share_difference", {"verschil in procentpunten", "difference in percentage points"}},
      {"relative_risk", {"relatief risico", "relative risk"}},
  };
  const auto it = kKinds.find(kind);
  return it == kKinds.end() ? kind : std::string(Tr(lang, it->second.first, it->second.second));
}

// The unit of a share per 1,000 ("per 1 000" in Dutch: the client's grouping, '.' being the
// confidential mark); empty for a percentage and every other kind.
std::string PerText(const StatisticInfo& stat, Language lang) {
  if (stat.kind != "share" || stat.per <= 100) return "";
  return "per " + GroupedNumber(stat.per, lang);
}

std::string ParameterTypeText(const std::string& type, Language lang) {
  if (type == "integer") return std::string(Tr(lang, "geheel getal", "integer"));
  if (type == "breakdown") return std::string(Tr(lang, "uitsplitsing", "breakdown"));
  return type;  // "code" is the same word in both languages
}

std::string StatisticLabel(const StatisticInfo& stat, Language lang) {
  const std::string& label = Pick(stat.label, lang);
  return label.empty() ? stat.name : label;
}

// The cells of a table by (coordinates, statistic). A key with no cell, or with any withheld
// entry, is confidential.
class CellLookup {
 public:
  explicit CellLookup(const QueryResult& result) {
    for (const Cell& cell : result.cells) {
      auto [it, inserted] = cells_.try_emplace(Key{cell.coordinates, cell.statistic}, cell.value);
      if (!inserted && !cell.value.has_value()) it->second.reset();
    }
  }
  std::optional<std::int64_t> Find(const std::vector<std::uint32_t>& coordinates,
                                    std::uint32_t statistic) const {
    const auto it = cells_.find(Key{coordinates, statistic});
    if (it == cells_.end()) return std::nullopt;
    return it->second;
  }

 private:
  using Key = std::pair<std::vector<std::uint32_t>, std::uint32_t>;
  std::map<Key, std::optional<std::int64_t>> cells_;
};

// Every combination of dimension codes, first dimension slowest (the wire's canonical order).
// One empty combination when the table has no dimensions; none when a dimension has no codes.
std::vector<std::vector<std::uint32_t>> Combinations(const std::vector<Dimension>& dims) {
  std::vector<std::vector<std::uint32_t>> out;
  for (const Dimension& d : dims) {
    if (d.codes.empty()) return out;
  }
  std::vector<std::uint32_t> current(dims.size(), 0);
  for (;;) {
    out.push_back(current);
    std::size_t i = dims.size();
    for (;;) {
      if (i == 0) return out;
      --i;
      if (++current[i] < dims[i].codes.size()) break;
      current[i] = 0;
    }
  }
}

std::string Join(const std::vector<std::string>& parts, std::string_view separator) {
  std::string out;
  for (std::size_t i = 0; i < parts.size(); ++i) {
    if (i > 0) out += separator;
    out += parts[i];
  }
  return out;
}

std::string ParameterLine(const QueryResult& result) {
  std::vector<std::string> parts;
  for (const auto& [name, value] : result.parameters) parts.push_back(name + "=" + value);
  return Join(parts, ", ");
}

// Aligned columns: the first `left_columns` left-aligned (labels), the rest right-aligned (numbers).
std::string RenderColumns(const std::vector<std::vector<std::string>>& rows,
                          std::size_t left_columns) {
  std::size_t columns = 0;
  for (const auto& row : rows) columns = std::max(columns, row.size());
  std::vector<std::size_t> widths(columns, 0);
  for (const auto& row : rows) {
    for (std::size_t c = 0; c < row.size(); ++c) {
      widths[c] = std::max(widths[c], DisplayWidth(row[c]));
    }
  }
  std::string out;
  for (std::size_t r = 0; r < rows.size(); ++r) {
    std::string line;
    for (std::size_t c = 0; c < rows[r].size(); ++c) {
      if (c > 0) line += "  ";
      line += c < left_columns ? PadRight(rows[r][c], widths[c]) : PadLeft(rows[r][c], widths[c]);
    }
    while (!line.empty() && line.back() == ' ') line.pop_back();
    out += line + "\n";
    if (r == 0) {
      std::size_t total = 0;
      for (std::size_t c = 0; c < columns; ++c) total += widths[c] + (c > 0 ? 2 : 0);
      out += std::string(total, '-') + "\n";
    }
  }
  return out;
}

// ---- CSV -----------------------------------------------------------------------------------

std::string CsvField(std::string_view s) {
  const bool quote = s.find_first_of(",\"\r\n") != std::string_view::npos;
  if (!quote) return std::string(s);
  std::string out = "\"";
  for (const char c : s) {
    if (c == '"') out.push_back('"');
    out.push_back(c);
  }
  out.push_back('"');
  return out;
}

void AppendCsvRow(const std::vector<std::string>& fields, std::string& out) {
  for (std::size_t i = 0; i < fields.size(); ++i) {
    if (i > 0) out.push_back(',');
    out += CsvField(fields[i]);
  }
  out += "\r\n";
}

// ---- JSON ----------------------------------------------------------------------------------

using base::JsonString;

std::string JsonText(const Text& text) {
  return "{\"nl\":" + JsonString(text.nl) + ",\"en\":" + JsonString(text.en) + "}";
}

// micro-ε as a short decimal in `lang`: 250000 -> "0.25" / "0,25", 4000000 -> "4.0" / "4,0".
std::string EpsilonText(std::int64_t micro, Language lang) {
  const bool negative = micro < 0;
  const std::uint64_t m = negative ? static_cast<std::uint64_t>(-(micro + 1)) + 1
                                   : static_cast<std::uint64_t>(micro);
  std::string frac = std::to_string(m % 1000000);
  frac.insert(0, 6 - frac.size(), '0');
  while (frac.size() > 1 && frac.back() == '0') frac.pop_back();
  return (negative ? "-" : "") + std::to_string(m / 1000000) + (lang == Language::kNl ? "," : ".") +
         frac;
}

// "agreement:OVK-1" -> "overeenkomst OVK-1" (nl) / "agreement OVK-1" (en).
std::string LedgerText(const std::string& ledger, Language lang) {
  const std::size_t colon = ledger.find(':');
  const std::string kind = ledger.substr(0, colon);
  std::string shown = kind;
  if (kind == "agreement") shown = std::string(Tr(lang, "overeenkomst", "agreement"));
  if (kind == "project") shown = "project";
  if (kind == "data-version") shown = std::string(Tr(lang, "dataversie", "data version"));
  return colon == std::string::npos ? shown : shown + " " + ledger.substr(colon + 1);
}

// "a, b and c" / "a, b en c".
std::string JoinAnd(const std::vector<std::string>& parts, Language lang) {
  std::string out;
  for (std::size_t i = 0; i < parts.size(); ++i) {
    if (i > 0) out += i + 1 == parts.size() ? std::string(Tr(lang, " en ", " and ")) : ", ";
    out += parts[i];
  }
  return out;
}

std::string ChargeText(const BudgetCharge& charge, Language lang) {
  std::string out;
  if (charge.repeat || charge.charged_micro == 0) {
    out += Tr(lang, "Privacybudget: identieke herhaling van een eerdere tabel; niets afgeschreven (ε 0).",
              "Privacy budget: identical repeat of an earlier table; nothing charged (ε 0).");
  } else {
    out += std::string(Tr(lang, "Privacybudget: deze tabel kostte ε ",
                          "Privacy budget: this table charged ε ")) +
           EpsilonText(charge.charged_micro, lang) +
           std::string(Tr(lang, " op elk budget hieronder.", " to each budget below."));
  }
  out += "\n";
  if (!charge.ledgers.empty()) {
    std::vector<std::string> left;
    for (const BudgetLedger& l : charge.ledgers) {
      left.push_back(LedgerText(l.ledger, lang) + " ε " + EpsilonText(l.remaining_micro, lang));
    }
    out += Printable(std::string(Tr(lang, "Resterend: ", "Remaining: ")) + JoinAnd(left, lang)) +
           "\n";
  }
  return out;
}

std::string SuggestionReason(const std::string& kind, Language lang) {
  if (kind == "coarser_geography") {
    return std::string(Tr(lang, "een grovere gebiedsindeling", "a coarser geography"));
  }
  if (kind == "fewer_breakdowns") {
    return std::string(Tr(lang, "één uitsplitsing minder", "one breakdown fewer"));
  }
  if (kind == "other_period") return std::string(Tr(lang, "een andere periode", "another period"));
  return std::string(Tr(lang, "een andere aanvraag", "another request"));
}

std::string JsonSuggestions(const std::vector<Suggestion>& suggestions) {
  std::string out = "[";
  for (std::size_t i = 0; i < suggestions.size(); ++i) {
    if (i > 0) out += ",";
    out += "{\"kind\":" + JsonString(suggestions[i].kind) + ",\"changes\":[";
    for (std::size_t c = 0; c < suggestions[i].changes.size(); ++c) {
      if (c > 0) out += ",";
      out += "{\"name\":" + JsonString(suggestions[i].changes[c].first) +
             ",\"value\":" + JsonString(suggestions[i].changes[c].second) + "}";
    }
    out += "]}";
  }
  return out + "]";
}

// What a differentially private template promises and costs, instead of a minimum cell size and
// a rule set (docs/differential-privacy.md).
std::string DpInfoText(const DpInfo& dp, std::int64_t min_units, Language lang) {
  std::string out;
  const bool laplace = dp.mechanism == "discrete_laplace";
  out += std::string(Tr(lang, "Differentiële privacy: ruis volgens het ",
                        "Differential privacy: noise from the ")) +
         (laplace ? std::string(Tr(lang, "discrete Laplace-mechanisme", "discrete Laplace mechanism"))
                  : std::string(Tr(lang, "discrete Gauss-mechanisme", "discrete Gaussian mechanism"))) +
         std::string(Tr(lang, " op elke cel (", " on every cell (")) +
         (laplace ? "ε " + EpsilonText(dp.epsilon_micro, lang)
                  : "ρ " + EpsilonText(dp.rho_micro, lang)) +
         std::string(Tr(lang, " per tabel; een eenheid telt mee in hoogstens ",
                        " per table; a unit counts in at most ")) +
         std::to_string(dp.max_cells_per_unit) +
         std::string(Tr(lang, dp.max_cells_per_unit == 1 ? " cel)" : " cellen)",
                        dp.max_cells_per_unit == 1 ? " cell)" : " cells)")) +
         "\n";
  if (dp.cells_public) {
    out += std::string(Tr(lang, "  Elke cel wordt met ruis getoond; een aantal met ruis onder ",
                          "  Every cell is shown with noise; a noisy count below ")) +
           GroupedNumber(dp.display_threshold, lang) +
           std::string(Tr(lang, " wordt als '.' getoond. Totalen zijn sommen van de cellen met ruis.",
                          " is shown as '.'. Totals are sums of the noisy cells.")) +
           "\n";
  } else {
    out += std::string(Tr(lang, "  Een cel wordt alleen getoond als die minstens ",
                          "  A cell is shown only if it has at least ")) +
           GroupedNumber(min_units, lang) +
           std::string(Tr(lang, " eenheden telt en het aantal met ruis boven ",
                          " units and its noisy count exceeds ")) +
           GroupedNumber(dp.selection_threshold, lang) +
           std::string(Tr(lang, " ligt (selectie-ε ", " (selection ε ")) +
           EpsilonText(dp.selection_epsilon_micro, lang) + ", δ = 10^-" +
           std::to_string(dp.delta_exponent) +
           std::string(Tr(lang, "); een totaal alleen als al zijn cellen getoond worden.",
                          "); a total only when all its cells are shown.")) +
           "\n";
  }
  std::vector<std::string> ledgers;
  for (const std::string& l : dp.ledgers) ledgers.push_back(LedgerText(l, lang));
  out += std::string(Tr(lang, "  Elke tabel kost ε ", "  Each table charges ε ")) +
         EpsilonText(dp.charge_micro, lang) +
         (laplace ? std::string() : std::string(Tr(lang, " (ρ omgerekend bij δ = 10^-8)",
                                                   " (ρ converted at δ = 10^-8)"))) +
         std::string(Tr(lang, " van het budget van uw ", " to your ")) + JoinAnd(ledgers, lang) +
         std::string(Tr(lang, "; een identieke herhaling is gratis (zie enclavectl budget).",
                        " budgets; an identical repeat is free (see enclavectl budget).")) +
         "\n";
  return out;
}

}  // namespace

std::string FormatSuggestions(const std::vector<Suggestion>& suggestions, Language lang,
                              bool refused) {
  if (suggestions.empty()) return "";
  std::string out;
  out += refused ? Tr(lang, "Deze tabel kan zo niet worden vrijgegeven.",
                      "This table cannot be released as asked.")
                 : Tr(lang, "Alle cellen van deze tabel behalve de totalen zijn vertrouwelijk.",
                      "All cells of this table except totals are confidential.");
  out += Tr(lang,
            "\nEen van deze aanvragen kan meer opleveren (voorgesteld op grond van uw parameters, "
            "niet van de gegevens):\n",
            "\nOne of these requests may give more (suggested from your parameters only, not "
            "from the data):\n");
  std::vector<std::string> commands;
  std::size_t width = 0;
  for (const Suggestion& s : suggestions) {
    std::string command;
    for (const auto& [name, value] : s.changes) {
      command += (command.empty() ? "" : " ") + std::string("--param ") + name + "=" + value;
    }
    commands.push_back(Printable(command));
    width = std::max(width, DisplayWidth(commands.back()));
  }
  for (std::size_t i = 0; i < suggestions.size(); ++i) {
    out += std::string(Tr(lang, "  Probeer: ", "  Try: ")) + PadRight(commands[i], width) +
           "  (" + SuggestionReason(suggestions[i].kind, lang) + ")\n";
  }
  return out;
}

std::string FormatTable(const QueryResult& result, Language lang) {
  std::string out;
  out += Printable(std::string(Tr(lang, "Sjabloon ", "Template ")) + result.template_id + " (" +
                   std::string(Tr(lang, "versie ", "version ")) +
                   std::to_string(result.template_version) + ")") +
         "\n";
  out += Printable(std::string(Tr(lang, "Parameters: ", "Parameters: ")) +
                   (result.parameters.empty() ? std::string(Tr(lang, "(geen)", "(none)"))
                                              : ParameterLine(result))) +
         "\n\n";

  std::vector<std::vector<std::string>> rows;
  std::vector<std::string> header;
  for (const Dimension& d : result.dimensions) header.push_back(Printable(DimensionLabel(d, lang)));
  for (const StatisticInfo& s : result.statistics) {
    header.push_back(Printable(StatisticLabel(s, lang)));
  }
  rows.push_back(std::move(header));

  const CellLookup lookup(result);
  for (const std::vector<std::uint32_t>& combination : Combinations(result.dimensions)) {
    std::vector<std::string> row;
    for (std::size_t d = 0; d < combination.size(); ++d) {
      row.push_back(Printable(CodeLabel(result.dimensions[d].codes[combination[d]], lang)));
    }
    for (std::size_t s = 0; s < result.statistics.size(); ++s) {
      const std::optional<std::int64_t> value =
          lookup.Find(combination, static_cast<std::uint32_t>(s));
      row.push_back(value.has_value() ? GroupedNumber(*value, lang)
                                      : std::string(kConfidentialMark));
    }
    rows.push_back(std::move(row));
  }
  out += RenderColumns(rows, result.dimensions.size());

  out += "\n";
  out += Tr(lang, ". = vertrouwelijk (niet gepubliceerd)", ". = confidential (not published)");
  out += "\n";
  for (const StatisticInfo& s : result.statistics) {
    const std::string per = PerText(s, lang);
    if (per.empty()) continue;
    out += Printable(std::string(Tr(lang, "Noot: ", "Note: ")) + StatisticLabel(s, lang) + ": " +
                     per + std::string(Tr(lang, ", geen percentage", ", not a percentage"))) +
           "\n";
  }
  for (const Text& note : result.notes) {
    // The server's own note on '.' says what the legend above already says: print it once.
    if (std::string_view(Pick(note, lang)).starts_with("'.' = ")) continue;
    out += Printable(std::string(Tr(lang, "Noot: ", "Note: ")) + Pick(note, lang)) + "\n";
  }
  out += Printable(std::string(Tr(lang, "Dataversie: ", "Data version: ")) + result.data_version +
                   "   " + std::string(Tr(lang, "Regelset: ", "Rule set: ")) + result.rule_set +
                   "   " + std::string(Tr(lang, "Verzoek-id: ", "Request id: ")) +
                   result.request_id) +
         "\n";
  if (result.budget_charge.has_value()) out += ChargeText(*result.budget_charge, lang);
  if (!result.suggestions.empty()) {
    out += "\n" + FormatSuggestions(result.suggestions, lang, /*refused=*/false);
  }
  return out;
}

std::string FormatCsv(const QueryResult& result, Language lang) {
  std::string out;
  std::vector<std::string> header;
  for (const Dimension& d : result.dimensions) header.push_back(d.name);
  for (const StatisticInfo& s : result.statistics) header.push_back(s.name);
  AppendCsvRow(header, out);

  const CellLookup lookup(result);
  for (const std::vector<std::uint32_t>& combination : Combinations(result.dimensions)) {
    std::vector<std::string> row;
    for (std::size_t d = 0; d < combination.size(); ++d) {
      row.push_back(CodeLabel(result.dimensions[d].codes[combination[d]], lang));
    }
    for (std::size_t s = 0; s < result.statistics.size(); ++s) {
      const std::optional<std::int64_t> value =
          lookup.Find(combination, static_cast<std::uint32_t>(s));
      row.push_back(value.has_value() ? PlainNumber(*value) : std::string(kConfidentialMark));
    }
    AppendCsvRow(row, out);
  }
  return out;
}

std::string FormatJson(const QueryResult& result) {
  std::string out = "{\n  \"metadata\": {";
  out += "\"template_id\":" + JsonString(result.template_id);
  out += ",\"template_version\":" + std::to_string(result.template_version);
  out += ",\"template_sha256\":" + JsonString(result.template_sha256);
  out += ",\"rule_set\":" + JsonString(result.rule_set);
  out += ",\"data_version\":" + JsonString(result.data_version);
  out += ",\"request_id\":" + JsonString(result.request_id);
  out += ",\"parameters\":[";
  for (std::size_t i = 0; i < result.parameters.size(); ++i) {
    if (i > 0) out += ",";
    out += "{\"name\":" + JsonString(result.parameters[i].first) +
           ",\"value\":" + JsonString(result.parameters[i].second) + "}";
  }
  out += "],\"notes\":[";
  for (std::size_t i = 0; i < result.notes.size(); ++i) {
    if (i > 0) out += ",";
    out += JsonText(result.notes[i]);
  }
  out += "]},\n  \"dimensions\": [";
  for (std::size_t i = 0; i < result.dimensions.size(); ++i) {
    const Dimension& d = result.dimensions[i];
    out += i > 0 ? ",\n    " : "\n    ";
    out += "{\"name\":" + JsonString(d.name) + ",\"label\":" + JsonText(d.label) + ",\"codes\":[";
    for (std::size_t c = 0; c < d.codes.size(); ++c) {
      if (c > 0) out += ",";
      out += "{\"code\":" + JsonString(d.codes[c].code) + ",\"label\":" + JsonText(d.codes[c].label) +
             ",\"is_total\":" + (d.codes[c].is_total ? "true" : "false") + "}";
    }
    out += "]}";
  }
  out += result.dimensions.empty() ? "],\n" : "\n  ],\n";
  out += "  \"statistics\": [";
  for (std::size_t i = 0; i < result.statistics.size(); ++i) {
    const StatisticInfo& s = result.statistics[i];
    out += i > 0 ? ",\n    " : "\n    ";
    out += "{\"name\":" + JsonString(s.name) + ",\"label\":" + JsonText(s.label) +
           ",\"kind\":" + JsonString(s.kind) + ",\"precision\":" + std::to_string(s.precision) +
           (s.per != 0 ? ",\"per\":" + std::to_string(s.per) : std::string()) + "}";
  }
  out += result.statistics.empty() ? "],\n" : "\n  ],\n";
  if (result.budget_charge.has_value()) {
    const BudgetCharge& c = *result.budget_charge;
    out += "  \"budget_charge\": {\"charged_micro\":" + std::to_string(c.charged_micro) +
           ",\"repeat\":" + (c.repeat ? "true" : "false") + ",\"ledgers\":[";
    for (std::size_t i = 0; i < c.ledgers.size(); ++i) {
      const BudgetLedger& l = c.ledgers[i];
      if (i > 0) out += ",";
      out += "{\"ledger\":" + JsonString(l.ledger) +
             ",\"cap_micro\":" + std::to_string(l.cap_micro) +
             ",\"spent_micro\":" + std::to_string(l.spent_micro) +
             ",\"reserved_micro\":" + std::to_string(l.reserved_micro) +
             ",\"remaining_micro\":" + std::to_string(l.remaining_micro) + "}";
    }
    out += "]},\n";
  }
  if (!result.suggestions.empty()) {
    out += "  \"suggestions\": " + JsonSuggestions(result.suggestions) + ",\n";
  }
  out += "  \"cells\": [";
  const CellLookup lookup(result);
  bool first = true;
  for (const std::vector<std::uint32_t>& combination : Combinations(result.dimensions)) {
    for (std::size_t s = 0; s < result.statistics.size(); ++s) {
      out += first ? "\n    " : ",\n    ";
      first = false;
      std::vector<std::string> coordinates;
      std::vector<std::string> codes;
      for (std::size_t d = 0; d < combination.size(); ++d) {
        coordinates.push_back(std::to_string(combination[d]));
        codes.push_back(JsonString(result.dimensions[d].codes[combination[d]].code));
      }
      out += "{\"coordinates\":[" + Join(coordinates, ",") + "],\"codes\":[" + Join(codes, ",") +
             "],\"statistic\":" + JsonString(result.statistics[s].name);
      const std::optional<std::int64_t> value =
          lookup.Find(combination, static_cast<std::uint32_t>(s));
      if (value.has_value()) {
        out += ",\"status\":\"released\",\"value\":" + PlainNumber(*value) + "}";
      } else {
        out += ",\"status\":\"confidential\",\"value\":null}";
      }
    }
  }
  out += first ? "]\n}\n" : "\n  ]\n}\n";
  return out;
}

std::string FormatTemplateList(const std::vector<TemplateSummary>& templates, Language lang) {
  if (templates.empty()) {
    return std::string(Tr(lang, "Geen sjablonen beschikbaar voor uw rol.\n",
                          "No templates available for your role.\n"));
  }
  std::vector<std::vector<std::string>> rows;
  rows.push_back({std::string(Tr(lang, "Sjabloon", "Template")),
                  std::string(Tr(lang, "Versie", "Version")),
                  std::string(Tr(lang, "Thema", "Theme")), std::string(Tr(lang, "Titel", "Title"))});
  for (const TemplateSummary& t : templates) {
    rows.push_back({Printable(t.id), std::to_string(t.version), Printable(t.theme),
                    Printable(Pick(t.title, lang))});
  }
  // All columns left-aligned: the version is an identifier, not a quantity.
  return RenderColumns(rows, 4);
}

std::string FormatTemplateInfo(const TemplateInfo& info, Language lang) {
  std::string out;
  out += Printable(info.summary.id + " (" + std::string(Tr(lang, "versie ", "version ")) +
                   std::to_string(info.summary.version) + ")");
  const std::string& title = Pick(info.summary.title, lang);
  if (!title.empty()) out += Printable(" - " + title);
  out += "\n";
  if (!info.summary.theme.empty()) {
    out += Printable(std::string(Tr(lang, "Thema: ", "Theme: ")) + info.summary.theme) + "\n";
  }
  const std::string& description = Pick(info.description, lang);
  if (!description.empty()) out += "\n" + Printable(description) + "\n";

  out += "\n";
  if (!info.unit.empty()) {
    out += Printable(std::string(Tr(lang, "Eenheid: ", "Unit: ")) + UnitText(info.unit, lang)) +
           "\n";
  }
  if (info.dp.has_value()) {
    out += DpInfoText(*info.dp, info.min_units, lang);
  } else if (info.min_units > 0) {
    out += std::string(Tr(lang, "Gepubliceerde cellen tellen minstens ",
                          "Published cells count at least ")) +
           GroupedNumber(info.min_units, lang) +
           std::string(Tr(lang, " eenheden", " units")) + "\n";
  }
  if (!info.rule_set.empty() && !info.dp.has_value()) {
    out += Printable(std::string(Tr(lang, "Regelset: ", "Rule set: ")) + info.rule_set) + "\n";
  }

  out += "\n";
  out += Tr(lang, "Parameters:\n", "Parameters:\n");
  if (info.parameters.empty()) out += Tr(lang, "  (geen)\n", "  (none)\n");
  for (const ParameterInfo& p : info.parameters) {
    std::string line = "  " + p.name + " (" + ParameterTypeText(p.type, lang);
    if (p.type == "integer") {
      line += ", " + std::to_string(p.min) + std::string(Tr(lang, " t/m ", "..")) +
              std::to_string(p.max);
    }
    if (p.default_value.empty()) {
      line += std::string(Tr(lang, ", verplicht", ", required"));
    } else {
      line += std::string(Tr(lang, ", standaard ", ", default ")) + p.default_value;
    }
    line += ")";
    out += Printable(line) + "\n";
    const std::string& pdesc = Pick(p.description, lang);
    if (!pdesc.empty()) out += "      " + Printable(pdesc) + "\n";
    if (!p.allowed_values.empty()) {
      out += Tr(lang, "      toegestane waarden:\n", "      allowed values:\n");
      std::size_t width = 0;
      for (const AllowedValue& v : p.allowed_values) {
        width = std::max(width, DisplayWidth(Printable(v.code)));
      }
      for (const AllowedValue& v : p.allowed_values) {
        std::string value_line = "        " + PadRight(Printable(v.code), width);
        const std::string& label = Pick(v.label, lang);
        if (!label.empty()) value_line += "  " + Printable(label);
        if (v.code == p.default_value) {
          value_line += std::string(Tr(lang, "  (standaard)", "  (default)"));
        }
        out += value_line + "\n";
      }
    }
  }

  out += "\n";
  out += Tr(lang, "Statistieken:\n", "Statistics:\n");
  if (info.statistics.empty()) out += Tr(lang, "  (geen)\n", "  (none)\n");
  std::size_t width = 0;
  for (const StatisticInfo& s : info.statistics) {
    width = std::max(width, DisplayWidth(Printable(s.name)));
  }
  for (const StatisticInfo& s : info.statistics) {
    std::string line = "  " + PadRight(Printable(s.name), width) + "  " +
                       Printable(StatisticLabel(s, lang)) + " (" +
                       Printable(KindText(s.kind, lang));
    if (const std::string per = PerText(s, lang); !per.empty()) line += " " + per;
    if (s.precision > 1) {
      line += std::string(Tr(lang, ", afgerond op ", ", rounded to ")) +
              GroupedNumber(s.precision, lang);
    }
    line += ")";
    out += line + "\n";
  }
  return out;
}

namespace {

// 1234567 micro-ε -> "1.234567" (integers only: no rounding).
std::string Epsilon(std::int64_t micro) {
  const bool negative = micro < 0;
  const std::uint64_t m = negative ? static_cast<std::uint64_t>(-(micro + 1)) + 1
                                   : static_cast<std::uint64_t>(micro);
  std::string frac = std::to_string(m % 1000000);
  frac.insert(0, 6 - frac.size(), '0');
  return (negative ? "-" : "") + std::to_string(m / 1000000) + "." + frac;
}

}  // namespace

std::string FormatBudget(const std::vector<BudgetLedger>& ledgers, Language lang) {
  std::vector<std::vector<std::string>> rows;
  rows.push_back({std::string(Tr(lang, "Budget", "Ledger")),
                  std::string(Tr(lang, "Plafond", "Cap")),
                  std::string(Tr(lang, "Besteed", "Spent")),
                  std::string(Tr(lang, "Gereserveerd", "Reserved")),
                  std::string(Tr(lang, "Resterend", "Remaining"))});
  const auto amount = [lang](std::int64_t micro) {
    std::string text = Epsilon(micro);
    if (lang == Language::kNl) std::replace(text.begin(), text.end(), '.', ',');
    return text;
  };
  for (const BudgetLedger& l : ledgers) {
    rows.push_back({Printable(l.ledger), amount(l.cap_micro),
                    amount(l.spent_micro), amount(l.reserved_micro), amount(l.remaining_micro)});
  }
  std::string out = RenderColumns(rows, 1);
  if (ledgers.empty()) out += Tr(lang, "(geen budgetten)\n", "(no ledgers)\n");
  out += Tr(lang,
            "Bedragen in epsilon (ε). Een query met differentiële privacy draait alleen als de "
            "kosten in elk budget passen.\n",
            "Amounts in epsilon (ε). A differentially private query runs only if its charge fits "
            "in every ledger.\n");
  return out;
}

namespace {

// JSON strings with or without the web API's extra escaping of < > &.
struct JsonStrings {
  bool escape_markup;
  std::string String(std::string_view s) const {
    return base::JsonString(s, {.escape_markup = escape_markup});
  }
  std::string Text(const client::Text& text) const {
    return "{\"nl\":" + String(text.nl) + ",\"en\":" + String(text.en) + "}";
  }
};

}  // namespace

std::string FormatTemplateListJson(const std::vector<TemplateSummary>& templates,
                                   bool escape_markup) {
  const JsonStrings json{escape_markup};
  std::string out = "{\"templates\":[";
  for (std::size_t i = 0; i < templates.size(); ++i) {
    const auto& t = templates[i];
    if (i > 0) out += ",";
    out += "{\"id\":" + json.String(t.id) + ",\"version\":" + std::to_string(t.version) +
           ",\"theme\":" + json.String(t.theme) + ",\"title\":" + json.Text(t.title) + "}";
  }
  return out + "]}";
}

std::string FormatTemplateInfoJson(const TemplateInfo& info, bool escape_markup) {
  const JsonStrings json{escape_markup};
  std::string out = "{\"id\":" + json.String(info.summary.id) +
                    ",\"version\":" + std::to_string(info.summary.version) +
                    ",\"theme\":" + json.String(info.summary.theme) +
                    ",\"title\":" + json.Text(info.summary.title) +
                    ",\"description\":" + json.Text(info.description) + ",\"parameters\":[";
  for (std::size_t i = 0; i < info.parameters.size(); ++i) {
    const auto& p = info.parameters[i];
    if (i > 0) out += ",";
    out += "{\"name\":" + json.String(p.name) + ",\"type\":" + json.String(p.type) +
           ",\"description\":" + json.Text(p.description) + ",\"min\":" + std::to_string(p.min) +
           ",\"max\":" + std::to_string(p.max) + ",\"allowed_values\":[";
    for (std::size_t v = 0; v < p.allowed_values.size(); ++v) {
      if (v > 0) out += ",";
      out += "{\"code\":" + json.String(p.allowed_values[v].code) +
             ",\"label\":" + json.Text(p.allowed_values[v].label) + "}";
    }
    out += "],\"default\":" + json.String(p.default_value) + "}";
  }
  out += "],\"statistics\":[";
  for (std::size_t i = 0; i < info.statistics.size(); ++i) {
    const auto& s = info.statistics[i];
    if (i > 0) out += ",";
    out += "{\"name\":" + json.String(s.name) + ",\"label\":" + json.Text(s.label) +
           ",\"kind\":" + json.String(s.kind) + ",\"precision\":" + std::to_string(s.precision) +
           (s.per != 0 ? ",\"per\":" + std::to_string(s.per) : std::string()) + "}";
  }
  out += "],\"unit\":" + json.String(info.unit) + ",\"rule_set\":" + json.String(info.rule_set) +
         ",\"min_units\":" + std::to_string(info.min_units) + ",\"dp\":";
  if (!info.dp.has_value()) {
    out += "null";
  } else {
    const DpInfo& dp = *info.dp;
    out += "{\"mechanism\":" + json.String(dp.mechanism) +
           ",\"charge_micro\":" + std::to_string(dp.charge_micro) +
           ",\"epsilon_micro\":" + std::to_string(dp.epsilon_micro) +
           ",\"rho_micro\":" + std::to_string(dp.rho_micro) +
           ",\"max_cells_per_unit\":" + std::to_string(dp.max_cells_per_unit) +
           ",\"cells_public\":" + (dp.cells_public ? "true" : "false") +
           ",\"display_threshold\":" + std::to_string(dp.display_threshold) +
           ",\"selection_epsilon_micro\":" + std::to_string(dp.selection_epsilon_micro) +
           ",\"selection_threshold\":" + std::to_string(dp.selection_threshold) +
           ",\"delta_exponent\":" + std::to_string(dp.delta_exponent) + ",\"ledgers\":[";
    for (std::size_t i = 0; i < dp.ledgers.size(); ++i) {
      if (i > 0) out += ",";
      out += json.String(dp.ledgers[i]);
    }
    out += "]}";
  }
  return out + "}";
}

std::string FormatBudgetJson(const std::vector<BudgetLedger>& ledgers, bool escape_markup) {
  const JsonStrings json{escape_markup};
  std::string out = "{\"ledgers\":[";
  for (std::size_t i = 0; i < ledgers.size(); ++i) {
    const auto& l = ledgers[i];
    if (i > 0) out += ",";
    out += "{\"ledger\":" + json.String(l.ledger) +
           ",\"cap_micro\":" + std::to_string(l.cap_micro) +
           ",\"spent_micro\":" + std::to_string(l.spent_micro) +
           ",\"reserved_micro\":" + std::to_string(l.reserved_micro) +
           ",\"remaining_micro\":" + std::to_string(l.remaining_micro) + "}";
  }
  return out + "]}";
}

}  // namespace enclave::client
