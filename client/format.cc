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

std::string GroupedNumber(std::int64_t value, Language lang) {
  const char separator = lang == Language::kNl ? '.' : ',';
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

std::string JsonString(std::string_view s) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out = "\"";
  for (const char c : s) {
    const auto u = static_cast<unsigned char>(c);
    switch (c) {
      case '"':
        out += "\\\"";
        break;
      case '\\':
        out += "\\\\";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\r':
        out += "\\r";
        break;
      case '\t':
        out += "\\t";
        break;
      case '\b':
        out += "\\b";
        break;
      case '\f':
        out += "\\f";
        break;
      default:
        if (u < 0x20) {
          out += "\\u00";
          out.push_back(kHex[u >> 4]);
          out.push_back(kHex[u & 0x0f]);
        } else {
          out.push_back(c);  // UTF-8 passes through unchanged
        }
    }
  }
  out.push_back('"');
  return out;
}

std::string JsonText(const Text& text) {
  return "{\"nl\":" + JsonString(text.nl) + ",\"en\":" + JsonString(text.en) + "}";
}

}  // namespace

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
           ",\"kind\":" + JsonString(s.kind) + ",\"precision\":" + std::to_string(s.precision) + "}";
  }
  out += result.statistics.empty() ? "],\n" : "\n  ],\n";
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
    out += Printable(std::string(Tr(lang, "Eenheid: ", "Unit: ")) + info.unit) + "\n";
  }
  if (info.min_units > 0) {
    out += std::string(Tr(lang, "Gepubliceerde cellen tellen minstens ",
                          "Published cells count at least ")) +
           GroupedNumber(info.min_units, lang) +
           std::string(Tr(lang, " eenheden", " units")) + "\n";
  }
  if (!info.rule_set.empty()) {
    out += Printable(std::string(Tr(lang, "Regelset: ", "Rule set: ")) + info.rule_set) + "\n";
  }

  out += "\n";
  out += Tr(lang, "Parameters:\n", "Parameters:\n");
  if (info.parameters.empty()) out += Tr(lang, "  (geen)\n", "  (none)\n");
  for (const ParameterInfo& p : info.parameters) {
    std::string line = "  " + p.name + " (" + p.type;
    if (p.type == "integer") {
      line += ", " + std::to_string(p.min) + ".." + std::to_string(p.max);
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
                       Printable(StatisticLabel(s, lang)) + " (" + Printable(s.kind);
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

std::string FormatBudget(const std::vector<BudgetLedger>& ledgers) {
  std::size_t width = std::string("ledger").size();
  for (const BudgetLedger& l : ledgers) width = std::max(width, l.ledger.size());
  auto pad = [](std::string text, std::size_t w) {
    if (text.size() < w) text.insert(0, w - text.size(), ' ');
    return text;
  };
  auto left = [](std::string text, std::size_t w) {
    if (text.size() < w) text.append(w - text.size(), ' ');
    return text;
  };
  std::string out = left("ledger", width) + "  " + pad("cap", 12) + "  " +
                    pad("spent", 12) + "  " + pad("reserved", 12) + "  " + pad("remaining", 12) +
                    "\n";
  for (const BudgetLedger& l : ledgers) {
    out += left(l.ledger, width) + "  " + pad(Epsilon(l.cap_micro), 12) + "  " +
           pad(Epsilon(l.spent_micro), 12) + "  " + pad(Epsilon(l.reserved_micro), 12) + "  " +
           pad(Epsilon(l.remaining_micro), 12) + "\n";
  }
  if (ledgers.empty()) out += "(no ledgers)\n";
  out += "Amounts in epsilon. A differentially private query runs only if its charge fits in "
         "every ledger.\n";
  return out;
}

}  // namespace enclave::client
