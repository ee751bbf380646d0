// Policy loader: the shipped policies load; malformed or unsafe files fail the whole load with
// FILE:LINE:COLUMN messages.
#include <doctest/doctest.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <map>
#include <regex>
#include <string>

#include "enclave/adapters/policy_files/access_files.h"
#include "enclave/adapters/policy_files/loader.h"

namespace enclave::adapters::policy_files {
namespace {

namespace fs = std::filesystem;

const fs::path kShipped = fs::path(ENCLAVE_SOURCE_DIR) / "policies";

// A copy of the shipped policies in a temp directory, to break on purpose.
class PolicyCopy {
 public:
  PolicyCopy() {
    root_ = fs::temp_directory_path() /
            ("enclave_policy_files_" + std::to_string(::getpid()) + "_" + std::to_string(++n_));
    fs::remove_all(root_);
    fs::create_directories(root_);
    fs::copy(kShipped, root_ / "policies", fs::copy_options::recursive);
  }
  ~PolicyCopy() {
    std::error_code ec;
    fs::remove_all(root_, ec);
  }
  std::string dir() const { return (root_ / "policies").string(); }
  void Write(const std::string& rel, const std::string& text) const {
    std::ofstream(root_ / "policies" / rel, std::ios::binary | std::ios::trunc) << text;
  }
  std::string Read(const std::string& rel) const {
    std::ifstream in(root_ / "policies" / rel, std::ios::binary);
    return std::string(std::istreambuf_iterator<char>(in), {});
  }
  // Replaces the first occurrence of `from` in a file.
  void Edit(const std::string& rel, const std::string& from, const std::string& to) const {
    std::string text = Read(rel);
    auto pos = text.find(from);
    REQUIRE(pos != std::string::npos);
    text.replace(pos, from.size(), to);
    Write(rel, text);
  }

 private:
  static inline int n_ = 0;
  fs::path root_;
};

// The 1-based line of the first line containing `needle`.
int LineOf(const std::string& text, const std::string& needle) {
  auto pos = text.find(needle);
  REQUIRE(pos != std::string::npos);
  return 1 + static_cast<int>(std::count(text.begin(), text.begin() + static_cast<long>(pos), '\n'));
}

std::string LoadError(const PolicyCopy& copy) {
  auto loaded = LoadPolicies(copy.dir(), nullptr);
  REQUIRE_FALSE(loaded.ok());
  CHECK(loaded.status().code() == absl::StatusCode::kInvalidArgument);
  return std::string(loaded.status().message());
}

// "LINE:COLUMN" (one-based) of the first occurrence of `needle` in `text`.
std::string PositionOf(const std::string& text, const std::string& needle) {
  const std::size_t at = text.find(needle);
  REQUIRE(at != std::string::npos);
  const std::size_t line_start = text.rfind('\n', at);
  const std::size_t column = at - (line_start == std::string::npos ? 0 : line_start + 1) + 1;
  const auto line = std::count(text.begin(), text.begin() + static_cast<std::ptrdiff_t>(at), '\n') + 1;
  return std::to_string(line) + ":" + std::to_string(column);
}

// Where the `agreement {` block holding `id: "<id>"` starts.
std::string AgreementPosition(const std::string& text, const std::string& id) {
  const std::size_t id_at = text.find("id: \"" + id + "\"");
  REQUIRE(id_at != std::string::npos);
  const std::size_t block = text.rfind("agreement {", id_at);
  REQUIRE(block != std::string::npos);
  return PositionOf(text, text.substr(block, id_at - block + id.size() + 6));
}

const char kT1[] = "templates/t01_zzp_aantal_per_wijk.textproto";

TEST_SUITE("LoadPolicies") {
  TEST_CASE("the shipped policies load without error") {
    auto loaded = LoadPolicies(kShipped.string(), nullptr);
    REQUIRE_MESSAGE(loaded.ok(), loaded.status().message());
    const auto& templates = loaded->catalog->templates;
    REQUIRE(templates.size() >= 7);
    CHECK(std::is_sorted(templates.begin(), templates.end(),
                         [](const auto& a, const auto& b) { return a.id < b.id; }));
    for (const char* id : {"zzp_aantal_per_wijk", "zzp_inkomen_verdeling", "bijstand_stand",
                           "reintegratie_uitkomst_cohort", "jeugdhulp_gebruik",
                           "jongeren_neet_werkloos", "event_impact_pin", "bijstand_stromen",
                           "bevolking_noemer", "jeugdhulp_gezinscontext",
                           "reintegratie_vergelijking_gematcht"}) {
      CAPTURE(id);
      auto it = std::find_if(templates.begin(), templates.end(),
                             [&](const auto& t) { return t.id == id; });
      REQUIRE(it != templates.end());
      CHECK(it->text_sha256.size() == 64);
      CHECK(it->source_file.rfind("policies/templates/", 0) == 0);
      CHECK(templates::Bind(*it, {}).ok());  // runs with no parameters
    }
    REQUIRE(loaded->catalog->rule_sets.count("cbs-default") == 1);
    CHECK(loaded->catalog->rule_sets.at("cbs-default").min_units == 10);
    REQUIRE(loaded->principals != nullptr);
    CHECK(loaded->principals->size() == 6);
    auto analyst = loaded->principals->Find("spiffe://udc-lv.local/municipal_analyst/analyst1");
    REQUIRE(analyst.ok());
    CHECK(analyst->role == templates::Role::kMunicipalAnalyst);
    CHECK(analyst->organisation == "Gemeente Leidschendam-Voorburg");
    auto researcher = loaded->principals->Find("spiffe://udc-lv.local/researcher/researcher1");
    REQUIRE(researcher.ok());
    CHECK(researcher->projects == std::vector<std::string>{"P2026-001"});
    // The DP template's researcher is another principal in another project (§7.1).
    auto dp_researcher = loaded->principals->Find("spiffe://udc-lv.local/researcher/researcher2");
    REQUIRE(dp_researcher.ok());
    CHECK(dp_researcher->projects == std::vector<std::string>{"P2026-002"});
  }

  TEST_CASE("T1 has the declared parameters and defaults") {
    auto loaded = LoadPolicies(kShipped.string(), nullptr);
    REQUIRE(loaded.ok());
    const templates::Template* t1 = nullptr;
    for (const auto& t : loaded->catalog->templates) {
      if (t.id == "zzp_aantal_per_wijk") t1 = &t;
    }
    REQUIRE(t1 != nullptr);
    auto q = templates::Bind(*t1, {});
    REQUIRE(q.ok());
    CHECK(q->CanonicalParams() == "age_group=15-74&breakdown=geen&geo=wijk&sex=all&year=2023");
    REQUIRE(q->dimensions.size() == 1);
    CHECK(q->dimensions[0]->name == "wijk");
    CHECK(q->dimensions[0]->codes.codes.size() == 13);
  }

  TEST_CASE("the wijk code list declares one wijkcluster parent per wijk") {
    auto loaded = LoadPolicies(kShipped.string(), nullptr);
    REQUIRE(loaded.ok());
    const templates::Template* t1 = nullptr;
    for (const auto& t : loaded->catalog->templates) {
      if (t.id == "zzp_aantal_per_wijk") t1 = &t;
    }
    REQUIRE(t1 != nullptr);
    const templates::CodeList* wijk = nullptr;
    for (const auto& d : t1->dimensions) {
      if (d.name == "wijk") wijk = &d.codes;
    }
    REQUIRE(wijk != nullptr);
    CHECK(wijk->parent_list == "wijkcluster");
    REQUIRE(wijk->parents.size() == 13);
    CHECK(wijk->parents[0] == "Leidschendam");
    CHECK(wijk->parents[3] == "Stompwijk");
    CHECK(wijk->parents[12] == "Voorburg");
  }

  TEST_CASE("a wijk without a parent, with two, or with an unknown one is refused") {
    const char kGeo[] = "codelists/geografie.textproto";
    {
      PolicyCopy copy;
      copy.Edit(kGeo, "  parent { code: \"WK191605\" parent: \"Leidschendam\" }\n", "");
      std::string error = LoadError(copy);
      CHECK_MESSAGE(error.find("code 'WK191605' has no parent") != std::string::npos, error);
    }
    {
      PolicyCopy copy;
      copy.Edit(kGeo, "  parent { code: \"WK191605\" parent: \"Leidschendam\" }\n",
                "  parent { code: \"WK191605\" parent: \"Leidschendam\" }\n"
                "  parent { code: \"WK191605\" parent: \"Voorburg\" }\n");
      std::string error = LoadError(copy);
      CHECK_MESSAGE(error.find("code 'WK191605' has more than one parent") != std::string::npos,
                    error);
    }
    {
      PolicyCopy copy;
      copy.Edit(kGeo, "parent: \"Stompwijk\"", "parent: \"Nootdorp\"");
      std::string error = LoadError(copy);
      CHECK_MESSAGE(error.find("names parent 'Nootdorp', not a code of 'wijkcluster'") !=
                        std::string::npos,
                    error);
    }
    {
      PolicyCopy copy;
      copy.Edit(kGeo, "parent_list: \"wijkcluster\"", "parent_list: \"gemeente\"");
      std::string error = LoadError(copy);
      CHECK_MESSAGE(error.find("parent_list 'gemeente' is not another code list") !=
                        std::string::npos,
                    error);
    }
  }

  TEST_CASE("the template hash covers the exact file bytes") {
    PolicyCopy copy;
    auto before = LoadPolicies(copy.dir(), nullptr);
    REQUIRE(before.ok());
    copy.Write(kT1, copy.Read(kT1) + "\n# a comment changes the bytes\n");
    auto after = LoadPolicies(copy.dir(), nullptr);
    REQUIRE(after.ok());
    auto hash = [](const LoadedPolicies& p) {
      for (const auto& t : p.catalog->templates) {
        if (t.id == "zzp_aantal_per_wijk") return t.text_sha256;
      }
      return std::string();
    };
    CHECK(hash(*before) != hash(*after));
  }

  TEST_CASE("a syntax error names the file, line and column") {
    PolicyCopy copy;
    copy.Edit(kT1, "theme: \"zzp\"", "theme: \"zzp");
    std::string error = LoadError(copy);
    int line = LineOf(copy.Read(kT1), "theme:");
    CHECK_MESSAGE(error.find("policies/templates/t01_zzp_aantal_per_wijk.textproto:" +
                             std::to_string(line) + ":") != std::string::npos,
                  error);
  }

  TEST_CASE("an unknown field is an error at its line") {
    PolicyCopy copy;
    copy.Edit(kT1, "theme: \"zzp\"", "theme: \"zzp\"\nowner: \"me\"");
    std::string error = LoadError(copy);
    int line = LineOf(copy.Read(kT1), "owner:");
    CHECK_MESSAGE(error.find("t01_zzp_aantal_per_wijk.textproto:" + std::to_string(line) + ":") !=
                      std::string::npos,
                  error);
    CHECK(error.find("owner") != std::string::npos);
  }

  TEST_CASE("an unknown code list is an error at the code_list line") {
    PolicyCopy copy;
    copy.Edit(kT1, "code_list: \"geslacht\"", "code_list: \"gender\"");
    std::string error = LoadError(copy);
    int line = LineOf(copy.Read(kT1), "code_list: \"gender\"");
    CHECK_MESSAGE(error.find("t01_zzp_aantal_per_wijk.textproto:" + std::to_string(line) +
                             ":3: dimension 'geslacht': unknown code list 'gender'") !=
                      std::string::npos,
                  error);
  }

  TEST_CASE("a dimension on the unit column is refused at the column line") {
    PolicyCopy copy;
    copy.Edit(kT1, "column: \"geslacht\"", "column: \"person\"");
    std::string error = LoadError(copy);
    int line = LineOf(copy.Read(kT1), "column: \"person\"");
    CHECK_MESSAGE(error.find("t01_zzp_aantal_per_wijk.textproto:" + std::to_string(line) +
                             ":3: dimension[geslacht].column: must not be the unit column") !=
                      std::string::npos,
                  error);
  }

  TEST_CASE("min_units below the floor is refused at its line") {
    PolicyCopy copy;
    copy.Edit(kT1, "min_units: 10", "min_units: 5");
    std::string error = LoadError(copy);
    int line = LineOf(copy.Read(kT1), "min_units: 5");
    CHECK_MESSAGE(error.find("t01_zzp_aantal_per_wijk.textproto:" + std::to_string(line) + ":") !=
                      std::string::npos,
                  error);
    CHECK(error.find("min_units") != std::string::npos);
  }

  TEST_CASE("a duplicate template id is refused") {
    PolicyCopy copy;
    copy.Write("templates/t99_copy.textproto", copy.Read(kT1));
    std::string error = LoadError(copy);
    CHECK_MESSAGE(error.find("policies/templates/t99_copy.textproto:") != std::string::npos, error);
    CHECK(error.find("template id 'zzp_aantal_per_wijk' is also declared in "
                     "policies/templates/t01_zzp_aantal_per_wijk.textproto") != std::string::npos);
  }

  TEST_CASE("all or nothing: every problem of every file is listed and nothing loads") {
    PolicyCopy copy;
    copy.Edit(kT1, "min_units: 10", "min_units: 5");
    copy.Edit("templates/t03_bijstand_stand.textproto", "code_list: \"herkomst\"",
              "code_list: \"afkomst\"");
    copy.Edit("access/principals.textproto", "role: OPERATOR", "role: ROLE_UNSPECIFIED");
    std::string error = LoadError(copy);
    CHECK(error.find("t01_zzp_aantal_per_wijk.textproto") != std::string::npos);
    CHECK(error.find("t03_bijstand_stand.textproto") != std::string::npos);
    CHECK(error.find("unknown code list 'afkomst'") != std::string::npos);
    CHECK(error.find("principals.textproto") != std::string::npos);
    CHECK(std::count(error.begin(), error.end(), '\n') >= 2);
  }

  TEST_CASE("a share may be per 1,000: T3 ships one, per on a count is refused") {
    auto loaded = LoadPolicies(kShipped.string(), nullptr);
    REQUIRE_MESSAGE(loaded.ok(), loaded.status().message());
    const templates::Template* t3 = loaded->catalog->Find("bijstand_stand");
    REQUIRE(t3 != nullptr);
    std::map<std::string, std::int64_t> per;
    for (const templates::Statistic& s : t3->statistics) per[s.name] = s.per;
    CHECK(per["pct_bijstand"] == 100);  // unset: a percentage
    CHECK(per["per_1000_bijstand"] == 1000);
    CHECK(per["n_bijstand"] == 100);

    PolicyCopy copy;
    copy.Edit(kT1, "kind: COUNT", "kind: COUNT per: 1000");
    const std::string error = LoadError(copy);
    CHECK(error.find("per") != std::string::npos);
    CHECK(error.find("applies to SHARE statistics only") != std::string::npos);
  }

  TEST_CASE("a statistic kind left unspecified is refused") {
    PolicyCopy copy;
    copy.Edit(kT1, "kind: COUNT", "kind: KIND_UNSPECIFIED");
    std::string error = LoadError(copy);
    CHECK(error.find("kind must be COUNT, SUM, MEAN, QUANTILE, SHARE, RATIO, RELATIVE_RISK or "
                     "SHARE_DIFFERENCE") != std::string::npos);
  }

  TEST_CASE("an unknown rule set is refused") {
    PolicyCopy copy;
    copy.Edit(kT1, "rule_set: \"cbs-default\"", "rule_set: \"lenient\"");
    CHECK(LoadError(copy).find("unknown rule set 'lenient'") != std::string::npos);
  }

  TEST_CASE("a missing principals file or policies directory is refused") {
    PolicyCopy copy;
    fs::remove(fs::path(copy.dir()) / "access" / "principals.textproto");
    CHECK(LoadError(copy).find("principals.textproto") != std::string::npos);
    auto none = LoadPolicies(copy.dir() + "/absent", nullptr);
    CHECK(none.status().code() == absl::StatusCode::kInvalidArgument);
  }

  TEST_CASE("templates of one unit type counting different entities are refused") {
    // A second template of T10's units counting the units themselves would be guarded apart from
    // T10's enterprises (disclosure-control.md §6.1): refused, naming both templates.
    PolicyCopy copy;
    std::string t10 = copy.Read("templates/t10_event_impact_pin.textproto");
    const std::string id = "id: \"event_impact_pin\"";
    REQUIRE(t10.find(id) != std::string::npos);
    t10.replace(t10.find(id), id.size(), "id: \"event_impact_units\"");
    const std::string entity = "  threshold_entity: \"enterprise\"\n";
    REQUIRE(t10.find(entity) != std::string::npos);
    t10.erase(t10.find(entity), entity.size());
    copy.Write("templates/t98_event_impact_units.textproto", t10);
    std::string error = LoadError(copy);
    CHECK_MESSAGE(error.find("templates 'event_impact_pin' and 'event_impact_units' release units "
                             "of type 'establishment'") != std::string::npos,
                  error);
    CHECK(error.find("threshold_entity") != std::string::npos);
  }

  TEST_CASE("T10 merges an enterprise's vestigingen as one holding under cbs-business") {
    auto loaded = LoadPolicies(kShipped.string(), nullptr);
    REQUIRE(loaded.ok());
    for (const auto& t : loaded->catalog->templates) {
      if (t.id == "event_impact_pin") {
        CHECK(t.disclosure.holding_column == "be_id");
        CHECK(t.disclosure.threshold_entity == "enterprise");  // R5 counts enterprises
        CHECK(t.disclosure.rule_set == "cbs-business");
        CHECK(t.ExpectedColumns().back() == "be_id");
      }
      if (t.id == "zzp_inkomen_verdeling") CHECK(t.disclosure.rule_set == "cbs-income");
      // T7 v4: a trajectory's verblijf and verwijzer are multi-valued; nothing else is.
      for (const auto& d : t.dimensions) {
        CAPTURE(t.id);
        CAPTURE(d.name);
        CHECK(d.multi_valued == (t.id == "jeugdhulp_gebruik" &&
                                 (d.name == "verblijf" || d.name == "verwijzer")));
      }
      if (t.id == "bijstand_stand" || t.id == "jeugdhulp_gebruik") {
        REQUIRE(t.disclosure.sensitive.size() == 1);
        CHECK(t.disclosure.sensitive[0].flag == (t.id == "bijstand_stand" ? "op_bijstand" : "jeugdhulp"));
      }
    }
    // A holding column that is also a flag column is refused at load, naming the field.
    PolicyCopy copy;
    const std::string t10 = "templates/t10_event_impact_pin.textproto";
    copy.Edit(t10, "holding_column: \"be_id\"", "holding_column: \"in_window\"");
    CHECK(LoadError(copy).find("holding_column") != std::string::npos);
    // Structural zeros and sensitive codes load into the template and are validated.
    PolicyCopy zeros;
    zeros.Edit(t10, "holding_column: \"be_id\"",
               "holding_column: \"be_id\"\n  sensitive { dimension: \"area\" code: \"stompwijk\" }\n"
               "  structural_zero { code { dimension: \"area\" code: \"verspreid\" } "
               "code { dimension: \"sector_group\" code: \"horeca_cafe\" } }");
    auto loaded_zeros = LoadPolicies(zeros.dir(), nullptr);
    REQUIRE_MESSAGE(loaded_zeros.ok(), loaded_zeros.status().message());
    const templates::Template* z = loaded_zeros->catalog->Find("event_impact_pin");
    REQUIRE(z != nullptr);
    REQUIRE(z->disclosure.sensitive.size() == 1);
    CHECK(z->disclosure.sensitive[0].code == "stompwijk");
    REQUIRE(z->disclosure.structural_zeros.size() == 1);
    CHECK(z->disclosure.structural_zeros[0].codes.size() == 2);
    zeros.Edit(t10, "code: \"stompwijk\"", "code: \"no_such_area\"");
    CHECK(LoadError(zeros).find("sensitive") != std::string::npos);
  }
}

// DP and SDC apart (disclosure-control.md §7.1): an agreement, a project's agreements and a
// researcher's agreements cover DP templates or templates without DP over a unit type, not both.
TEST_SUITE("CheckDpSeparation") {
  const char kAgreements[] = "access/agreements.textproto";
  const char kPrincipals[] = "access/principals.textproto";
  const char kDpLine[] = "  template: \"bijstand_dp_wijk_leeftijd\"\n";

  TEST_CASE("an agreement naming a template that is not loaded is refused, naming both") {
    PolicyCopy copy;
    copy.Edit(kAgreements, kDpLine, std::string(kDpLine) + "  template: \"bijstand_stnad\"\n");
    const std::string error = LoadError(copy);
    CHECK(error.find("agreement OVK-2026-002 names template 'bijstand_stnad', which is not loaded") !=
          std::string::npos);
    // At the template entry, as the other policy files' errors are.
    CHECK(error.rfind("policies/access/agreements.textproto:" +
                          PositionOf(copy.Read(kAgreements), "template: \"bijstand_stnad\"") +
                          ": agreement OVK-2026-002 names",
                      0) == 0);
    CHECK(error.find("may only name loaded templates (") != std::string::npos);
    CHECK(error.find("bijstand_stand") != std::string::npos);  // the known ones are listed
  }

  TEST_CASE("the shipped agreements keep DP and SDC apart") {
    auto loaded = LoadPolicies(kShipped.string(), nullptr);
    REQUIRE_MESSAGE(loaded.ok(), loaded.status().message());
    CHECK(CheckDpSeparation(loaded->catalog->templates, *loaded->principals,
                            *loaded->agreements)
              .ok());
  }

  TEST_CASE("one agreement with the DP template and a cell-key template over persons is refused") {
    PolicyCopy copy;
    copy.Edit(kAgreements, kDpLine,
              std::string(kDpLine) + "  template: \"bijstand_stand\"\n");
    const std::string error = LoadError(copy);
    CHECK(error.find("policies/access/agreements.textproto:" +
                     AgreementPosition(copy.Read(kAgreements), "OVK-2026-002") +
                     ": agreement OVK-2026-002 covers") != std::string::npos);
    CHECK(error.find("differentially private template 'bijstand_dp_wijk_leeftijd'") !=
          std::string::npos);
    CHECK(error.find("cell-key (SDC) template 'bijstand_stand'") != std::string::npos);
    CHECK(error.find("unit 'person'") != std::string::npos);
    CHECK(error.find("not both (disclosure-control.md §7.1)") != std::string::npos);
    // Reported once: the project's and the researcher's groups hold the same conflict.
    CHECK(error.find('\n') == std::string::npos);
  }

  TEST_CASE("a researcher in two projects cannot combine a DP and an SDC agreement") {
    PolicyCopy copy;
    copy.Edit(kPrincipals, "  project: \"P2026-001\"\n",
              "  project: \"P2026-001\"\n  project: \"P2026-002\"\n");
    const std::string error = LoadError(copy);
    CHECK(error.find("the agreements of researcher spiffe://udc-lv.local/researcher/researcher1 "
                     "(OVK-2026-001, OVK-2026-002) cover") != std::string::npos);
    CHECK(error.find("'bijstand_dp_wijk_leeftijd' (agreement OVK-2026-002)") != std::string::npos);
    CHECK(error.find("'bijstand_stand' (agreement OVK-2026-001)") != std::string::npos);
  }

  TEST_CASE("two agreements of one project cannot split DP and SDC between them") {
    PolicyCopy copy;
    copy.Edit(kAgreements, "  project: \"P2026-002\"\n  valid_from",
              "  project: \"P2026-001\"\n  valid_from");
    const std::string error = LoadError(copy);
    CHECK(error.find("the agreements of project P2026-001 (OVK-2026-001, OVK-2026-002) cover") !=
          std::string::npos);
  }

  TEST_CASE("data versions do not separate them") {
    PolicyCopy copy;
    copy.Edit(kAgreements, kDpLine,
              std::string(kDpLine) + "  template: \"bijstand_stand\"\n  dataset: \"v2\"\n");
    CHECK(LoadError(copy).find("agreement OVK-2026-002 covers") != std::string::npos);
  }

  TEST_CASE("DP over persons and SDC over establishments may share an agreement") {
    PolicyCopy copy;
    copy.Edit(kAgreements, kDpLine,
              std::string(kDpLine) + "  template: \"event_impact_pin\"\n");
    auto loaded = LoadPolicies(copy.dir(), nullptr);
    CHECK_MESSAGE(loaded.ok(), loaded.status().message());
  }

  TEST_CASE("negative control: the same mixing agreement passes when the check is not asked") {
    // AgreementBook::Create knows no templates: the check is the loader's, and without it the
    // mixing agreement would be in force.
    PolicyCopy copy;
    copy.Edit(kAgreements, kDpLine,
              std::string(kDpLine) + "  template: \"bijstand_stand\"\n");
    auto book = LoadAgreements(copy.dir());
    REQUIRE(book.ok());
    auto shipped = LoadPolicies(kShipped.string(), nullptr);
    REQUIRE(shipped.ok());
    absl::Status checked =
        CheckDpSeparation(shipped->catalog->templates, *shipped->principals, **book);
    CHECK(checked.code() == absl::StatusCode::kInvalidArgument);
  }
}

}  // namespace
}  // namespace enclave::adapters::policy_files
