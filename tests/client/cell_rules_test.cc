// Decoding a query-result entry's cell_rules against a release layout (issue 12): the example of
// docs/privacy-officer.md step 8, every rule id the enclave writes, unknown ids shown verbatim,
// and a count mismatch refused rather than decoded misaligned.
#include "enclave/client/cell_rules.h"

#include <doctest/doctest.h>

#include <string>
#include <vector>

namespace enclave::client {
namespace {

bool Contains(const std::string& haystack, const std::string& needle) {
  return haystack.find(needle) != std::string::npos;
}

Dimension Dim(const std::string& name, const std::vector<std::pair<std::string, Text>>& codes) {
  Dimension d;
  d.name = name;
  d.label = {name, name};
  for (const auto& [code, label] : codes) d.codes.push_back(Code{code, label, false});
  d.codes.push_back(Code{"total", {"Totaal", "Total"}, true});
  return d;
}

// zzp_aantal_per_wijk for geo=wijkcluster with a breakdown by sex: 4 x 3 rows, 3 statistics.
ReleaseLayout Layout() {
  ReleaseLayout l;
  l.template_id = "zzp_aantal_per_wijk";
  l.template_version = 3;
  l.dimensions.push_back(Dim("wijkcluster", {{"C1", {"Voorburg", "Voorburg"}},
                                             {"C2", {"Leidschendam", "Leidschendam"}},
                                             {"C3", {"Stompwijk", "Stompwijk"}}}));
  l.dimensions.push_back(Dim("geslacht", {{"M", {"Man", "Male"}}, {"V", {"Vrouw", "Female"}}}));
  l.statistics = {StatisticInfo{"aantal", {"Aantal zzp'ers", "Number of self-employed"}, "count", 1},
                  StatisticInfo{"aandeel", {"Aandeel zzp'ers", "Share of self-employed"}, "share", 1},
                  StatisticInfo{"inkomen", {"Gemiddeld inkomen", "Mean income"}, "mean", 100}};
  return l;
}

constexpr char kHeader[] =
    "rules{cbs-default@3 T=10 share=100 nk=(1,50) p=10 c=1 income=off group=900 zeros=unsafe "
    "df=10 quota=10 precision=(1000,100,100) counts=random-rounding(5)} "
    "record_key{rk-8a0a3e99bc5c9aa7} counts{round-5@1}";

// The example's cells: 9 released (Voorburg), 9 secondary (Leidschendam), threshold and
// share-denominator for Stompwijk, 9 released (totals).
std::string ExampleRules(int drop = 0) {
  std::vector<std::string> cells;
  for (int i = 0; i < 9; ++i) cells.push_back("released");
  for (int i = 0; i < 9; ++i) cells.push_back("secondary[units/flags=1/lp-audit]");
  for (int row = 0; row < 3; ++row) {
    cells.push_back("threshold[T=10]");
    cells.push_back("share-denominator[share(100/10)]");
    cells.push_back("threshold[T=10]");
  }
  for (int i = 0; i < 9; ++i) cells.push_back("released");
  cells.resize(cells.size() - static_cast<std::size_t>(drop));
  std::string out = std::string(kHeader) + " cells{";
  for (std::size_t i = 0; i < cells.size(); ++i) out += (i == 0 ? "" : ",") + cells[i];
  return out + "}";
}

TEST_SUITE("client: cell rules") {
  TEST_CASE("the example of privacy-officer.md decodes cell by cell into labels") {
    auto decoded = DecodeCellRules(ExampleRules(), Layout());
    REQUIRE_MESSAGE(decoded.ok(), decoded.status().message());
    CHECK(decoded->header == kHeader);
    REQUIRE(decoded->cells.size() == 36);
    // Order: wijkcluster slowest, then sex, statistic fastest.
    const DecodedCell& first = decoded->cells[0];
    CHECK(first.codes == std::vector<std::string>{"C1", "M"});
    CHECK(first.statistic.name == "aantal");
    CHECK_FALSE(first.withheld);
    CHECK(first.explanation.en == "released (counts rounded to a multiple of 5 by cell key)");
    const DecodedCell& secondary = decoded->cells[9];
    CHECK(secondary.codes == std::vector<std::string>{"C2", "M"});
    CHECK(secondary.rule == "secondary");
    CHECK(secondary.detail == "units/flags=1/lp-audit");
    CHECK(secondary.withheld);
    CHECK(Contains(secondary.explanation.en, "secondary suppression"));
    const DecodedCell& share = decoded->cells[18 + 3 + 1];  // Stompwijk x Vrouw x aandeel
    CHECK(share.codes == std::vector<std::string>{"C3", "V"});
    CHECK(share.labels[0].en == "Stompwijk");
    CHECK(share.labels[1].nl == "Vrouw");
    CHECK(share.statistic.name == "aandeel");
    CHECK(share.rule == "share-denominator");
    CHECK(share.detail == "share(100/10)");
    CHECK(share.explanation.en == "withheld, share denominator below 100");
    CHECK(share.explanation.nl == "geheim, noemer van het aandeel onder 100");
    CHECK(CellDescription(share, false, false) ==
          "Stompwijk × Female: withheld, share denominator below 100");
    CHECK(CellDescription(share, true, true) ==
          "Stompwijk × Vrouw (Aandeel zzp'ers): geheim, noemer van het aandeel onder 100");
    const DecodedCell& threshold = decoded->cells[18];
    CHECK(threshold.explanation.en == "withheld, fewer than 10 units (threshold rule)");
    const DecodedCell& total = decoded->cells[35];
    CHECK(total.codes == std::vector<std::string>{"total", "total"});
    CHECK(total.labels[0].en == "Total");
    CHECK(total.statistic.name == "inkomen");
    std::size_t withheld = 0;
    for (const DecodedCell& c : decoded->cells) withheld += c.withheld ? 1 : 0;
    CHECK(withheld == 18);
  }

  TEST_CASE("a rule count that differs from the layout is refused, naming both counts") {
    auto fewer = DecodeCellRules(ExampleRules(1), Layout());
    REQUIRE_FALSE(fewer.ok());
    CHECK(fewer.status().code() == absl::StatusCode::kFailedPrecondition);
    CHECK_MESSAGE(Contains(std::string(fewer.status().message()),
                           "the entry has 35 cell rules but the layout of zzp_aantal_per_wijk@3 "
                           "for its parameters has 36 cells (4 wijkcluster × 3 geslacht × 3 "
                           "statistics)"),
                  fewer.status().message());
    ReleaseLayout one_dim = Layout();
    one_dim.dimensions.pop_back();
    CHECK(DecodeCellRules(ExampleRules(), one_dim).status().code() ==
          absl::StatusCode::kFailedPrecondition);
    // Negative control: the full list decodes.
    CHECK(DecodeCellRules(ExampleRules(), Layout()).ok());
  }

  TEST_CASE("malformed cell_rules are refused") {
    CHECK(DecodeCellRules("", Layout()).status().code() == absl::StatusCode::kInvalidArgument);
    CHECK(DecodeCellRules("rules{x} counts{none}", Layout()).status().code() ==
          absl::StatusCode::kInvalidArgument);
    CHECK(DecodeCellRules("rules{x} record_key{k} counts{none} cells{released", Layout())
              .status()
              .code() == absl::StatusCode::kInvalidArgument);
  }

  TEST_CASE("an unknown rule id is shown verbatim and taken as withheld") {
    ReleaseLayout layout = Layout();
    layout.dimensions.clear();
    layout.statistics.resize(1);
    auto decoded = DecodeCellRules("rules{x} record_key{k} counts{none} cells{future-rule[a=1]}",
                                   layout);
    REQUIRE_MESSAGE(decoded.ok(), decoded.status().message());
    REQUIRE(decoded->cells.size() == 1);
    const DecodedCell& c = decoded->cells[0];
    CHECK_FALSE(c.known);
    CHECK(c.withheld);
    CHECK(Contains(c.explanation.en, "unknown rule 'future-rule[a=1]'"));
    CHECK(Contains(c.explanation.nl, "onbekende regel 'future-rule[a=1]'"));
    CHECK(CellDescription(c, false, false).starts_with("Number of self-employed: unknown rule"));
  }

  TEST_CASE("every rule id the enclave writes is known, withheld or released as it says") {
    struct Case {
      const char* rule;
      const char* detail;
      bool withheld;
      const char* en;  // a part of the English explanation
    };
    const std::vector<Case> cases = {
        {"released", "", false, "released"},
        {"structural-zero", "", false, "structural zero"},
        {"empty", "T=10", true, "empty cell"},
        {"threshold", "T=10", true, "fewer than 10 units"},
        {"share-denominator", "share(100/10)", true, "share denominator below 100"},
        {"share-numerator", "share(100/10)", true, "share numerator below 10 units"},
        {"quantile-n", "T=10/q=500", true, "too few units for the median (threshold 10)"},
        {"dominance-nk", "nk(1/50)", true, "the largest 1 contribution(s) exceed 50%"},
        {"p-percent", "p(10/c=1)", true, "p% rule (p=10, coalition 1)"},
        {"income-n", "income(n>=20/50%)", true, "income rule: fewer than 20 units"},
        {"income-extreme", "income(n>=20/50%)", true, "one value exceeds 50% of the total"},
        {"group", "group(900)", true, "more than 90% of the group"},
        {"sensitive-zero", "group(900)", true, "a zero in a sensitive category"},
        {"facts-invalid", "", true, "failed closed"},
        {"min-max", "", true, "never released"},
        {"mean-withheld", "", true, "did not choose the mean"},
        {"undefined", "", true, "zero denominator"},
        {"derived-undefined", "", true, "cannot be derived"},
        {"comparison", "", true, "the whole comparison is"},
        {"relative-risk-reference", "", true, "reference group's share is withheld"},
        {"secondary", "sums/flags=0/lp-audit+integer", true, "secondary suppression"},
        {"dp-noisy", "DP_LAPLACE", false, "noise"},
        {"dp-derived", "DP_LAPLACE", false, "derived from noisy cells"},
        {"dp-below-display-threshold", "DP_LAPLACE", true, "below the display threshold"},
        {"dp-not-selected", "DP_LAPLACE", true, "not selected"},
        {"dp-margin-of-unselected", "DP_LAPLACE", true, "unselected cell"},
        {"dp-repeat", "", false, "identical earlier request"},
    };
    for (const Case& c : cases) {
      CAPTURE(c.rule);
      bool withheld = false, known = false;
      const Text t = ExplainRule(c.rule, c.detail, "round-5@1", &withheld, &known);
      CHECK(known);
      CHECK(withheld == c.withheld);
      CHECK_MESSAGE(Contains(t.en, c.en), t.en);
      CHECK_FALSE(t.nl.empty());
      CHECK(t.nl != t.en);
    }
    bool withheld = false, known = true;
    ExplainRule("released", "", "none", &withheld, &known);
    CHECK(known);
    CHECK(ExplainRule("released", "", "none", &withheld, &known).en == "released");
  }

  TEST_CASE("canonical parameters split into pairs, pieces without '=' are skipped") {
    using Pairs = std::vector<std::pair<std::string, std::string>>;
    CHECK(SplitCanonicalParams("geo=wijk&year=2023") == Pairs{{"geo", "wijk"}, {"year", "2023"}});
    CHECK(SplitCanonicalParams("") == Pairs{});
    CHECK(SplitCanonicalParams("0..5") == Pairs{});
    CHECK(SplitCanonicalParams("a=&b=x=y") == Pairs{{"a", ""}, {"b", "x=y"}});
  }
}

}  // namespace
}  // namespace enclave::client
