// SqliteMicrodataSource: read-only, authorizer-fenced, bound parameters, interruptible; and every
// shipped template prepares and runs against the schema.
#include <doctest/doctest.h>
#include <sqlite3.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "enclave/adapters/policy_files/loader.h"
#include "enclave/adapters/sqlite/microdata_source.h"
#include "enclave/templates/binding.h"

namespace enclave::adapters::sqlite {
namespace {

namespace fs = std::filesystem;
using templates::Template;

std::string ReadText(const fs::path& p) {
  std::ifstream in(p);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

// A temp directory with a microdata database made from enclave/datagen/schema.sql plus a few rows,
// with the derived layer (enclave/datagen/derived.sql) computed from them.
class Fixture {
 public:
  Fixture() {
    dir_ = fs::temp_directory_path() /
           ("enclave_sqlite_source_" + std::to_string(::getpid()) + "_" + std::to_string(++count_));
    fs::create_directories(dir_);
    path_ = (dir_ / "microdata.db").string();
    sqlite3* db = nullptr;
    REQUIRE(sqlite3_open(path_.c_str(), &db) == SQLITE_OK);
    Exec(db, "PRAGMA synchronous=OFF; PRAGMA journal_mode=MEMORY; BEGIN");
    Exec(db, ReadText(fs::path(ENCLAVE_SOURCE_DIR) / "enclave/datagen/schema.sql"));
    Exec(db, ReadText(fs::path(ENCLAVE_SOURCE_DIR) / "enclave/datagen/indexes.sql"));
    Exec(db, R"sql(
      INSERT INTO meta VALUES ('data_version', 'test-fixture-v1');
      INSERT INTO ref_gebied VALUES ('BU19160101', 'B1', 'WK191601', 'W1', 'Leidschendam', 'GM1916', 1.0, 100, 50);
      INSERT INTO ref_gebied VALUES ('BU19160801', 'B8', 'WK191608', 'W8', 'Voorburg', 'GM1916', 1.2, 100, 50);
      INSERT INTO vslgwbtab VALUES ('OBJ1', '2261', 'BU19160101', 'WK191601', 'GM1916');
      INSERT INTO vslgwbtab VALUES ('OBJ8', '2271', 'BU19160801', 'WK191608', 'GM1916');
      INSERT INTO ref_sbi VALUES ('5610', 'I', 'Restaurants', 'horeca_restaurant');
      INSERT INTO ref_sbi VALUES ('4711', 'G', 'Supermarkten', 'retail_food');
      INSERT INTO ref_sbi VALUES ('6201', 'J', 'Software', 'other');
      INSERT INTO evenement VALUES ('EV2023-001', 'Feest', 'festival', '20230610', '20230611', 'huygenskwartier', 5000, 1);
      INSERT INTO vestiging VALUES ('V1', 'BE1', 'BU19160801', 'huygenskwartier', '5610', 5);
      INSERT INTO vestiging VALUES ('V2', 'BE2', 'BU19160101', 'mall_leidsenhage', '4711', 50);
    )sql");
    // 40 persons: even ones live in WK191601, odd ones in WK191608; every third is a zzp'er.
    for (int i = 0; i < 40; ++i) {
      std::string id = "p" + std::to_string(i);
      std::ostringstream sql;
      sql << "INSERT INTO gbapersoontab VALUES ('R', '" << id << "', '" << (i % 2 == 0 ? "1" : "2")
          << "', " << (1960 + i) << ", 6, 'nederland', 0, NULL);"
          << "INSERT INTO gbaadresobjectbus VALUES ('R', '" << id << "', '"
          << (i % 2 == 0 ? "OBJ1" : "OBJ8") << "', '20100101', '20991231');"
          << "INSERT INTO secmbus VALUES ('R', '" << id << "', '20100101', '20991231', "
          << (i % 3 == 0 ? 13 : 11) << ");"
          << "INSERT INTO zelfstandigenbedragtab VALUES ('R', '" << id << "', 2023, "
          << (20000 + 1000 * i) << ", 0, '6201');"
          << "INSERT INTO hoogsteopltab VALUES ('R', '" << id << "', 'hoog', 1.0);";
      if (i % 4 == 1) {
        sql << "INSERT INTO bijstandpersoonbus VALUES ('R', '" << id << "', 'U" << i
            << "', 'persoon1', 'ALG', '20200101', '20991231', 'alleenstaand', 0, NULL);";
      }
      if (i % 5 == 0) {
        sql << "INSERT INTO srg_reintegratie VALUES ('R', '" << id
            << "', 'scholing', 'bijstand', '20220301', '20221231');";
      }
      Exec(db, sql.str());
    }
    for (int d = 1; d <= 30; ++d) {
      std::ostringstream sql;
      char date[9];
      std::snprintf(date, sizeof date, "202306%02d", d);
      sql << "INSERT INTO pin_dag VALUES ('V1', '" << date << "', 10, 100000, 1);"
          << "INSERT INTO pin_dag VALUES ('V2', '" << date << "', 20, 300000, 2);";
      std::snprintf(date, sizeof date, "202305%02d", d);
      sql << "INSERT INTO pin_dag VALUES ('V1', '" << date << "', 10, 50000, 1);"
          << "INSERT INTO pin_dag VALUES ('V2', '" << date << "', 20, 300000, 2);";
      Exec(db, sql.str());
    }
    // The derived layer is a function of the raw rows, so it is built after they are in.
    Exec(db, ReadText(fs::path(ENCLAVE_SOURCE_DIR) / "enclave/datagen/derived.sql"));
    Exec(db, "COMMIT");
    sqlite3_close(db);
  }
  ~Fixture() {
    std::error_code ec;
    fs::remove_all(dir_, ec);
  }
  const std::string& path() const { return path_; }

 private:
  static void Exec(sqlite3* db, const std::string& sql) {
    char* err = nullptr;
    int rc = sqlite3_exec(db, sql.c_str(), nullptr, nullptr, &err);
    INFO(std::string(err != nullptr ? err : ""));
    sqlite3_free(err);
    REQUIRE(rc == SQLITE_OK);
  }
  static inline int count_ = 0;
  fs::path dir_;
  std::string path_;
};

// A minimal template: unit, one dimension, measure, one flag.
Template MakeTemplate(const std::string& sql) {
  Template t;
  t.id = "test_template";
  t.version = 1;
  t.unit = "person";
  t.params = {{"year", templates::ParamType::kInteger, {}, 2018, 2024, {}, "2023"},
              {"code", templates::ParamType::kCode, {}, 0, 0, {{"man", {}}, {"o'brien", {}}}, "man"}};
  t.dimensions = {{"wijk", {}, "wijk", {"wijk", {{"WK191601", {}}, {"WK191608", {}}}}}};
  t.sql = sql;
  t.unit_column = "person";
  t.measure_column = "inkomen";
  t.flag_columns = {"is_zzp"};
  t.statistics = {{"n", templates::StatisticKind::kCount, {}, "", "", 0, 1, {}}};
  return t;
}

const char kGoodSql[] =
    "SELECT p.rinpersoon AS person, v.wijk_code AS wijk, z.inkomen_zelfstandige AS inkomen, "
    "CASE WHEN s.secm = 13 THEN 1 END AS is_zzp "
    "FROM gbapersoontab p JOIN gbaadresobjectbus a ON a.rinpersoon = p.rinpersoon "
    "JOIN vslgwbtab v ON v.rinobjectnummer = a.rinobjectnummer "
    "JOIN secmbus s ON s.rinpersoon = p.rinpersoon "
    "LEFT JOIN zelfstandigenbedragtab z ON z.rinpersoon = p.rinpersoon AND z.jaar = :year "
    "WHERE (CASE p.gbageslacht WHEN '1' THEN 'man' ELSE 'vrouw' END) = :code";

std::unique_ptr<SqliteMicrodataSource> OpenSource(const Fixture& f) {
  auto source = SqliteMicrodataSource::Open(f.path());
  REQUIRE(source.ok());
  return *std::move(source);
}

struct Collected {
  std::vector<std::string> units;
  std::vector<std::string> wijken;
  std::vector<std::optional<std::int64_t>> measures;
  std::vector<std::int64_t> flags;
};

absl::Status ScanAll(SqliteMicrodataSource& source, const templates::BoundQuery& q,
                     Collected* out, core::Cancellation cancel = {}) {
  return source.Scan(q, cancel, [&](const core::RowView& row) {
    out->units.emplace_back(row.unit);
    out->wijken.emplace_back(row.dimensions[0]);
    out->measures.push_back(row.measure);
    out->flags.push_back(row.flags[0]);
    return absl::OkStatus();
  });
}

TEST_SUITE("SqliteMicrodataSource") {
  TEST_CASE("open reads the data version and refuses missing or foreign files") {
    Fixture f;
    auto source = OpenSource(f);
    CHECK(source->DataVersion() == "test-fixture-v1");
    auto missing = SqliteMicrodataSource::Open(f.path() + ".absent");
    CHECK(missing.status().code() == absl::StatusCode::kUnavailable);
    std::string junk = f.path() + ".junk";
    std::ofstream(junk) << "this is not a database, just text that is long enough to matter....";
    auto foreign = SqliteMicrodataSource::Open(junk);
    CHECK(foreign.status().code() == absl::StatusCode::kUnavailable);
  }

  TEST_CASE("a valid template checks and scans with bound parameters") {
    Fixture f;
    auto source = OpenSource(f);
    Template t = MakeTemplate(kGoodSql);
    REQUIRE(source->CheckTemplate(t).ok());
    auto q = templates::Bind(t, {});
    REQUIRE(q.ok());
    Collected rows;
    REQUIRE(ScanAll(*source, *q, &rows).ok());
    CHECK(rows.units.size() == 20);  // the men
    CHECK(rows.wijken[0] == "WK191601");
    REQUIRE(rows.measures[0].has_value());
    CHECK(*rows.measures[0] == 20000);  // p0
    CHECK(rows.flags[0] == 1);          // p0 is a zzp'er
    CHECK(rows.flags[1] == 0);          // p2: NULL flag reads as 0
    // The cached statement is reused with other values.
    auto q2 = templates::Bind(t, {{"year", "2019"}});
    REQUIRE(q2.ok());
    Collected rows2;
    REQUIRE(ScanAll(*source, *q2, &rows2).ok());
    CHECK(rows2.units.size() == 20);
    CHECK_FALSE(rows2.measures[0].has_value());  // no 2019 income: NULL measure
  }

  TEST_CASE("parameters are bound, not spliced: a quote is just a value that matches nothing") {
    Fixture f;
    auto source = OpenSource(f);
    Template t = MakeTemplate(kGoodSql);
    auto q = templates::Bind(t, {{"code", "o'brien"}});
    REQUIRE(q.ok());
    Collected rows;
    CHECK(ScanAll(*source, *q, &rows).ok());
    CHECK(rows.units.empty());
  }

  TEST_CASE("the authorizer refuses writes, ATTACH and pragmas in template SQL") {
    Fixture f;
    auto source = OpenSource(f);
    for (const char* sql :
         {"DELETE FROM gbapersoontab", "INSERT INTO meta VALUES ('a', 'b')",
          "UPDATE meta SET value = 'x'", "ATTACH DATABASE '/tmp/x.db' AS x",
          "PRAGMA table_info(meta)", "SELECT * FROM pragma_table_info('meta')",
          "CREATE TABLE t (a)", "DROP TABLE meta", "BEGIN", "VACUUM"}) {
      CAPTURE(sql);
      absl::Status s = source->CheckTemplate(MakeTemplate(sql));
      CHECK(s.code() == absl::StatusCode::kInvalidArgument);
      CHECK(std::string(s.message()).find("test_template") != std::string::npos);
    }
  }

  TEST_CASE("more than one statement is refused") {
    Fixture f;
    auto source = OpenSource(f);
    absl::Status s = source->CheckTemplate(MakeTemplate(std::string(kGoodSql) + "; SELECT 1"));
    CHECK(s.code() == absl::StatusCode::kInvalidArgument);
    CHECK(std::string(s.message()).find("exactly one statement") != std::string::npos);
    CHECK(source->CheckTemplate(MakeTemplate(std::string(kGoodSql) + ";  -- done\n")).ok());
  }

  TEST_CASE("result columns must equal the expected columns in order") {
    Fixture f;
    auto source = OpenSource(f);
    absl::Status s = source->CheckTemplate(MakeTemplate(
        "SELECT rinpersoon AS person, 'WK191601' AS wijk, 1 AS is_zzp, 2 AS inkomen "
        "FROM gbapersoontab WHERE :year > 0 AND :code <> ''"));
    CHECK(s.code() == absl::StatusCode::kInvalidArgument);
    CHECK(std::string(s.message()) ==
          "template 'test_template': result column 3 is 'is_zzp'; expected 'inkomen' (order: "
          "unit, dimensions, measure, flags)");
    s = source->CheckTemplate(MakeTemplate("SELECT rinpersoon AS person FROM gbapersoontab"));
    CHECK(s.code() == absl::StatusCode::kInvalidArgument);
    CHECK(std::string(s.message()).find("returns 1 columns; expected 4") != std::string::npos);
  }

  TEST_CASE("an undeclared or nameless parameter is refused") {
    Fixture f;
    auto source = OpenSource(f);
    absl::Status s = source->CheckTemplate(
        MakeTemplate("SELECT rinpersoon AS person, 'WK191601' AS wijk, 2 AS inkomen, 1 AS is_zzp "
                     "FROM gbapersoontab WHERE gbageboortejaar > :other"));
    CHECK(s.code() == absl::StatusCode::kInvalidArgument);
    CHECK(std::string(s.message()).find("':other'") != std::string::npos);
    s = source->CheckTemplate(
        MakeTemplate("SELECT rinpersoon AS person, 'WK191601' AS wijk, 2 AS inkomen, 1 AS is_zzp "
                     "FROM gbapersoontab WHERE gbageboortejaar > ?"));
    CHECK(s.code() == absl::StatusCode::kInvalidArgument);
  }

  TEST_CASE("a syntax error is refused naming the template") {
    Fixture f;
    auto source = OpenSource(f);
    absl::Status s = source->CheckTemplate(MakeTemplate("SELEC 1"));
    CHECK(s.code() == absl::StatusCode::kInvalidArgument);
    CHECK(std::string(s.message()).rfind("template 'test_template': SQL does not prepare", 0) == 0);
  }

  TEST_CASE("a measure of the wrong type is an internal error that does not echo the value") {
    Fixture f;
    auto source = OpenSource(f);
    Template t = MakeTemplate(
        "SELECT rinpersoon AS person, 'WK191601' AS wijk, 'secret-value' AS inkomen, 1 AS is_zzp "
        "FROM gbapersoontab WHERE :year > 0 AND :code <> ''");
    auto q = templates::Bind(t, {});
    REQUIRE(q.ok());
    Collected rows;
    absl::Status s = ScanAll(*source, *q, &rows);
    CHECK(s.code() == absl::StatusCode::kInternal);
    CHECK(std::string(s.message()).find("secret-value") == std::string::npos);
    Template null_unit = MakeTemplate(
        "SELECT NULL AS person, 'WK191601' AS wijk, 1 AS inkomen, 1 AS is_zzp "
        "FROM gbapersoontab WHERE :year > 0 AND :code <> ''");
    q = templates::Bind(null_unit, {});
    REQUIRE(q.ok());
    CHECK(ScanAll(*source, *q, &rows).code() == absl::StatusCode::kInternal);
  }

  TEST_CASE("a deadline interrupts a long query quickly") {
    Fixture f;
    auto source = OpenSource(f);
    Template t = MakeTemplate(
        "WITH RECURSIVE c(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM c WHERE n < 1000000000) "
        "SELECT 'u' AS person, 'WK191601' AS wijk, 1 AS inkomen, 1 AS is_zzp "
        "FROM c WHERE n = 1000000000 AND :year > 0 AND :code <> ''");
    REQUIRE(source->CheckTemplate(t).ok());
    auto q = templates::Bind(t, {});
    REQUIRE(q.ok());
    core::Cancellation cancel;
    const auto start = std::chrono::steady_clock::now();
    cancel.deadline = start + std::chrono::milliseconds(100);
    Collected rows;
    absl::Status s = ScanAll(*source, *q, &rows, cancel);
    const auto elapsed = std::chrono::steady_clock::now() - start;
    CHECK(s.code() == absl::StatusCode::kDeadlineExceeded);
    CHECK(elapsed < std::chrono::seconds(2));

    core::Cancellation cancelled;
    cancelled.cancelled = [] { return true; };
    CHECK(ScanAll(*source, *q, &rows, cancelled).code() == absl::StatusCode::kCancelled);
    // The statement is usable again afterwards.
    Template good = MakeTemplate(kGoodSql);
    auto q2 = templates::Bind(good, {});
    REQUIRE(q2.ok());
    Collected rows2;
    CHECK(ScanAll(*source, *q2, &rows2).ok());
  }

  TEST_CASE("the visitor's error stops the scan and is returned") {
    Fixture f;
    auto source = OpenSource(f);
    Template t = MakeTemplate(kGoodSql);
    auto q = templates::Bind(t, {});
    REQUIRE(q.ok());
    int calls = 0;
    absl::Status s = source->Scan(*q, {}, [&](const core::RowView&) {
      ++calls;
      return absl::ResourceExhaustedError("enough");
    });
    CHECK(s.code() == absl::StatusCode::kResourceExhausted);
    CHECK(calls == 1);
  }

  TEST_CASE("every shipped template prepares against the schema and runs with its defaults") {
    Fixture f;
    auto source = OpenSource(f);
    auto loaded = policy_files::LoadPolicies(std::string(ENCLAVE_SOURCE_DIR) + "/policies",
                                             source.get());
    REQUIRE_MESSAGE(loaded.ok(), loaded.status().message());
    REQUIRE(loaded->catalog->templates.size() >= 7);
    for (const Template& t : loaded->catalog->templates) {
      CAPTURE(t.id);
      auto q = templates::Bind(t, {});
      REQUIRE(q.ok());
      std::int64_t rows = 0;
      const auto start = std::chrono::steady_clock::now();
      absl::Status s = source->Scan(*q, {}, [&](const core::RowView& row) {
        ++rows;
        for (std::size_t d = 0; d < t.dimensions.size(); ++d) {
          const auto& codes = t.dimensions[d].codes.codes;
          bool known = std::any_of(codes.begin(), codes.end(),
                                   [&](const templates::Code& c) { return c.code == row.dimensions[d]; });
          if (!known) return absl::InternalError("code outside its list in " + t.dimensions[d].name);
        }
        return absl::OkStatus();
      });
      CHECK_MESSAGE(s.ok(), s.message());
      MESSAGE(t.id << ": " << rows << " rows in "
                   << std::chrono::duration_cast<std::chrono::milliseconds>(
                          std::chrono::steady_clock::now() - start)
                          .count()
                   << " ms");
      if (t.id == "zzp_aantal_per_wijk") CHECK(rows == 40);
      if (t.id == "zzp_inkomen_verdeling") CHECK(rows == 14);  // p0, p3, ..., p39
      if (t.id == "event_impact_pin") CHECK(rows > 0);
    }
  }

  // T12 (domain.md §5.2 R8): a buurt with fewer than 30 residents is never broken down. The
  // fixture's two buurten have 20 residents each: in a table by buurt every resident has the code
  // niet_uitgesplitst in every breakdown; by wijk (negative control) their own codes.
  TEST_CASE("T12 does not break down a buurt of fewer than 30 residents") {
    Fixture f;
    auto source = OpenSource(f);
    auto loaded = policy_files::LoadPolicies(std::string(ENCLAVE_SOURCE_DIR) + "/policies",
                                             source.get());
    REQUIRE_MESSAGE(loaded.ok(), loaded.status().message());
    const Template* t = loaded->catalog->Find("bevolking_noemer");
    REQUIRE(t != nullptr);
    for (const char* geo : {"buurt", "wijk"}) {
      CAPTURE(geo);
      auto q = templates::Bind(*t, {{"peildatum", "20240101"}, {"geo", geo},
                                    {"breakdown1", "geslacht"}, {"breakdown2", "leeftijdsgroep"}});
      REQUIRE(q.ok());
      std::map<std::string, int> codes;
      std::int64_t rows = 0;
      absl::Status s = source->Scan(*q, {}, [&](const core::RowView& row) {
        ++rows;
        for (std::size_t d = 2; d < t->dimensions.size(); ++d) ++codes[std::string(row.dimensions[d])];
        return absl::OkStatus();
      });
      REQUIRE_MESSAGE(s.ok(), s.message());
      CHECK(rows == 40);
      if (std::string(geo) == "buurt") {
        CHECK(codes == std::map<std::string, int>{{"niet_uitgesplitst", 160}});
      } else {
        CHECK(codes.count("niet_uitgesplitst") == 0);
        CHECK(codes["man"] == 20);
        CHECK(codes["vrouw"] == 20);
      }
    }
  }

  // T10 v3 (issue 10): the fixed panel. Its units are in the establishment universe that enclaved
  // numbers them by (UnitIndex::FromUniverse over ListUnits), and every parameter combination
  // returns the same units in the same cells; the day arithmetic on d_dag gives version 2's sums.
  TEST_CASE("T10's panel is the same for every event and lies in the establishment universe") {
    Fixture f;
    auto source = OpenSource(f);
    auto listed = source->ListUnits("establishment");
    REQUIRE(listed.ok());
    std::set<std::string> universe;
    for (const auto& u : *listed) {
      CHECK(u.unit == u.pseudonym);
      universe.insert(u.unit);
    }
    CHECK(universe == std::set<std::string>{"V1@baseline", "V1@window", "V2@baseline", "V2@window"});
    CHECK(source->ListUnits("no_such_unit").status().code() == absl::StatusCode::kNotFound);

    auto loaded = policy_files::LoadPolicies(std::string(ENCLAVE_SOURCE_DIR) + "/policies",
                                             source.get());
    REQUIRE_MESSAGE(loaded.ok(), loaded.status().message());
    const Template* t10 = loaded->catalog->Find("event_impact_pin");
    REQUIRE(t10 != nullptr);
    CHECK(t10->version == 3);
    using Cells = std::map<std::string, std::string>;                  // unit -> area/sector
    using Sums = std::map<std::string, std::int64_t>;                   // unit -> summed PIN
    auto scan = [&](const std::vector<std::pair<std::string, std::string>>& params, Sums* sums) {
      auto q = templates::Bind(*t10, params);
      REQUIRE(q.ok());
      Cells cells;
      absl::Status s = source->Scan(*q, {}, [&](const core::RowView& row) {
        const std::string unit(row.unit);
        const std::string cell = std::string(row.dimensions[0]) + "/" + std::string(row.dimensions[1]);
        auto [it, fresh] = cells.emplace(unit, cell);
        if (!fresh && it->second != cell) return absl::InternalError("a unit in two cells");
        if (sums != nullptr) (*sums)[unit] += row.measure.value_or(0);
        return absl::OkStatus();
      });
      REQUIRE_MESSAGE(s.ok(), s.message());
      return cells;
    };
    Sums sums;
    const Cells panel = scan({}, &sums);  // EV2023-001: 10-11 June 2023 in huygenskwartier
    CHECK(panel == Cells{{"V1@baseline", "huygenskwartier/horeca_restaurant"},
                         {"V1@window", "huygenskwartier/horeca_restaurant"},
                         {"V2@baseline", "mall_leidsenhage/retail_food"},
                         {"V2@window", "mall_leidsenhage/retail_food"}});
    for (const auto& [unit, cell] : panel) CHECK(universe.count(unit) == 1);
    // Window: 2 days x 100,000 cents, weighted by 4. Baseline: the same weekdays 1-4 weeks
    // earlier: 13/14, 20/21, 27/28 May at 50,000 and 3/4 June at 100,000.
    CHECK(sums["V1@window"] == 800000);
    CHECK(sums["V1@baseline"] == 500000);
    CHECK(sums["V2@window"] == 8 * 300000);
    CHECK(sums["V2@baseline"] == 8 * 300000);
    // Another window and baseline, an event outside the data: the same units in the same cells.
    CHECK(scan({{"window", "event_week"}, {"baseline", "same_week_prev_year"}}, nullptr) == panel);
    CHECK(scan({{"window", "week_after"}, {"measure", "transacties"}}, nullptr) == panel);
    Sums none;
    CHECK(scan({{"event_id", "EV2020-001"}}, &none) == panel);
    for (const auto& [unit, sum] : none) CHECK(sum == 0);
  }
}

}  // namespace
}  // namespace enclave::adapters::sqlite
