// Offline marshalling: what a Release becomes on the wire, and what never does.
#include <doctest/doctest.h>

#include <string>
#include <vector>

#include "enclave/core/release.h"
#include "enclave/rpc/marshalling.h"

namespace enclave::rpc {
namespace {

templates::Template MakeTemplate() {
  templates::Template t;
  t.id = "zzp_aantal_per_wijk";
  t.version = 3;
  t.theme = "zzp";
  t.title = {"Zzp'ers per wijk", "Self-employed per district"};
  t.description = {"Aantal zzp'ers", "Number of self-employed"};
  t.unit = "person";
  t.text_sha256 = std::string(64, 'a');
  t.disclosure.rule_set = "cbs-default";
  t.disclosure.min_units = 10;
  templates::ParamSpec year;
  year.name = "year";
  year.type = templates::ParamType::kInteger;
  year.min = 2015;
  year.max = 2024;
  year.default_value = "2023";
  templates::ParamSpec breakdown;
  breakdown.name = "breakdown";
  breakdown.type = templates::ParamType::kBreakdown;
  breakdown.allowed = {{"wijk", {"Wijk", "District"}}, {"geen", {"Geen", "None"}}};
  t.params = {year, breakdown};
  templates::Statistic count;
  count.name = "persons";
  count.kind = templates::StatisticKind::kCount;
  count.label = {"Personen", "Persons"};
  templates::Statistic mean;
  mean.name = "mean_income";
  mean.kind = templates::StatisticKind::kMean;
  mean.precision = 100;
  t.statistics = {count, mean};
  return t;
}

core::Release MakeRelease(const templates::Template& t) {
  core::Release r;
  r.tmpl = &t;
  // Deliberately unsorted: the wire form is sorted by name.
  r.params = {{"year", std::int64_t{2023}}, {"breakdown", std::string("wijk")}};
  r.data_version = "synthetic-lv-seed42-v1";
  r.rule_set = "cbs-default@1";
  core::ReleasedDimension wijk;
  wijk.name = "wijk";
  wijk.label = {"Wijk", "District"};
  wijk.codes = {{"WK191601", {"Wijk 01", "District 01"}, false},
                {"WK191602", {"Wijk 02", "District 02"}, false},
                {"T001", {"Totaal", "Total"}, true}};
  r.dimensions = {wijk};
  auto cell = [](std::uint32_t code, std::uint32_t stat, disclosure::CellStatus status,
                 std::optional<std::int64_t> value) {
    core::ReleasedCell c;
    c.coordinates = {code};
    c.statistic = stat;
    c.status = status;
    c.value = value;
    return c;
  };
  using disclosure::CellStatus;
  r.cells = {cell(0, 0, CellStatus::kReleased, 120), cell(0, 1, CellStatus::kReleased, 31200),
             // A confidential cell whose domain object (wrongly) still holds a number: the wire
             // form must not carry it.
             cell(1, 0, CellStatus::kConfidential, 987654321), cell(1, 1, CellStatus::kConfidential, {}),
             cell(2, 0, CellStatus::kReleased, 124), cell(2, 1, CellStatus::kReleased, 31100)};
  r.provenance = {{"released"}, {"released"}, {"threshold"}, {"threshold"}, {"released"},
                  {"released"}};
  return r;
}

}  // namespace

TEST_SUITE("Marshalling") {
  TEST_CASE("a confidential cell is marshalled as withheld CONFIDENTIAL with no value") {
    const templates::Template t = MakeTemplate();
    const core::Release r = MakeRelease(t);
    auto response = ToRunQueryResponse(r, "req-7");
    REQUIRE(response.ok());
    const auto& cells = response->table().cells();
    REQUIRE(cells.size() == 6);
    CHECK(cells[0].outcome_case() == enclave::v1::Cell::kValue);
    CHECK(cells[0].value() == 120);
    for (int i : {2, 3}) {
      CHECK(cells[i].outcome_case() == enclave::v1::Cell::kWithheld);
      CHECK(cells[i].withheld() == enclave::v1::CONFIDENTIAL);
    }
    CHECK(cells[2].coordinates_size() == 1);
    CHECK(cells[2].coordinates(0) == 1);
    CHECK(cells[3].statistic() == 1);
  }

  TEST_CASE("the value of a confidential cell never reaches the serialized bytes") {
    const templates::Template t = MakeTemplate();
    const core::Release r = MakeRelease(t);
    auto response = ToRunQueryResponse(r, "req-7");
    REQUIRE(response.ok());
    enclave::v1::RunQueryResponse reparsed;
    REQUIRE(reparsed.ParseFromString(response->SerializeAsString()));
    for (const auto& cell : reparsed.table().cells()) {
      if (cell.outcome_case() == enclave::v1::Cell::kValue) CHECK(cell.value() != 987654321);
    }
  }

  TEST_CASE("cell provenance (the rule that fired) never appears in the response bytes") {
    const templates::Template t = MakeTemplate();
    const core::Release r = MakeRelease(t);
    auto response = ToRunQueryResponse(r, "req-7");
    REQUIRE(response.ok());
    const std::string bytes = response->SerializeAsString();
    CHECK(bytes.find("threshold") == std::string::npos);
    CHECK(response->DebugString().find("threshold") == std::string::npos);
  }

  TEST_CASE("release metadata carries template digest, rule set, data version, sorted parameters and notes") {
    const templates::Template t = MakeTemplate();
    const core::Release r = MakeRelease(t);
    auto response = ToRunQueryResponse(r, "req-7");
    REQUIRE(response.ok());
    const auto& m = response->metadata();
    CHECK(m.template_id() == "zzp_aantal_per_wijk");
    CHECK(m.template_version() == 3);
    CHECK(m.template_sha256() == std::string(64, 'a'));
    CHECK(m.rule_set() == "cbs-default@1");
    CHECK(m.data_version() == "synthetic-lv-seed42-v1");
    CHECK(m.request_id() == "req-7");
    REQUIRE(m.parameters_size() == 2);
    CHECK(m.parameters(0).name() == "breakdown");
    CHECK(m.parameters(0).value() == "wijk");
    CHECK(m.parameters(1).name() == "year");
    CHECK(m.parameters(1).value() == "2023");
    bool totals = false;
    bool dot = false;
    for (const auto& note : m.notes()) {
      if (note.en() == kTotalsNoteEn && note.nl() == kTotalsNoteNl) totals = true;
      if (note.en() == "'.' = confidential" && !note.nl().empty()) dot = true;
    }
    CHECK(totals);
    CHECK(dot);
  }

  TEST_CASE("a differentially private release says its values and totals are noisy, not from the microdata") {
    const templates::Template t = MakeTemplate();
    core::Release r = MakeRelease(t);
    r.treatment = "DP_LAPLACE_eps=0.25";
    auto response = ToRunQueryResponse(r, "req-8");
    REQUIRE(response.ok());
    bool dp = false;
    bool totals = false;
    for (const auto& note : response->metadata().notes()) {
      if (note.en() == kDpNoteEn && note.nl() == kDpNoteNl) dp = true;
      if (note.en() == kTotalsNoteEn) totals = true;
    }
    CHECK(dp);
    CHECK_FALSE(totals);
  }

  TEST_CASE("the table carries dimensions with totals and the template's statistics") {
    const templates::Template t = MakeTemplate();
    const core::Release r = MakeRelease(t);
    auto response = ToRunQueryResponse(r, "req-7");
    REQUIRE(response.ok());
    const auto& table = response->table();
    REQUIRE(table.dimensions_size() == 1);
    CHECK(table.dimensions(0).name() == "wijk");
    REQUIRE(table.dimensions(0).codes_size() == 3);
    CHECK(table.dimensions(0).codes(2).is_total());
    CHECK_FALSE(table.dimensions(0).codes(0).is_total());
    CHECK(table.dimensions(0).codes(1).label().en() == "District 02");
    REQUIRE(table.statistics_size() == 2);
    CHECK(table.statistics(0).kind() == "count");
    CHECK(table.statistics(1).kind() == "mean");
    CHECK(table.statistics(1).precision() == 100);
  }

  TEST_CASE("an inconsistent release fails closed as kInternal") {
    const templates::Template t = MakeTemplate();
    SUBCASE("released cell without a value") {
      core::Release r = MakeRelease(t);
      r.cells[0].value.reset();
      CHECK(ToRunQueryResponse(r, "x").status().code() == absl::StatusCode::kInternal);
    }
    SUBCASE("coordinate out of range") {
      core::Release r = MakeRelease(t);
      r.cells[0].coordinates = {7};
      CHECK(ToRunQueryResponse(r, "x").status().code() == absl::StatusCode::kInternal);
    }
    SUBCASE("statistic out of range") {
      core::Release r = MakeRelease(t);
      r.cells[0].statistic = 5;
      CHECK(ToRunQueryResponse(r, "x").status().code() == absl::StatusCode::kInternal);
    }
    SUBCASE("no template") {
      core::Release r = MakeRelease(t);
      r.tmpl = nullptr;
      CHECK(ToRunQueryResponse(r, "x").status().code() == absl::StatusCode::kInternal);
    }
  }

  TEST_CASE("a template summary carries id, version, title and theme") {
    const templates::Template t = MakeTemplate();
    const enclave::v1::TemplateSummary s = ToTemplateSummary(t);
    CHECK(s.id() == "zzp_aantal_per_wijk");
    CHECK(s.version() == 3);
    CHECK(s.theme() == "zzp");
    CHECK(s.title().nl() == "Zzp'ers per wijk");
    CHECK(s.title().en() == "Self-employed per district");
  }

  TEST_CASE("a template description carries parameters, statistics and the versioned rule set") {
    const templates::Template t = MakeTemplate();
    disclosure::RuleSetParams rules;
    rules.id = "cbs-default";
    rules.version = 2;
    rules.min_units = 15;
    const enclave::v1::TemplateDescription d = ToTemplateDescription(t, &rules);
    CHECK(d.summary().id() == "zzp_aantal_per_wijk");
    CHECK(d.description().en() == "Number of self-employed");
    CHECK(d.rule_set() == "cbs-default@2");
    CHECK(d.min_units() == 15);  // the rule set's floor wins over the template's 10
    CHECK(d.unit() == "person");
    REQUIRE(d.parameters_size() == 2);
    CHECK(d.parameters(0).type() == enclave::v1::ParameterDescription::INTEGER);
    CHECK(d.parameters(0).min() == 2015);
    CHECK(d.parameters(0).max() == 2024);
    CHECK(d.parameters(0).default_value() == "2023");
    CHECK(d.parameters(1).type() == enclave::v1::ParameterDescription::BREAKDOWN);
    REQUIRE(d.parameters(1).allowed_values_size() == 2);
    CHECK(d.parameters(1).allowed_values(0).code() == "wijk");
    CHECK(d.parameters(1).default_value().empty());
    REQUIRE(d.statistics_size() == 2);
    CHECK(d.statistics(0).name() == "persons");

    const enclave::v1::TemplateDescription unversioned = ToTemplateDescription(t, nullptr);
    CHECK(unversioned.rule_set() == "cbs-default");
    CHECK(unversioned.min_units() == 10);
  }

  TEST_CASE("a DP template is described by its mechanism, charge, display rule and ledgers") {
    templates::Template t = MakeTemplate();
    templates::DpSettings dp;
    dp.epsilon_micro = 250'000;
    dp.display_threshold = 10;
    t.dp = dp;
    disclosure::RuleSetParams rules;
    rules.id = "cbs-default";
    rules.version = 1;
    rules.min_units = 10;
    const enclave::v1::TemplateDescription d = ToTemplateDescription(t, &rules);
    // Not the cell-key promise: no minimum cell size, no cbs-default rule set.
    CHECK(d.rule_set() == "dp-discrete-laplace");
    CHECK(d.min_units() == 0);
    REQUIRE(d.has_dp());
    CHECK(d.dp().mechanism() == "discrete_laplace");
    CHECK(d.dp().charge_micro() == 250'000);
    CHECK(d.dp().epsilon_micro() == 250'000);
    CHECK(d.dp().max_cells_per_unit() == 1);
    CHECK(d.dp().cells_public());
    CHECK(d.dp().display_threshold() == 10);
    CHECK(d.dp().selection_threshold() == 0);
    CHECK(std::vector<std::string>(d.dp().ledgers().begin(), d.dp().ledgers().end()) ==
          std::vector<std::string>{"agreement", "project", "data-version"});

    // Cells not public: the raw minimum, τ and the selection's ε, charged on top.
    t.dp->cells_public = false;
    t.dp->min_units = 10;
    t.dp->selection_epsilon_micro = 500'000;
    t.dp->delta_exponent = 6;
    const enclave::v1::TemplateDescription s = ToTemplateDescription(t, &rules);
    CHECK(s.min_units() == 10);
    CHECK_FALSE(s.dp().cells_public());
    CHECK(s.dp().charge_micro() == 750'000);
    CHECK(s.dp().selection_epsilon_micro() == 500'000);
    CHECK(s.dp().selection_threshold() == 37);  // §7.7: ε_sel = 0.5, δ = 10^-6 -> 36.2 -> 37
    CHECK(s.dp().delta_exponent() == 6);

    // A template without DP has no dp section and keeps its rule set and minimum.
    const enclave::v1::TemplateDescription plain = ToTemplateDescription(MakeTemplate(), &rules);
    CHECK_FALSE(plain.has_dp());
    CHECK(plain.rule_set() == "cbs-default@1");
    CHECK(plain.min_units() == 10);
  }

  TEST_CASE("a run's charge and an all-withheld table's alternatives are marshalled") {
    const templates::Template t = MakeTemplate();
    core::RunResult result;
    result.release = MakeRelease(t);
    result.request_id = "q-1";
    result.dp_charge = core::DpCharge{250'000, false, {{"agreement:A", 4'000'000, 250'000, 0}}};
    result.suggestions = {
        {templates::Suggestion::Kind::kCoarserGeography, {{"geo", "wijkcluster"}}},
        {templates::Suggestion::Kind::kOtherPeriod, {{"year", "2022"}}}};
    auto r = ToRunQueryResponse(result);
    REQUIRE(r.ok());
    CHECK(r->metadata().request_id() == "q-1");
    REQUIRE(r->has_budget_charge());
    CHECK(r->budget_charge().charged_micro() == 250'000);
    CHECK_FALSE(r->budget_charge().repeat());
    REQUIRE(r->budget_charge().ledgers_size() == 1);
    CHECK(r->budget_charge().ledgers(0).ledger() == "agreement:A");
    CHECK(r->budget_charge().ledgers(0).remaining_micro() == 3'750'000);
    REQUIRE(r->suggestions_size() == 2);
    CHECK(r->suggestions(0).kind() == enclave::v1::Suggestion::COARSER_GEOGRAPHY);
    CHECK(r->suggestions(0).changes(0).name() == "geo");
    CHECK(r->suggestions(0).changes(0).value() == "wijkcluster");
    CHECK(r->suggestions(1).kind() == enclave::v1::Suggestion::OTHER_PERIOD);

    // Without DP and with released cells: neither field.
    core::RunResult plain;
    plain.release = MakeRelease(t);
    auto p = ToRunQueryResponse(plain);
    REQUIRE(p.ok());
    CHECK_FALSE(p->has_budget_charge());
    CHECK(p->suggestions_size() == 0);
  }
}

}  // namespace enclave::rpc
