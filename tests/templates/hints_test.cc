// Alternatives to a refused or all-withheld request (templates/hints.h): coarser geography, one
// breakdown fewer, a neighbouring period; from the template and the parameters only.
#include "enclave/templates/hints.h"

#include <doctest/doctest.h>

#include <string>
#include <utility>
#include <vector>

#include "enclave/templates/binding.h"
#include "enclave/templates/template.h"

namespace enclave::templates {
namespace {

using Raw = std::vector<std::pair<std::string, std::string>>;
using Kind = Suggestion::Kind;

CodeList Codes(const std::string& name, std::vector<std::string> codes) {
  CodeList list{name, {}};
  for (auto& c : codes) list.codes.push_back({c, {c, c}});
  return list;
}

Code C(const std::string& code) { return {code, {code, code}}; }

// The shape of T3 bijstand_stand: peildatum (CODE, quarters), breakdown1, breakdown2 and geo
// (geen, wijkcluster, wijk), wijk one level below wijkcluster.
Template T3Shape() {
  Template t;
  t.id = "bijstand_stand";
  t.version = 1;
  t.roles = {Role::kMunicipalAnalyst, Role::kResearcher};
  t.unit = "person";
  ParamSpec peildatum{"peildatum", ParamType::kCode, {}, 0, 0,
                      {C("20230331"), C("20230630"), C("20230930"), C("20231231")}, "20231231"};
  ParamSpec b1{"breakdown1", ParamType::kBreakdown, {}, 0, 0,
               {C(kNoBreakdown), C("leeftijdsgroep"), C("geslacht")}, std::string(kNoBreakdown)};
  ParamSpec b2 = b1;
  b2.name = "breakdown2";
  ParamSpec geo{"geo", ParamType::kBreakdown, {}, 0, 0,
                {C(kNoBreakdown), C("wijkcluster"), C("wijk")}, "wijk"};
  t.params = {peildatum, b1, b2, geo};
  CodeList wijk = Codes("wijk", {"WK01", "WK02", "WK03"});
  wijk.parent_list = "wijkcluster";
  wijk.parents = {"K1", "K1", "K2"};
  t.dimensions = {
      {"wijkcluster", {}, "wijkcluster", Codes("wijkcluster", {"K1", "K2"})},
      {"wijk", {}, "wijk", wijk},
      {"leeftijdsgroep", {}, "leeftijdsgroep", Codes("leeftijd_bijstand", {"18-26", "27-44"})},
      {"geslacht", {}, "geslacht", Codes("geslacht", {"M", "V"})},
  };
  t.unit_column = "person";
  t.statistics = {{"n", StatisticKind::kCount, {}, "", "", 0, 1, {}}};
  return t;
}

std::vector<Suggestion> For(const Template& t, const Raw& raw) {
  absl::StatusOr<BoundQuery> q = Bind(t, raw);
  REQUIRE(q.ok());
  return SuggestAlternatives(*q);
}

Suggestion S(Kind kind, const std::string& name, const std::string& value) {
  return Suggestion{kind, {{name, value}}};
}

TEST_CASE("wijk by age: a coarser geography, the age breakdown dropped, the quarters around it") {
  const Template t = T3Shape();
  const std::vector<Suggestion> got =
      For(t, {{"geo", "wijk"}, {"breakdown1", "leeftijdsgroep"}, {"peildatum", "20230630"}});
  const std::vector<Suggestion> want = {
      S(Kind::kCoarserGeography, "geo", "wijkcluster"),
      S(Kind::kFewerBreakdowns, "breakdown1", "geen"),
      S(Kind::kOtherPeriod, "peildatum", "20230331"),
      S(Kind::kOtherPeriod, "peildatum", "20230930"),
  };
  CHECK(got == want);
}

TEST_CASE("the geography climbs one level at a time: wijk, wijkcluster, geen") {
  const Template t = T3Shape();
  CHECK(For(t, {{"geo", "wijkcluster"}}).front() == S(Kind::kCoarserGeography, "geo", "geen"));
  // The whole municipality with no breakdown: only other periods remain (the default date is the
  // last one, so only the earlier one).
  const std::vector<Suggestion> top = For(t, {{"geo", "geen"}});
  REQUIRE(top.size() == 1);
  CHECK(top[0] == S(Kind::kOtherPeriod, "peildatum", "20230930"));
}

TEST_CASE("each breakdown is dropped on its own, in declaration order") {
  const Template t = T3Shape();
  const std::vector<Suggestion> got = For(
      t, {{"geo", "geen"}, {"breakdown1", "geslacht"}, {"breakdown2", "leeftijdsgroep"},
          {"peildatum", "20230331"}});
  const std::vector<Suggestion> want = {
      S(Kind::kFewerBreakdowns, "breakdown1", "geen"),
      S(Kind::kFewerBreakdowns, "breakdown2", "geen"),
      S(Kind::kOtherPeriod, "peildatum", "20230630"),
  };
  CHECK(got == want);
}

TEST_CASE("an integer year gets its neighbours within its range") {
  Template t = T3Shape();
  t.params[0] = ParamSpec{"year", ParamType::kInteger, {}, 2018, 2024, {}, "2024"};
  std::vector<Suggestion> got = For(t, {{"geo", "geen"}});
  REQUIRE(got.size() == 1);
  CHECK(got[0] == S(Kind::kOtherPeriod, "year", "2023"));
  got = For(t, {{"geo", "geen"}, {"year", "2020"}});
  REQUIRE(got.size() == 2);
  CHECK(got[0] == S(Kind::kOtherPeriod, "year", "2019"));
  CHECK(got[1] == S(Kind::kOtherPeriod, "year", "2021"));
}

TEST_CASE("fixed dimensions are never suggested away, and every suggestion binds") {
  Template t = T3Shape();
  t.fixed_dimensions = {"geslacht"};
  t.params[1].allowed = {C(kNoBreakdown), C("leeftijdsgroep")};
  t.params[2].allowed = {C(kNoBreakdown), C("leeftijdsgroep")};
  const Raw raw = {{"geo", "wijk"}, {"breakdown1", "leeftijdsgroep"}};
  for (const Suggestion& s : For(t, raw)) {
    Raw changed = raw;
    for (const auto& [name, value] : s.changes) {
      bool replaced = false;
      for (auto& [n, v] : changed) {
        if (n == name) {
          v = value;
          replaced = true;
        }
      }
      if (!replaced) changed.emplace_back(name, value);
      CHECK(name != "geslacht");
    }
    CHECK(Bind(t, changed).ok());
  }
}

TEST_CASE("a template without breakdowns or a period gets no suggestion") {
  Template t = T3Shape();
  t.params = {};
  t.fixed_dimensions = {"wijk"};
  CHECK(For(t, {}).empty());
}

TEST_CASE("suggestions depend on the request alone: the same request gives the same list") {
  // SuggestAlternatives sees a BoundQuery (template and parameters), never a row: asking twice,
  // or through two separately bound copies, gives identical lists.
  const Template t = T3Shape();
  const Raw raw = {{"geo", "wijk"}, {"breakdown1", "geslacht"}};
  CHECK(For(t, raw) == For(t, raw));
  const Template copy = T3Shape();
  CHECK(For(copy, raw) == For(t, raw));
}

TEST_CASE("suggestions travel on a status payload and back") {
  const std::vector<Suggestion> list = {
      S(Kind::kCoarserGeography, "geo", "wijkcluster"),
      Suggestion{Kind::kOtherPeriod, {{"odd name", "a=b\tc\n%d"}, {"year", "2023"}}},
  };
  const absl::Status refused =
      WithSuggestions(absl::FailedPreconditionError("cannot be released"), list);
  CHECK(refused.message() == "cannot be released");
  CHECK(SuggestionsOf(refused) == list);
  CHECK(DecodeSuggestions(EncodeSuggestions(list)) == list);
  // Nothing to attach, or nothing to attach to.
  CHECK(SuggestionsOf(WithSuggestions(absl::FailedPreconditionError("x"), {})).empty());
  CHECK(WithSuggestions(absl::OkStatus(), list).ok());
  CHECK(SuggestionsOf(absl::FailedPreconditionError("x")).empty());
  // Malformed payloads decode to nothing.
  CHECK_FALSE(DecodeSuggestions("coarser_geography\tgeo=wijk").has_value());  // no newline
  CHECK_FALSE(DecodeSuggestions("bogus\tgeo=wijk\n").has_value());
  CHECK_FALSE(DecodeSuggestions("other_period\tyear%2=2023\n").has_value());
  CHECK_FALSE(DecodeSuggestions("other_period\n").has_value());
}

}  // namespace
}  // namespace enclave::templates
