// Rendering of released tables: confidential cells never show a number in any format.
#include "enclave/client/format.h"

#include <doctest/doctest.h>

#include <algorithm>
#include <cctype>
#include <string>
#include <string_view>
#include <vector>

namespace enclave::client {
namespace {

// A strict recursive-descent JSON checker (RFC 8259 grammar), enough to prove validity.
class JsonChecker {
 public:
  explicit JsonChecker(std::string_view text) : s_(text) {}
  bool Valid() {
    SkipSpace();
    if (!Value()) return false;
    SkipSpace();
    return pos_ == s_.size();
  }

 private:
  void SkipSpace() {
    while (pos_ < s_.size() &&
           (s_[pos_] == ' ' || s_[pos_] == '\n' || s_[pos_] == '\r' || s_[pos_] == '\t')) {
      ++pos_;
    }
  }
  bool Literal(std::string_view word) {
    if (s_.substr(pos_, word.size()) != word) return false;
    pos_ += word.size();
    return true;
  }
  bool Value() {
    if (pos_ >= s_.size()) return false;
    switch (s_[pos_]) {
      case '{':
        return Object();
      case '[':
        return Array();
      case '"':
        return String();
      case 't':
        return Literal("true");
      case 'f':
        return Literal("false");
      case 'n':
        return Literal("null");
      default:
        return Number();
    }
  }
  bool Object() {
    ++pos_;
    SkipSpace();
    if (pos_ < s_.size() && s_[pos_] == '}') return ++pos_, true;
    for (;;) {
      SkipSpace();
      if (!String()) return false;
      SkipSpace();
      if (pos_ >= s_.size() || s_[pos_] != ':') return false;
      ++pos_;
      SkipSpace();
      if (!Value()) return false;
      SkipSpace();
      if (pos_ >= s_.size()) return false;
      if (s_[pos_] == '}') return ++pos_, true;
      if (s_[pos_] != ',') return false;
      ++pos_;
    }
  }
  bool Array() {
    ++pos_;
    SkipSpace();
    if (pos_ < s_.size() && s_[pos_] == ']') return ++pos_, true;
    for (;;) {
      SkipSpace();
      if (!Value()) return false;
      SkipSpace();
      if (pos_ >= s_.size()) return false;
      if (s_[pos_] == ']') return ++pos_, true;
      if (s_[pos_] != ',') return false;
      ++pos_;
    }
  }
  bool String() {
    if (pos_ >= s_.size() || s_[pos_] != '"') return false;
    ++pos_;
    while (pos_ < s_.size()) {
      const auto c = static_cast<unsigned char>(s_[pos_]);
      if (c == '"') return ++pos_, true;
      if (c < 0x20) return false;  // raw control characters are invalid
      if (c == '\\') {
        ++pos_;
        if (pos_ >= s_.size()) return false;
        const char e = s_[pos_];
        if (e == 'u') {
          for (int i = 0; i < 4; ++i) {
            ++pos_;
            if (pos_ >= s_.size() || std::isxdigit(static_cast<unsigned char>(s_[pos_])) == 0) {
              return false;
            }
          }
        } else if (std::string_view("\"\\/bfnrt").find(e) == std::string_view::npos) {
          return false;
        }
      }
      ++pos_;
    }
    return false;
  }
  bool Number() {
    const std::size_t start = pos_;
    if (pos_ < s_.size() && s_[pos_] == '-') ++pos_;
    std::size_t digits = 0;
    while (pos_ < s_.size() && std::isdigit(static_cast<unsigned char>(s_[pos_])) != 0) {
      ++pos_;
      ++digits;
    }
    if (digits == 0) return false;
    if (digits > 1 && s_[start + (s_[start] == '-' ? 1 : 0)] == '0') return false;
    return true;
  }

  std::string_view s_;
  std::size_t pos_ = 0;
};

StatisticInfo Stat(std::string name, std::string nl, std::string en) {
  return StatisticInfo{std::move(name), Text{std::move(nl), std::move(en)}, "count", 5};
}

// wijk: Centrum = 1234567, Noord = confidential, Zuid = 5678, total = 1240000 (label empty).
QueryResult OneDimensional() {
  QueryResult r;
  r.template_id = "zzp_aantal_per_wijk";
  r.template_version = 3;
  r.template_sha256 = "ab12";
  r.rule_set = "cbs-default@1";
  r.data_version = "2024-06";
  r.request_id = "req-42";
  r.parameters = {{"geo", "wijk"}, {"year", "2023"}};
  r.notes = {Text{"Totalen zijn berekend uit de microdata.", "Totals are computed from the microdata."}};
  Dimension wijk;
  wijk.name = "wijk";
  wijk.label = Text{"Wijk", "District"};
  wijk.codes = {Code{"wijk-01", Text{"Centrum", "Centre"}, false},
                Code{"wijk-02", Text{"Noord", "North"}, false},
                Code{"wijk-03", Text{"Zuid", "South"}, false},
                Code{"T001", Text{}, true}};
  r.dimensions = {wijk};
  r.statistics = {Stat("persons", "Personen", "Persons")};
  r.cells = {Cell{{0}, 0, 1234567}, Cell{{1}, 0, std::nullopt}, Cell{{2}, 0, 5678},
             Cell{{3}, 0, 1240000}};
  return r;
}

std::string LineContaining(const std::string& text, std::string_view needle) {
  std::size_t start = 0;
  while (start < text.size()) {
    std::size_t end = text.find('\n', start);
    if (end == std::string::npos) end = text.size();
    const std::string line = text.substr(start, end - start);
    if (line.find(needle) != std::string::npos) return line;
    start = end + 1;
  }
  return {};
}

bool HasDigit(std::string_view s) {
  for (const char c : s) {
    if (std::isdigit(static_cast<unsigned char>(c)) != 0) return true;
  }
  return false;
}

}  // namespace

TEST_SUITE("FormatTable") {
  TEST_CASE("a confidential cell shows as a dot and never as a number, between released neighbours") {
    const QueryResult r = OneDimensional();
    for (const Language lang : {Language::kEn, Language::kNl}) {
      const std::string table = FormatTable(r, lang);
      const std::string row = LineContaining(table, lang == Language::kEn ? "North" : "Noord");
      REQUIRE_FALSE(row.empty());
      CHECK_FALSE(HasDigit(row));
      CHECK(row.back() == '.');
      // The neighbours are released and shown.
      CHECK(HasDigit(LineContaining(table, lang == Language::kEn ? "Centre" : "Centrum")));
      CHECK(HasDigit(LineContaining(table, lang == Language::kEn ? "South" : "Zuid")));
    }
  }

  TEST_CASE("a cell missing from the response or withheld in a duplicate is confidential") {
    QueryResult r = OneDimensional();
    r.cells.erase(r.cells.begin() + 2);             // Zuid: no cell at all
    r.cells.push_back(Cell{{0}, 0, std::nullopt});  // Centrum: also sent as withheld
    const std::string table = FormatTable(r, Language::kEn);
    CHECK_FALSE(HasDigit(LineContaining(table, "South")));
    CHECK_FALSE(HasDigit(LineContaining(table, "Centre")));
    const std::string csv = FormatCsv(r, Language::kEn);
    CHECK(csv.find("South,.\r\n") != std::string::npos);
    CHECK(csv.find("Centre,.\r\n") != std::string::npos);
  }

  TEST_CASE("the legend explains the dot in the chosen language") {
    const QueryResult r = OneDimensional();
    CHECK(FormatTable(r, Language::kEn).find(". = confidential (not published)") != std::string::npos);
    CHECK(FormatTable(r, Language::kNl).find(". = vertrouwelijk (niet gepubliceerd)") !=
          std::string::npos);
  }

  TEST_CASE("the server's note on the dot is not printed a second time under the legend") {
    QueryResult r = OneDimensional();
    r.notes.push_back(Text{"'.' = geheim", "'.' = confidential"});
    const std::string table = FormatTable(r, Language::kEn);
    std::size_t mentions = 0;
    for (std::size_t at = table.find("confidential"); at != std::string::npos;
         at = table.find("confidential", at + 1)) {
      ++mentions;
    }
    CHECK(mentions == 1);
    CHECK(table.find("Totals are computed from the microdata.") != std::string::npos);
  }

  TEST_CASE("a rate per 1,000 is labelled with its unit under the table, a percentage is not") {
    QueryResult r = OneDimensional();
    StatisticInfo pct{"pct", Text{"Aandeel in %", "Share, %"}, "share", 1, 100};
    StatisticInfo rate{"per_1000", Text{"Bijstand per 1 000 inwoners", "Assistance per 1,000 residents"},
                       "share", 1, 1000};
    r.statistics = {pct, rate};
    r.cells = {Cell{{0}, 0, 5}, Cell{{0}, 1, 52}, Cell{{3}, 0, 3}, Cell{{3}, 1, 1234}};
    const std::string nl = FormatTable(r, Language::kNl);
    const std::string en = FormatTable(r, Language::kEn);
    CHECK(nl.find("Noot: Bijstand per 1 000 inwoners: per 1 000, geen percentage") !=
          std::string::npos);
    CHECK(en.find("Note: Assistance per 1,000 residents: per 1,000, not a percentage") !=
          std::string::npos);
    // Dutch groups with a space, never '.', the confidential mark.
    CHECK(nl.find("per 1.000") == std::string::npos);
    CHECK(LineContaining(nl, "Totaal").find("1 234") != std::string::npos);
    CHECK(LineContaining(en, "Total").find("1,234") != std::string::npos);
    // The percentage gets no such note; nor does a share from a server that does not send `per`.
    CHECK(en.find("Share, %: per") == std::string::npos);
    r.statistics[1].per = 0;
    CHECK(FormatTable(r, Language::kEn).find("not a percentage") == std::string::npos);
  }

  TEST_CASE("numbers use the language's thousands separator") {
    const QueryResult r = OneDimensional();
    const std::string en = FormatTable(r, Language::kEn);
    const std::string nl = FormatTable(r, Language::kNl);
    CHECK(LineContaining(en, "Centre").find("1,234,567") != std::string::npos);
    CHECK(LineContaining(nl, "Centrum").find("1 234 567") != std::string::npos);
    CHECK(LineContaining(en, "South").find("5,678") != std::string::npos);
    CHECK(LineContaining(nl, "Zuid").find("5 678") != std::string::npos);
    // '.' is the confidential mark only: no released number contains it in either language.
    CHECK(LineContaining(nl, "Centrum").find('.') == std::string::npos);
  }

  TEST_CASE("negative and extreme values are grouped correctly") {
    QueryResult r = OneDimensional();
    r.cells[0].value = -1234;
    r.cells[2].value = std::numeric_limits<std::int64_t>::min();
    const std::string en = FormatTable(r, Language::kEn);
    CHECK(LineContaining(en, "Centre").find("-1,234") != std::string::npos);
    CHECK(LineContaining(en, "South").find("-9,223,372,036,854,775,808") != std::string::npos);
  }

  TEST_CASE("an unlabelled total is called Totaal or Total") {
    const QueryResult r = OneDimensional();
    CHECK(LineContaining(FormatTable(r, Language::kNl), "Totaal").find("1 240 000") !=
          std::string::npos);
    CHECK(LineContaining(FormatTable(r, Language::kEn), "Total").find("1,240,000") !=
          std::string::npos);
  }

  TEST_CASE("the table shows template, parameters, notes, data version, rule set and request id") {
    const std::string t = FormatTable(OneDimensional(), Language::kEn);
    CHECK(t.find("zzp_aantal_per_wijk") != std::string::npos);
    CHECK(t.find("version 3") != std::string::npos);
    CHECK(t.find("geo=wijk, year=2023") != std::string::npos);
    CHECK(t.find("Totals are computed from the microdata.") != std::string::npos);
    CHECK(t.find("2024-06") != std::string::npos);
    CHECK(t.find("cbs-default@1") != std::string::npos);
    CHECK(t.find("req-42") != std::string::npos);
    CHECK(t.find("District") != std::string::npos);
    CHECK(t.find("Persons") != std::string::npos);
  }

  TEST_CASE("columns are aligned: every data row has the same display width") {
    const std::string t = FormatTable(OneDimensional(), Language::kEn);
    const std::size_t width = LineContaining(t, "Centre").size();
    CHECK(LineContaining(t, "North").size() == width);
    CHECK(LineContaining(t, "South").size() == width);
  }

  TEST_CASE("a two-dimensional table has one row per combination with both labels") {
    QueryResult r = OneDimensional();
    Dimension sex;
    sex.name = "geslacht";
    sex.label = Text{"Geslacht", "Sex"};
    sex.codes = {Code{"M", Text{"Man", "Male"}, false}, Code{"V", Text{"Vrouw", "Female"}, false}};
    r.dimensions.push_back(sex);
    r.statistics.push_back(Stat("share", "Aandeel", "Share"));
    r.cells.clear();
    std::int64_t v = 1000;
    for (std::uint32_t w = 0; w < 4; ++w) {
      for (std::uint32_t g = 0; g < 2; ++g) {
        for (std::uint32_t s = 0; s < 2; ++s) {
          const bool withheld = w == 1 && g == 1 && s == 0;
          r.cells.push_back(Cell{{w, g}, s, withheld ? std::nullopt : std::optional(v++)});
        }
      }
    }
    const std::string t = FormatTable(r, Language::kEn);
    std::size_t rows = 0;
    for (std::size_t p = 0; (p = t.find('\n', p)) != std::string::npos; ++p) {
      const std::string line = t.substr(p + 1, t.find('\n', p + 1) - p - 1);
      if (line.find("Male") != std::string::npos || line.find("Female") != std::string::npos) {
        ++rows;
      }
    }
    CHECK(rows == 8);
    // The withheld cell is North/Female, first statistic: ". " followed by the released share.
    std::string north_female;
    std::size_t start = 0;
    while ((start = t.find("North", start)) != std::string::npos) {
      const std::string line = t.substr(start, t.find('\n', start) - start);
      if (line.find("Female") != std::string::npos) north_female = line;
      ++start;
    }
    REQUIRE_FALSE(north_female.empty());
    CHECK(north_female.find(" . ") != std::string::npos);
    CHECK(north_female.find("1,006") != std::string::npos);  // the share beside it is released
    const std::string csv = FormatCsv(r, Language::kEn);
    CHECK(csv.find("wijk,geslacht,persons,share\r\n") == 0);
    CHECK(csv.find("North,Female,.,1006\r\n") != std::string::npos);
    CHECK(csv.find("Total,Male,1011,1012\r\n") != std::string::npos);
  }

  TEST_CASE("control characters from the server are not passed to the terminal") {
    QueryResult r = OneDimensional();
    r.dimensions[0].codes[0].label.en = "Cen\x1b[2Jtre";
    const std::string t = FormatTable(r, Language::kEn);
    CHECK(t.find('\x1b') == std::string::npos);
    CHECK(t.find("Cen?[2Jtre") != std::string::npos);
  }
}

TEST_SUITE("FormatCsv") {
  TEST_CASE("the header names dimensions and statistics and rows hold plain integers") {
    const std::string csv = FormatCsv(OneDimensional(), Language::kEn);
    CHECK(csv ==
          "wijk,persons\r\n"
          "Centre,1234567\r\n"
          "North,.\r\n"
          "South,5678\r\n"
          "Total,1240000\r\n");
  }

  TEST_CASE("labels with commas, quotes and newlines are quoted per RFC 4180") {
    QueryResult r = OneDimensional();
    r.dimensions[0].codes[0].label.nl = "Leidschendam, \"centrum\"";
    r.dimensions[0].codes[2].label.nl = "Zuid\nwest";
    const std::string csv = FormatCsv(r, Language::kNl);
    CHECK(csv.find("\"Leidschendam, \"\"centrum\"\"\",1234567\r\n") != std::string::npos);
    CHECK(csv.find("\"Zuid\nwest\",5678\r\n") != std::string::npos);
    CHECK(csv.find("Noord,.\r\n") != std::string::npos);
    CHECK(csv.find("Totaal,1240000\r\n") != std::string::npos);
  }
}

TEST_SUITE("FormatJson") {
  TEST_CASE("a confidential cell has status confidential and a null value") {
    const std::string json = FormatJson(OneDimensional());
    CHECK(json.find("{\"coordinates\":[1],\"codes\":[\"wijk-02\"],\"statistic\":\"persons\","
                    "\"status\":\"confidential\",\"value\":null}") != std::string::npos);
    CHECK(json.find("{\"coordinates\":[0],\"codes\":[\"wijk-01\"],\"statistic\":\"persons\","
                    "\"status\":\"released\",\"value\":1234567}") != std::string::npos);
    // Exactly one confidential cell and three released ones.
    std::size_t confidential = 0;
    std::size_t released = 0;
    constexpr std::string_view kConfidential = "\"status\":\"confidential\"";
    constexpr std::string_view kReleased = "\"status\":\"released\"";
    for (std::size_t p = 0; (p = json.find("\"status\":\"", p)) != std::string::npos; ++p) {
      if (json.compare(p, kConfidential.size(), kConfidential) == 0) ++confidential;
      if (json.compare(p, kReleased.size(), kReleased) == 0) ++released;
    }
    CHECK(confidential == 1);
    CHECK(released == 3);
  }

  TEST_CASE("a share carries its per in JSON, other kinds do not") {
    QueryResult r = OneDimensional();
    r.statistics.push_back(StatisticInfo{"per_1000", Text{"Per 1 000", "Per 1,000"}, "share", 1, 1000});
    const std::string json = FormatJson(r);
    CHECK(JsonChecker(json).Valid());
    CHECK(json.find("\"kind\":\"share\",\"precision\":1,\"per\":1000}") != std::string::npos);
    CHECK(json.find("\"kind\":\"count\",\"precision\":5}") != std::string::npos);
  }

  TEST_CASE("the output is valid JSON with metadata, dimensions, statistics and cells") {
    const std::string json = FormatJson(OneDimensional());
    CHECK(JsonChecker(json).Valid());
    for (const char* key : {"\"metadata\"", "\"dimensions\"", "\"statistics\"", "\"cells\"",
                            "\"template_id\":\"zzp_aantal_per_wijk\"", "\"template_version\":3",
                            "\"rule_set\":\"cbs-default@1\"", "\"data_version\":\"2024-06\"",
                            "\"request_id\":\"req-42\"", "\"is_total\":true"}) {
      CHECK_MESSAGE(json.find(key) != std::string::npos, key);
    }
  }

  TEST_CASE("quotes, backslashes and control characters are escaped and UTF-8 passes through") {
    QueryResult r = OneDimensional();
    r.dimensions[0].codes[0].label.nl = "Say \"hi\" \\ back\nnext\ttab\x01 café €";
    const std::string json = FormatJson(r);
    CHECK(JsonChecker(json).Valid());
    CHECK(json.find(R"("Say \"hi\" \\ back\nnext\ttab\u0001 café €")") != std::string::npos);
  }

  TEST_CASE("the checker used here rejects invalid JSON") {
    CHECK_FALSE(JsonChecker("{\"a\":1,}").Valid());
    CHECK_FALSE(JsonChecker("{\"a\":\"x\ny\"}").Valid());
    CHECK_FALSE(JsonChecker("[1,2").Valid());
    CHECK(JsonChecker("{\"a\":[1,null,true,\"\\u0001\"]}").Valid());
  }

  TEST_CASE("an empty table is still valid JSON") {
    QueryResult r;
    CHECK(JsonChecker(FormatJson(r)).Valid());
  }
}

TEST_SUITE("FormatTemplates") {
  static TemplateInfo Info() {
    TemplateInfo info;
    info.summary = TemplateSummary{"zzp_aantal_per_wijk", 3, "zzp", Text{"Zzp'ers per wijk", "Self-employed by district"}};
    info.description = Text{"Aantal zzp'ers.", "Number of self-employed."};
    ParameterInfo year;
    year.name = "year";
    year.type = "integer";
    year.min = 2018;
    year.max = 2023;
    year.default_value = "2023";
    ParameterInfo geo;
    geo.name = "geo";
    geo.type = "breakdown";
    geo.description = Text{"Geografisch niveau", "Geographic level"};
    geo.allowed_values = {AllowedValue{"ALL", Text{"Gemeente", "Municipality"}},
                          AllowedValue{"wijk", Text{"Wijk", "District"}}};
    info.parameters = {year, geo};
    info.statistics = {Stat("persons", "Personen", "Persons")};
    info.unit = "person";
    info.min_units = 10;
    info.rule_set = "cbs-default@1";
    return info;
  }

  TEST_CASE("a template description lists parameters with type, range, allowed values and default") {
    const std::string en = FormatTemplateInfo(Info(), Language::kEn);
    CHECK(en.find("Self-employed by district") != std::string::npos);
    CHECK(en.find("year (integer, 2018..2023, default 2023)") != std::string::npos);
    CHECK(en.find("geo (breakdown, required)") != std::string::npos);
    CHECK(en.find("Geographic level") != std::string::npos);
    CHECK(LineContaining(en, "ALL").find("Municipality") != std::string::npos);
    CHECK(LineContaining(en, "  wijk ").find("District") != std::string::npos);
    CHECK(LineContaining(en, "persons").find("Persons") != std::string::npos);
    CHECK(en.find("cbs-default@1") != std::string::npos);
    const std::string nl = FormatTemplateInfo(Info(), Language::kNl);
    CHECK(nl.find("geo (uitsplitsing, verplicht)") != std::string::npos);
    CHECK(nl.find("year (geheel getal, 2018 t/m 2023, standaard 2023)") != std::string::npos);
    CHECK(LineContaining(nl, "ALL").find("Gemeente") != std::string::npos);
    CHECK(nl.find("Eenheid: persoon") != std::string::npos);
    CHECK(LineContaining(nl, "persons").find("(aantal, afgerond op 5)") != std::string::npos);
  }

  TEST_CASE("a description names a rate per 1,000 in either language") {
    TemplateInfo info = Info();
    info.statistics.push_back(StatisticInfo{"per_1000", Text{"Bijstand per 1 000", "Assistance per 1,000"},
                                            "share", 1, 1000});
    info.statistics.push_back(StatisticInfo{"pct", Text{"Bijstand in %", "Assistance, %"}, "share", 1, 100});
    const std::string nl = FormatTemplateInfo(info, Language::kNl);
    const std::string en = FormatTemplateInfo(info, Language::kEn);
    CHECK(LineContaining(nl, "per_1000").find("(aandeel per 1 000)") != std::string::npos);
    CHECK(LineContaining(en, "per_1000").find("(share per 1,000)") != std::string::npos);
    CHECK(LineContaining(nl, "  pct ").find("(aandeel)") != std::string::npos);
    CHECK(LineContaining(en, "  pct ").find("(share)") != std::string::npos);
  }

  TEST_CASE("in Dutch, a description has no English word of the client's own vocabulary") {
    TemplateInfo info = Info();
    info.statistics.push_back(Stat("share", "Aandeel", "Share"));
    info.statistics.back().kind = "share";
    info.statistics.back().precision = 1000;
    const std::string nl = FormatTemplateInfo(info, Language::kNl);
    // (Identifiers such as the statistic "persons" or the rule set "cbs-default@1" stay as sent.)
    for (const std::string english :
         {"Unit", "Eenheid: person\n", "integer", "(breakdown", "required", ", default",
          "allowed", "Statistics", "count", "share)", "rounded", "version", "Theme", "Rule set"}) {
      CAPTURE(english);
      CHECK(nl.find(english) == std::string::npos);
    }
    // An unknown wire word is shown as sent rather than guessed.
    info.unit = "vessel";
    CHECK(FormatTemplateInfo(info, Language::kNl).find("Eenheid: vessel") != std::string::npos);
  }

  TEST_CASE("--format json: templates, a description and budgets as valid JSON with every field") {
    const std::string list = FormatTemplateListJson({Info().summary, Info().summary});
    CHECK(JsonChecker(list).Valid());
    CHECK(list.find(R"("id":"zzp_aantal_per_wijk","version":3,"theme":"zzp")") != std::string::npos);
    CHECK(list.find(R"("en":"Self-employed by district")") != std::string::npos);
    CHECK(JsonChecker(FormatTemplateListJson({})).Valid());
    TemplateInfo info = Info();
    info.summary.title.nl = "<b>\"quoted\"\n";
    const std::string described = FormatTemplateInfoJson(info);
    CHECK(JsonChecker(described).Valid());
    CHECK(described.find(R"("dp":null)") != std::string::npos);
    CHECK(described.find("<b>") != std::string::npos);  // plain JSON for the CLI
    CHECK(FormatTemplateInfoJson(info, /*escape_markup=*/true).find("\\u003cb\\u003e") !=
          std::string::npos);  // the web API's bodies
    CHECK(described.find(R"("parameters":[{"name":)") != std::string::npos);
    info.dp = DpInfo{};
    info.dp->ledgers = {"agreement", "project"};
    const std::string dp = FormatTemplateInfoJson(info);
    CHECK(JsonChecker(dp).Valid());
    CHECK(dp.find(R"("ledgers":["agreement","project"])") != std::string::npos);
    const std::string budget =
        FormatBudgetJson({BudgetLedger{"agreement:OVK-2026-002", 4000000, 250000, 0, 3750000}});
    CHECK(JsonChecker(budget).Valid());
    CHECK(budget.find(R"("cap_micro":4000000,"spent_micro":250000,"reserved_micro":0,"remaining_micro":3750000)") !=
          std::string::npos);
  }

  TEST_CASE("the budget table is worded in the user's language with a decimal comma in Dutch") {
    const std::vector<BudgetLedger> ledgers = {
        BudgetLedger{"agreement:OVK-2026-002", 4000000, 250000, 0, 3750000}};
    const std::string nl = FormatBudget(ledgers, Language::kNl);
    const std::string en = FormatBudget(ledgers, Language::kEn);
    CHECK(LineContaining(nl, "OVK-2026-002").find("3,750000") != std::string::npos);
    CHECK(LineContaining(en, "OVK-2026-002").find("3.750000") != std::string::npos);
    CHECK(nl.find("Resterend") != std::string::npos);
    CHECK(nl.find("Remaining") == std::string::npos);
    CHECK(en.find("Remaining") != std::string::npos);
    CHECK(FormatBudget({}, Language::kNl).find("(geen budgetten)") != std::string::npos);
  }

  TEST_CASE("the template list shows id, version, theme and title") {
    const std::vector<TemplateSummary> list = {
        TemplateSummary{"zzp_aantal_per_wijk", 3, "zzp", Text{"Zzp'ers per wijk", "Self-employed"}},
        TemplateSummary{"bijstand_stroom", 1, "bijstand", Text{"Instroom", "Inflow"}}};
    const std::string en = FormatTemplateList(list, Language::kEn);
    CHECK(LineContaining(en, "zzp_aantal_per_wijk").find("Self-employed") != std::string::npos);
    CHECK(LineContaining(en, "bijstand_stroom").find("Inflow") != std::string::npos);
    CHECK(FormatTemplateList(list, Language::kNl).find("Instroom") != std::string::npos);
    CHECK(FormatTemplateList({}, Language::kEn).find("No templates") != std::string::npos);
  }
}

// English words that must not be left in Dutch output (whole words; the command lines aside).
static void CheckNoEnglish(const std::string& nl) {
  std::string text = nl;
  // Parameter names and values are the user's own input, not text.
  for (std::size_t at = text.find("--param "); at != std::string::npos;
       at = text.find("--param ", at)) {
    const std::size_t end = text.find_first_of(" \n", at + 8);
    text.erase(at, (end == std::string::npos ? text.size() : end) - at);
  }
  std::vector<std::string> words;
  std::string word;
  for (const char c : text + " ") {
    if (std::isalpha(static_cast<unsigned char>(c)) != 0 || static_cast<unsigned char>(c) >= 0x80) {
      word.push_back(c);
    } else if (!word.empty()) {
      words.push_back(word);
      word.clear();
    }
  }
  for (const char* english :
       {"Try", "This", "table", "cannot", "released", "coarser", "breakdown", "fewer", "another",
        "period", "requests", "charged", "Remaining", "agreement", "version", "identical",
        "repeat", "noise", "Every", "shown", "charges", "free", "units", "cell", "cells",
        "confidential", "suggested", "from", "mechanism", "Differential", "the", "and",
        "to", "below", "each", "your"}) {
    const std::string english_word = english;
    CAPTURE(english_word);
    CHECK(std::find(words.begin(), words.end(), english_word) == words.end());
  }
}

const std::vector<Suggestion> kSuggestions = {
    Suggestion{"coarser_geography", {{"geo", "wijkcluster"}}},
    Suggestion{"fewer_breakdowns", {{"breakdown1", "geen"}}},
    Suggestion{"other_period", {{"peildatum", "20230331"}}},
};

TEST_SUITE("Alternatives and DP charges") {
  TEST_CASE("a refusal's alternatives are worded in the user's language, Dutch complete") {
    const std::string en = FormatSuggestions(kSuggestions, Language::kEn, /*refused=*/true);
    CHECK(en.find("This table cannot be released as asked.") != std::string::npos);
    CHECK(LineContaining(en, "--param geo=wijkcluster").find("Try:") != std::string::npos);
    CHECK(LineContaining(en, "--param geo=wijkcluster").find("(a coarser geography)") !=
          std::string::npos);
    CHECK(LineContaining(en, "breakdown1=geen").find("(one breakdown fewer)") != std::string::npos);
    CHECK(LineContaining(en, "peildatum=20230331").find("(another period)") != std::string::npos);
    const std::string nl = FormatSuggestions(kSuggestions, Language::kNl, /*refused=*/true);
    CHECK(nl.find("Deze tabel kan zo niet worden vrijgegeven.") != std::string::npos);
    CHECK(LineContaining(nl, "--param geo=wijkcluster").find("Probeer:") != std::string::npos);
    CHECK(LineContaining(nl, "--param geo=wijkcluster").find("(een grovere gebiedsindeling)") !=
          std::string::npos);
    CHECK(LineContaining(nl, "breakdown1=geen").find("(één uitsplitsing minder)") !=
          std::string::npos);
    CHECK(LineContaining(nl, "peildatum=20230331").find("(een andere periode)") !=
          std::string::npos);
    CheckNoEnglish(nl);
    // No numbers of the table in a hint: only the parameters appear.
    CHECK(FormatSuggestions({}, Language::kNl, true).empty());
  }

  TEST_CASE("an all-confidential table ends with its alternatives, in table and JSON output") {
    QueryResult r = OneDimensional();
    for (Cell& c : r.cells) c.value.reset();
    r.suggestions = kSuggestions;
    const std::string en = FormatTable(r, Language::kEn);
    CHECK(en.find("All cells of this table except totals are confidential.") != std::string::npos);
    CHECK(en.find("Try: --param geo=wijkcluster") != std::string::npos);
    const std::string nl = FormatTable(r, Language::kNl);
    CHECK(nl.find("Alle cellen van deze tabel behalve de totalen zijn vertrouwelijk.") !=
          std::string::npos);
    CHECK(nl.find("Probeer: --param geo=wijkcluster") != std::string::npos);
    const std::string json = FormatJson(r);
    CHECK(JsonChecker(json).Valid());
    CHECK(json.find("\"suggestions\": [{\"kind\":\"coarser_geography\",\"changes\":[{\"name\":\"geo\","
                    "\"value\":\"wijkcluster\"}]}") != std::string::npos);
    // A table without alternatives prints and serialises none.
    CHECK(FormatTable(OneDimensional(), Language::kEn).find("Try:") == std::string::npos);
    CHECK(FormatJson(OneDimensional()).find("suggestions") == std::string::npos);
  }

  TEST_CASE("a DP run prints what it charged and what is left, or that a repeat was free") {
    QueryResult r = OneDimensional();
    r.rule_set = "dp-discrete-laplace";
    r.budget_charge = BudgetCharge{
        250'000, false,
        {BudgetLedger{"agreement:OVK-2026-002", 4'000'000, 250'000, 0, 3'750'000},
         BudgetLedger{"project:P2026-002", 6'000'000, 250'000, 0, 5'750'000},
         BudgetLedger{"data-version:v1", 12'000'000, 250'000, 0, 11'750'000}}};
    const std::string en = FormatTable(r, Language::kEn);
    CHECK(en.find("Privacy budget: this table charged ε 0.25 to each budget below.") !=
          std::string::npos);
    CHECK(en.find("Remaining: agreement OVK-2026-002 ε 3.75, project P2026-002 ε 5.75 and data "
                  "version v1 ε 11.75") != std::string::npos);
    const std::string nl = FormatTable(r, Language::kNl);
    CHECK(nl.find("Privacybudget: deze tabel kostte ε 0,25 op elk budget hieronder.") !=
          std::string::npos);
    CHECK(nl.find("Resterend: overeenkomst OVK-2026-002 ε 3,75, project P2026-002 ε 5,75 en "
                  "dataversie v1 ε 11,75") != std::string::npos);
    CheckNoEnglish(nl.substr(nl.find("Privacybudget")));
    const std::string json = FormatJson(r);
    CHECK(JsonChecker(json).Valid());
    CHECK(json.find("\"budget_charge\": {\"charged_micro\":250000,\"repeat\":false,") !=
          std::string::npos);
    CHECK(json.find("\"remaining_micro\":3750000") != std::string::npos);

    r.budget_charge = BudgetCharge{0, true, {}};
    CHECK(FormatTable(r, Language::kEn)
              .find("identical repeat of an earlier table; nothing charged (ε 0)") !=
          std::string::npos);
    CHECK(FormatTable(r, Language::kNl).find("identieke herhaling") != std::string::npos);
    CHECK(FormatJson(r).find("\"charged_micro\":0,\"repeat\":true,\"ledgers\":[]") !=
          std::string::npos);
    // A release without DP says nothing about a budget.
    CHECK(FormatTable(OneDimensional(), Language::kEn).find("Privacy budget") == std::string::npos);
  }

  TEST_CASE("describe of a DP template shows noise, charge, display rule and ledgers, not the SDC promise") {
    TemplateInfo info;
    info.summary = TemplateSummary{"bijstand_dp_wijk_leeftijd", 1, "bijstand", Text{"T11", "T11"}};
    info.unit = "person";
    info.min_units = 0;
    info.rule_set = "dp-discrete-laplace";
    DpInfo dp;
    dp.mechanism = "discrete_laplace";
    dp.charge_micro = 250'000;
    dp.epsilon_micro = 250'000;
    dp.max_cells_per_unit = 1;
    dp.cells_public = true;
    dp.display_threshold = 10;
    dp.ledgers = {"agreement", "project", "data-version"};
    info.dp = dp;
    const std::string en = FormatTemplateInfo(info, Language::kEn);
    CHECK(en.find("count at least") == std::string::npos);
    CHECK(en.find("cbs-default") == std::string::npos);
    CHECK(en.find("Differential privacy: noise from the discrete Laplace mechanism on every cell "
                  "(ε 0.25 per table; a unit counts in at most 1 cell)") != std::string::npos);
    CHECK(en.find("a noisy count below 10 is shown as '.'") != std::string::npos);
    CHECK(en.find("Each table charges ε 0.25 to your agreement, project and data version budgets; "
                  "an identical repeat is free") != std::string::npos);
    const std::string nl = FormatTemplateInfo(info, Language::kNl);
    CHECK(nl.find("Differentiële privacy: ruis volgens het discrete Laplace-mechanisme op elke cel "
                  "(ε 0,25 per tabel") != std::string::npos);
    CHECK(nl.find("Elke tabel kost ε 0,25 van het budget van uw overeenkomst, project en "
                  "dataversie") != std::string::npos);
    CheckNoEnglish(nl.substr(nl.find("Differentiële")));

    // Cells not public: the raw minimum, τ, the selection's ε and δ.
    info.min_units = 10;
    info.dp->cells_public = false;
    info.dp->charge_micro = 750'000;
    info.dp->selection_epsilon_micro = 500'000;
    info.dp->selection_threshold = 37;
    info.dp->delta_exponent = 6;
    const std::string sel = FormatTemplateInfo(info, Language::kEn);
    CHECK(sel.find("A cell is shown only if it has at least 10 units and its noisy count exceeds 37 "
                   "(selection ε 0.5, δ = 10^-6)") != std::string::npos);
    CHECK(sel.find("Each table charges ε 0.75") != std::string::npos);
    CheckNoEnglish(FormatTemplateInfo(info, Language::kNl).substr(
        FormatTemplateInfo(info, Language::kNl).find("Differentiële")));
  }
}

}  // namespace enclave::client
