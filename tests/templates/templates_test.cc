// Template model: Bind (typed, checked, canonical parameters) and Validate (no unsafe templates).
#include <doctest/doctest.h>

#include <algorithm>
#include <string>
#include <utility>
#include <vector>

#include "enclave/templates/binding.h"
#include "enclave/templates/template.h"
#include "enclave/templates/validate.h"

namespace enclave::templates {
namespace {

using Raw = std::vector<std::pair<std::string, std::string>>;

CodeList Codes(const std::string& name, std::vector<std::string> codes) {
  CodeList list{name, {}};
  for (auto& c : codes) list.codes.push_back({c, {c, c}});
  return list;
}

// A valid template in the shape of T1.
Template MakeTemplate() {
  Template t;
  t.id = "zzp_aantal_per_wijk";
  t.version = 1;
  t.theme = "zzp";
  t.title = {"Zzp'ers per wijk", "Where do zzp'ers live?"};
  t.description = {"Beschrijving", "Description"};
  t.roles = {Role::kMunicipalAnalyst, Role::kResearcher};
  t.unit = "person";
  ParamSpec year{"year", ParamType::kInteger, {"Jaar", "Year"}, 2018, 2024, {}, "2023"};
  ParamSpec sex{"sex", ParamType::kCode, {"Geslacht", "Sex"}, 0, 0,
                {{"all", {"Allen", "All"}}, {"man", {"Man", "Male"}}, {"vrouw", {"Vrouw", "Female"}}},
                "all"};
  ParamSpec geo{"geo", ParamType::kBreakdown, {"Geo", "Geo"}, 0, 0,
                {{"wijk", {"Wijk", "District"}}, {"wijkcluster", {"Kern", "Town"}}}, "wijk"};
  ParamSpec extra{"breakdown", ParamType::kBreakdown, {"Extra", "Extra"}, 0, 0,
                  {{kNoBreakdown, {"Geen", "None"}}, {"geslacht", {"Geslacht", "Sex"}},
                   {"wijk", {"Wijk", "District"}}},
                  std::string(kNoBreakdown)};
  t.params = {year, sex, geo, extra};
  t.dimensions = {
      {"wijk", {"Wijk", "District"}, "wijk", Codes("wijk", {"WK191601", "WK191602"})},
      {"wijkcluster", {"Kern", "Town"}, "wijkcluster", Codes("wijkcluster", {"Voorburg"})},
      {"geslacht", {"Geslacht", "Sex"}, "geslacht", Codes("geslacht", {"man", "vrouw"})},
  };
  t.sql = "SELECT person, wijk, wijkcluster, geslacht, is_zzp, is_werkend FROM x "
          "WHERE jaar = :year AND (:sex = 'all' OR g = :sex);";
  t.unit_column = "person";
  t.flag_columns = {"is_zzp", "is_werkend"};
  t.statistics = {
      {"n_zzp", StatisticKind::kCount, {"Aantal", "Count"}, "is_zzp", "", 0, 1, {}},
      {"pct", StatisticKind::kShare, {"Pct", "Pct"}, "is_zzp", "is_werkend", 0, 1, {}},
  };
  return t;
}

std::string Message(const absl::StatusOr<BoundQuery>& q) {
  return q.ok() ? std::string() : std::string(q.status().message());
}

bool HasProblem(const std::vector<TemplateProblem>& problems, const std::string& field,
                const std::string& fragment) {
  return std::any_of(problems.begin(), problems.end(), [&](const TemplateProblem& p) {
    return p.field == field && p.message.find(fragment) != std::string::npos;
  });
}

std::string Dump(const std::vector<TemplateProblem>& problems) {
  std::string out;
  for (const auto& p : problems) out += p.field + ": " + p.message + "\n";
  return out;
}

TEST_SUITE("Bind") {
  TEST_CASE("defaults fill every parameter and the canonical form is sorted by name") {
    Template t = MakeTemplate();
    auto q = Bind(t, {});
    REQUIRE(q.ok());
    CHECK(q->CanonicalParams() == "breakdown=geen&geo=wijk&sex=all&year=2023");
    REQUIRE(q->params.size() == 4);
    CHECK(q->params[0].name == "breakdown");
    CHECK(std::get<std::int64_t>(q->params[3].value) == 2023);
    REQUIRE(q->dimensions.size() == 1);
    CHECK(q->dimensions[0]->name == "wijk");
    CHECK(q->tmpl == &t);
  }

  TEST_CASE("given values override defaults and breakdowns add dimensions in declaration order") {
    Template t = MakeTemplate();
    auto q = Bind(t, {{"year", "2019"}, {"breakdown", "geslacht"}, {"geo", "wijkcluster"}});
    REQUIRE(q.ok());
    CHECK(q->CanonicalParams() == "breakdown=geslacht&geo=wijkcluster&sex=all&year=2019");
    REQUIRE(q->dimensions.size() == 2);
    CHECK(q->dimensions[0]->name == "wijkcluster");
    CHECK(q->dimensions[1]->name == "geslacht");
  }

  TEST_CASE("fixed dimensions come first") {
    Template t = MakeTemplate();
    t.fixed_dimensions = {"geslacht"};
    t.params[3].allowed = {{kNoBreakdown, {"Geen", "None"}}};
    auto q = Bind(t, {});
    REQUIRE(q.ok());
    REQUIRE(q->dimensions.size() == 2);
    CHECK(q->dimensions[0]->name == "geslacht");
    CHECK(q->dimensions[1]->name == "wijk");
  }

  TEST_CASE("an unknown parameter is refused naming it and the allowed names") {
    auto q = Bind(MakeTemplate(), {{"yaer", "2020"}});
    CHECK(q.status().code() == absl::StatusCode::kInvalidArgument);
    CHECK(Message(q) == "parameter 'yaer': unknown parameter; allowed parameters: year, sex, geo, "
                        "breakdown");
  }

  TEST_CASE("a parameter given twice is refused") {
    auto q = Bind(MakeTemplate(), {{"year", "2020"}, {"year", "2021"}});
    CHECK(q.status().code() == absl::StatusCode::kInvalidArgument);
    CHECK(Message(q) == "parameter 'year': given more than once");
  }

  TEST_CASE("a missing parameter without default is refused") {
    Template t = MakeTemplate();
    t.params[0].default_value.reset();
    auto q = Bind(t, {});
    CHECK(q.status().code() == absl::StatusCode::kInvalidArgument);
    CHECK(Message(q) ==
          "parameter 'year': is required (no default); it must be an integer from 2018 to 2024");
    CHECK(Bind(t, {{"year", "2020"}}).ok());
  }

  TEST_CASE("an integer parameter refuses text that is not exactly an integer") {
    for (const char* bad : {"20x4", "", " 2020", "2020 ", "+2020", "2020.0", "0x7e4",
                            "99999999999999999999999"}) {
      CAPTURE(bad);
      auto q = Bind(MakeTemplate(), {{"year", bad}});
      CHECK(q.status().code() == absl::StatusCode::kInvalidArgument);
      CHECK(Message(q) == "parameter 'year': must be an integer from 2018 to 2024");
    }
  }

  TEST_CASE("an integer parameter refuses values outside its range") {
    CHECK(Message(Bind(MakeTemplate(), {{"year", "2017"}})) ==
          "parameter 'year': must be an integer from 2018 to 2024");
    CHECK(Message(Bind(MakeTemplate(), {{"year", "2025"}})) ==
          "parameter 'year': must be an integer from 2018 to 2024");
    CHECK(Bind(MakeTemplate(), {{"year", "2018"}}).ok());
    CHECK(Bind(MakeTemplate(), {{"year", "2024"}}).ok());
  }

  TEST_CASE("a code parameter refuses values that are not one of its codes") {
    auto q = Bind(MakeTemplate(), {{"sex", "x' OR '1'='1"}});
    CHECK(q.status().code() == absl::StatusCode::kInvalidArgument);
    CHECK(Message(q) == "parameter 'sex': must be one of all, man, vrouw");
    CHECK(Message(q).find("OR") == std::string::npos);  // the value is not echoed
    CHECK(Message(Bind(MakeTemplate(), {{"geo", "buurt"}})) ==
          "parameter 'geo': must be one of wijk, wijkcluster");
    CHECK(Message(Bind(MakeTemplate(), {{"sex", "Man"}})) ==
          "parameter 'sex': must be one of all, man, vrouw");
  }

  TEST_CASE("two breakdowns selecting the same dimension are refused") {
    auto q = Bind(MakeTemplate(), {{"geo", "wijk"}, {"breakdown", "wijk"}});
    CHECK(q.status().code() == absl::StatusCode::kInvalidArgument);
    CHECK(Message(q) == "parameter 'breakdown': selects dimension 'wijk', which parameter 'geo' "
                        "already selects; choose different dimensions");
  }

  TEST_CASE("values over 256 bytes, names over 64 bytes and text that is not UTF-8 are refused first") {
    const std::string not_utf8("\xc3\x28", 2);
    CHECK(Message(Bind(MakeTemplate(), {{"year", std::string(100 * 1024, '9')}})) ==
          "parameter 'year': the value is 102400 bytes long; allowed: at most 256 bytes; it must "
          "be an integer from 2018 to 2024");
    CHECK(Message(Bind(MakeTemplate(), {{"year", "20" + not_utf8}})) ==
          "parameter 'year': the value is not valid UTF-8; allowed: UTF-8 text of at most 256 "
          "bytes; it must be an integer from 2018 to 2024");
    const std::string bad_name = Message(Bind(MakeTemplate(), {{"ye" + not_utf8, "1"}}));
    CHECK(bad_name == "a parameter name of 4 bytes that is not valid UTF-8; allowed: a name of at "
                      "most 64 bytes of UTF-8, one of: year, sex, geo, breakdown");
    CHECK(bad_name.find(not_utf8) == std::string::npos);  // the bytes are never echoed
    CHECK(Message(Bind(MakeTemplate(), {{std::string(65, 'n'), "1"}})).rfind(
              "a parameter name of 65 bytes; allowed", 0) == 0);
    // Over-long and not UTF-8 beyond the limit: refused for its length, the same message as for
    // any other name of that length (found by fuzz/template_bind).
    CHECK(Message(Bind(MakeTemplate(), {{std::string(70, 'n') + not_utf8, "1"}})) ==
          Message(Bind(MakeTemplate(), {{std::string(72, 'n'), "1"}})));
    std::vector<std::pair<std::string, std::string>> many(33, {"year", "2020"});
    CHECK(Message(Bind(MakeTemplate(), many)).rfind("too many parameters (33); allowed: at most 32",
                                                    0) == 0);
    // Negative controls: at the limits, the usual checks apply.
    CHECK(Message(Bind(MakeTemplate(), {{"year", std::string(256, '9')}})) ==
          "parameter 'year': must be an integer from 2018 to 2024");
    CHECK(Bind(MakeTemplate(), {{"year", "2020"}}).ok());
  }

  TEST_CASE("IsValidUtf8 accepts UTF-8 and refuses overlong forms, surrogates and truncation") {
    for (const std::string& ok : {std::string(""), std::string("wijk"), std::string("\xc3\xa9"),
                                 std::string("\xe2\x82\xac"), std::string("\xf0\x9f\x98\x80"),
                                 std::string("\xf4\x8f\xbf\xbf")}) {
      CAPTURE(ok);
      CHECK(IsValidUtf8(ok));
    }
    for (const std::string& bad :
         {std::string("\xff"), std::string("\x80"), std::string("\xc0\xaf"),
          std::string("\xc3"), std::string("\xe0\x80\xaf"), std::string("\xed\xa0\x80"),
          std::string("\xf4\x90\x80\x80"), std::string("\xf0\x9f\x98"),
          std::string("a\xc3(b")}) {
      CAPTURE(bad);
      CHECK_FALSE(IsValidUtf8(bad));
    }
  }

  TEST_CASE("an overlong unknown name is cut in the message") {
    std::string name(200, 'a');
    auto q = Bind(MakeTemplate(), {{name, "1"}});
    CHECK(q.status().code() == absl::StatusCode::kInvalidArgument);
    CHECK(Message(q).find(std::string(65, 'a')) == std::string::npos);
  }
}

TEST_SUITE("Validate") {
  TEST_CASE("the sample template is valid") {
    auto problems = Validate(MakeTemplate());
    CHECK_MESSAGE(problems.empty(), Dump(problems));
  }

  TEST_CASE("a dimension on the unit column is refused") {
    Template t = MakeTemplate();
    t.dimensions[0].column = "person";
    CHECK(HasProblem(Validate(t), "dimension[wijk].column", "must not be the unit column"));
  }

  TEST_CASE("a dimension without codes is refused") {
    Template t = MakeTemplate();
    t.dimensions[1].codes.codes.clear();
    CHECK(HasProblem(Validate(t), "dimension[wijkcluster].code_list", "closed, non-empty"));
  }

  TEST_CASE("a statistic kind outside the allowed set is refused") {
    Template t = MakeTemplate();
    t.statistics[0].kind = static_cast<StatisticKind>(42);
    CHECK(HasProblem(Validate(t), "statistic[0].kind", "COUNT, SUM, MEAN, QUANTILE, SHARE, RATIO, RELATIVE_RISK or SHARE_DIFFERENCE"));
  }

  TEST_CASE("a share difference names two SHARE statistics with denominators, and nothing else does") {
    Template t = MakeTemplate();
    Statistic d;
    d.name = "verschil";
    d.kind = StatisticKind::kShareDifference;
    d.label = {"Verschil", "Difference"};
    d.minuend = "pct";
    d.subtrahend = "pct";
    t.statistics.push_back(d);
    CHECK(HasProblem(Validate(t), "statistic[" + std::to_string(t.statistics.size() - 1) + "].subtrahend",
                     "must differ from the minuend"));
    t.statistics.back().subtrahend = "n";  // not a SHARE
    CHECK(HasProblem(Validate(t), "statistic[" + std::to_string(t.statistics.size() - 1) + "].subtrahend",
                     "SHARE statistic"));
    Statistic other = t.statistics[0];
    for (Statistic& s : t.statistics) {
      if (s.kind == StatisticKind::kShare) other = s;
    }
    other.name = "pct2";
    t.statistics.insert(t.statistics.end() - 1, other);
    t.statistics.back().subtrahend = "pct2";
    auto problems = Validate(t);
    CHECK_MESSAGE(problems.empty(), Dump(problems));
    t.statistics.back().flag = "is_zzp";
    CHECK(HasProblem(Validate(t), "statistic[" + std::to_string(t.statistics.size() - 1) + "].flag",
                     "from its minuend and subtrahend"));
    t.statistics.back().flag.clear();
    t.statistics[0].minuend = "pct";
    CHECK(HasProblem(Validate(t), "statistic[0].minuend", "SHARE_DIFFERENCE statistics only"));
  }

  TEST_CASE("a quantile needs a permille strictly between 0 and 1000") {
    Template t = MakeTemplate();
    t.measure_column = "inkomen";
    t.sql = "SELECT person, wijk, wijkcluster, geslacht, inkomen, is_zzp, is_werkend FROM x "
            "WHERE a = :year AND b = :sex";
    for (std::uint32_t bad : {0u, 1000u, 1500u}) {
      t.statistics = {{"q", StatisticKind::kQuantile, {"Q", "Q"}, "", "", bad, 100, {}}};
      CHECK(HasProblem(Validate(t), "statistic[0].quantile_permille", "between 1 and 999"));
    }
    t.statistics = {{"q", StatisticKind::kQuantile, {"Q", "Q"}, "", "", 500, 100, {}}};
    auto problems = Validate(t);
    CHECK_MESSAGE(problems.empty(), Dump(problems));
  }

  TEST_CASE("sum, mean, quantile and ratio need a measure column") {
    for (StatisticKind kind : {StatisticKind::kSum, StatisticKind::kMean, StatisticKind::kQuantile,
                               StatisticKind::kRatio}) {
      Template t = MakeTemplate();
      t.statistics = {{"s", kind, {"S", "S"}, "is_zzp", "", 500, 1, {}}};
      if (kind == StatisticKind::kRatio) t.statistics[0].denominator_flag = "is_werkend";
      if (kind != StatisticKind::kQuantile) t.statistics[0].quantile_permille = 0;
      CHECK(HasProblem(Validate(t), "statistic[0].kind", "needs a measure"));
    }
  }

  TEST_CASE("a ratio needs a numerator and a denominator flag") {
    Template t = MakeTemplate();
    t.measure_column = "m";
    t.statistics = {{"r", StatisticKind::kRatio, {"R", "R"}, "", "", 0, 1, {}}};
    auto problems = Validate(t);
    CHECK(HasProblem(problems, "statistic[0].flag", "RATIO needs a numerator flag"));
    CHECK(HasProblem(problems, "statistic[0].denominator_flag", "RATIO needs a denominator flag"));
  }

  TEST_CASE("per is 100 or 1000, and only on a share") {
    Template t = MakeTemplate();
    t.statistics = {{"p", StatisticKind::kShare, {"P", "P"}, "is_zzp", "", 0, 1, {}}};
    t.statistics[0].per = 1000;
    auto problems = Validate(t);
    CHECK_MESSAGE(problems.empty(), Dump(problems));
    for (std::int64_t bad : {0, 10, 999, 10000}) {
      t.statistics[0].per = bad;
      CHECK(HasProblem(Validate(t), "statistic[0].per", "must be 100 (a percentage) or 1000"));
    }
    t.statistics = {{"n", StatisticKind::kCount, {"N", "N"}, "is_zzp", "", 0, 1, {}}};
    t.statistics[0].per = 1000;
    CHECK(HasProblem(Validate(t), "statistic[0].per", "applies to SHARE statistics only"));
  }

  TEST_CASE("statistics may use only declared flags") {
    Template t = MakeTemplate();
    t.statistics[0].flag = "is_rich";
    t.statistics[1].denominator_flag = "is_poor";
    auto problems = Validate(t);
    CHECK(HasProblem(problems, "statistic[0].flag", "must be one of the flag_column entries"));
    CHECK(HasProblem(problems, "statistic[1].denominator_flag", "flag_column"));
  }

  TEST_CASE("a template without statistics is refused") {
    Template t = MakeTemplate();
    t.statistics.clear();
    CHECK(HasProblem(Validate(t), "statistic", "at least one statistic"));
  }

  TEST_CASE("min_units below the floor is refused") {
    Template t = MakeTemplate();
    t.disclosure.min_units = 5;
    CHECK(HasProblem(Validate(t), "disclosure.min_units", "at least 10"));
    t.disclosure.min_units = kMinUnitsFloor;
    CHECK(Validate(t).empty());
  }

  TEST_CASE("more than three possible dimensions in one table is refused") {
    Template t = MakeTemplate();
    t.dimensions.push_back({"herkomst", {"H", "H"}, "herkomst", Codes("h", {"nl"})});
    t.sql = "SELECT person, wijk, wijkcluster, geslacht, herkomst, is_zzp, is_werkend FROM x "
            "WHERE a = :year AND b = :sex";
    t.fixed_dimensions = {"herkomst"};
    t.params.push_back({"b3", ParamType::kBreakdown, {"B", "B"}, 0, 0,
                        {{"geslacht", {"G", "G"}}}, "geslacht"});
    CHECK(HasProblem(Validate(t), "dimension", "at most 3"));
  }

  TEST_CASE("SQL may use only declared parameters, and every declared value parameter") {
    Template t = MakeTemplate();
    t.sql = "SELECT person, wijk, wijkcluster, geslacht, is_zzp, is_werkend FROM x "
            "WHERE a = :year AND b = :sex AND c = :secret";
    CHECK(HasProblem(Validate(t), "sql", "':secret', which is not declared"));
    t.sql = "SELECT person, wijk, wijkcluster, geslacht, is_zzp, is_werkend FROM x WHERE a = :year";
    CHECK(HasProblem(Validate(t), "parameter[sex]", "never uses :sex"));
  }

  TEST_CASE("parameters inside string literals and comments do not count") {
    Template t = MakeTemplate();
    t.sql = "SELECT person, wijk, wijkcluster, geslacht, is_zzp, is_werkend FROM x "
            "WHERE a = ':year' -- :sex\n";
    auto problems = Validate(t);
    CHECK(HasProblem(problems, "parameter[year]", "never uses"));
    CHECK(HasProblem(problems, "parameter[sex]", "never uses"));
  }

  TEST_CASE("SQL with a second statement is refused, a trailing semicolon is not") {
    Template t = MakeTemplate();
    t.sql = "SELECT person, wijk, wijkcluster, geslacht, is_zzp, is_werkend FROM x "
            "WHERE a = :year AND b = :sex; DELETE FROM x";
    CHECK(HasProblem(Validate(t), "sql", "exactly one statement"));
    t.sql = "SELECT 1 WHERE :year = 1 AND :sex = 'a' ;  \n";
    CHECK(Validate(t).empty());
  }

  TEST_CASE("SQL must be a SELECT and use :name parameters only") {
    Template t = MakeTemplate();
    t.sql = "DELETE FROM x WHERE a = :year AND b = :sex";
    CHECK(HasProblem(Validate(t), "sql", "must start with SELECT or WITH"));
    t.sql = "SELECT 1 WHERE a = :year AND b = :sex AND c = ?";
    CHECK(HasProblem(Validate(t), "sql", "'?'"));
  }

  TEST_CASE("a breakdown naming an undeclared dimension is refused") {
    Template t = MakeTemplate();
    t.params[2].allowed.push_back({"buurt", {"Buurt", "Neighbourhood"}});
    CHECK(HasProblem(Validate(t), "parameter[geo].allowed", "'buurt' must name a declared dimension"));
  }

  TEST_CASE("parameter defaults must lie in their domain") {
    Template t = MakeTemplate();
    t.params[0].default_value = "2030";
    t.params[1].default_value = "x";
    auto problems = Validate(t);
    CHECK(HasProblem(problems, "parameter[year].default_value", "from 2018 to 2024"));
    CHECK(HasProblem(problems, "parameter[sex].default_value", "one of the allowed values"));
  }

  TEST_CASE("a code parameter needs a closed non-empty domain") {
    Template t = MakeTemplate();
    t.params[1].allowed.clear();
    t.params[1].default_value.reset();
    CHECK(HasProblem(Validate(t), "parameter[sex].allowed", "at least one allowed value"));
  }

  TEST_CASE("id and version are required") {
    Template t = MakeTemplate();
    t.id = "";
    t.version = 0;
    auto problems = Validate(t);
    CHECK(HasProblem(problems, "id", "identifier"));
    CHECK(HasProblem(problems, "version", "at least 1"));
  }

  TEST_CASE("expected columns are unit, dimensions, measure, flags") {
    Template t = MakeTemplate();
    t.measure_column = "inkomen";
    CHECK(t.ExpectedColumns() == std::vector<std::string>{"person", "wijk", "wijkcluster",
                                                          "geslacht", "inkomen", "is_zzp",
                                                          "is_werkend"});
    t.disclosure.holding_column = "be_id";
    CHECK(t.ExpectedColumns().back() == "be_id");
    CHECK(t.ExpectedColumns().size() == 8);
  }

  TEST_CASE("a holding column must be a distinct identifier and needs a measure") {
    Template t = MakeTemplate();
    t.measure_column = "inkomen";
    t.disclosure.holding_column = "be_id";
    CHECK(Validate(t).empty());
    t.disclosure.holding_column = "Be-Id";
    CHECK(HasProblem(Validate(t), "disclosure.holding_column", "identifier"));
    t.disclosure.holding_column = "is_zzp";
    CHECK(HasProblem(Validate(t), "disclosure.holding_column", "differ"));
    t.disclosure.holding_column = "person";
    CHECK(HasProblem(Validate(t), "disclosure.holding_column", "differ"));
    t.disclosure.holding_column = "be_id";
    t.measure_column.clear();
    CHECK(HasProblem(Validate(t), "disclosure.holding_column", "measure_column"));
  }

  TEST_CASE("sensitive categories and structural zeros name declared dimensions, codes or flags") {
    Template t = MakeTemplate();
    t.disclosure.sensitive = {{"geslacht", "vrouw", ""}, {"", "", "is_zzp"}};
    t.disclosure.structural_zeros = {{{{"wijk", "WK191601"}, {"geslacht", "man"}}}};
    CHECK_MESSAGE(Validate(t).empty(), Dump(Validate(t)));
    t.disclosure.sensitive = {{"geslacht", "x", ""}};
    CHECK(HasProblem(Validate(t), "disclosure.sensitive[0]", "not a code"));
    t.disclosure.sensitive = {{"leeftijd", "x", ""}};
    CHECK(HasProblem(Validate(t), "disclosure.sensitive[0]", "declared dimension"));
    t.disclosure.sensitive = {{"geslacht", "man", "is_zzp"}};
    CHECK(HasProblem(Validate(t), "disclosure.sensitive[0]", "not both"));
    t.disclosure.sensitive = {{"", "", "is_nobody"}};
    CHECK(HasProblem(Validate(t), "disclosure.sensitive[0]", "flag"));
    t.disclosure.sensitive.clear();
    t.disclosure.structural_zeros = {{{{"wijk", "WK191601"}, {"wijk", "WK191602"}}}};
    CHECK(HasProblem(Validate(t), "disclosure.structural_zero[0]", "twice"));
    t.disclosure.structural_zeros = {{{{"buurt", "B1"}}}};
    CHECK(HasProblem(Validate(t), "disclosure.structural_zero[0]", "not a declared dimension"));
    t.disclosure.structural_zeros = {{}};
    CHECK(HasProblem(Validate(t), "disclosure.structural_zero[0]", "at least one"));
  }
}

}  // namespace
}  // namespace enclave::templates
