// Tests for the synthetic microdata generator: determinism, pseudonyms, atomic output, referential
// sanity and the calibrated correlations at a reduced size.
#include <doctest/doctest.h>
#include <sqlite3.h>
#include <stdlib.h>
#include <sys/wait.h>

#include <cstdint>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "enclave/crypto/pseudonymiser.h"
#include "enclave/datagen/generator.h"
#include "enclave/datagen/pseudonym.h"
#include "enclave/delivery/bsn.h"

namespace {

namespace fs = std::filesystem;
using enclave::datagen::GeneratorOptions;

std::string MakeTempDir() {
  std::string tmpl = (fs::temp_directory_path() / "datagen_test_XXXXXX").string();
  REQUIRE(mkdtemp(tmpl.data()) != nullptr);
  return tmpl;
}

struct Db {
  explicit Db(const std::string& path) {
    REQUIRE(sqlite3_open_v2(path.c_str(), &db, SQLITE_OPEN_READONLY, nullptr) == SQLITE_OK);
  }
  ~Db() { sqlite3_close(db); }
  Db(const Db&) = delete;
  Db& operator=(const Db&) = delete;
  std::vector<std::vector<std::string>> Rows(const std::string& sql) const {
    sqlite3_stmt* st = nullptr;
    REQUIRE_MESSAGE(sqlite3_prepare_v2(db, sql.c_str(), -1, &st, nullptr) == SQLITE_OK, sql);
    std::vector<std::vector<std::string>> out;
    while (sqlite3_step(st) == SQLITE_ROW) {
      std::vector<std::string> row;
      for (int i = 0; i < sqlite3_column_count(st); ++i) {
        const unsigned char* t = sqlite3_column_text(st, i);
        row.emplace_back(t == nullptr ? "<null>" : reinterpret_cast<const char*>(t));
      }
      out.push_back(std::move(row));
    }
    sqlite3_finalize(st);
    return out;
  }
  double Number(const std::string& sql) const {
    const auto rows = Rows(sql);
    REQUIRE(rows.size() == 1);
    return std::stod(rows[0][0] == "<null>" ? "0" : rows[0][0]);
  }
  sqlite3* db = nullptr;
};

std::string Generate(const std::string& dir, const std::string& name, std::uint64_t seed, std::int64_t persons) {
  GeneratorOptions o;
  o.out_path = dir + "/" + name;
  o.seed = seed;
  o.persons = persons;
  const absl::Status s = enclave::datagen::Generate(o);
  REQUIRE_MESSAGE(s.ok(), std::string(s.message()));
  return o.out_path;
}

// FNV-1a over every row of every table in a fixed order.
std::map<std::string, std::uint64_t> TableChecksums(const std::string& path) {
  Db db(path);
  std::map<std::string, std::uint64_t> sums;
  for (const auto& t : db.Rows("SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'")) {
    std::uint64_t h = 1469598103934665603ULL;
    const std::size_t ncol = db.Rows("PRAGMA table_info(" + t[0] + ")").size();
    std::string order;
    for (std::size_t i = 1; i <= ncol; ++i) order += (i > 1 ? ", " : "") + std::to_string(i);
    for (const auto& row : db.Rows("SELECT * FROM " + t[0] + " ORDER BY " + order)) {
      for (const std::string& v : row) {
        for (char c : v) h = (h ^ static_cast<unsigned char>(c)) * 1099511628211ULL;
        h = (h ^ 0x1FU) * 1099511628211ULL;
      }
    }
    sums[t[0]] = h;
  }
  return sums;
}

int RunCli(const std::string& args) {
  const std::string cmd = std::string(ENCLAVE_DATAGEN_BIN) + " " + args + " >/dev/null 2>&1";
  const int rc = std::system(cmd.c_str());
  return WIFEXITED(rc) ? WEXITSTATUS(rc) : -1;
}

}  // namespace

TEST_SUITE("Datagen") {
  TEST_CASE("the same seed gives identical tables and another seed gives different ones") {
    const std::string dir = MakeTempDir();
    const auto a = TableChecksums(Generate(dir, "a.sqlite", 7, 2500));
    const auto b = TableChecksums(Generate(dir, "b.sqlite", 7, 2500));
    const auto c = TableChecksums(Generate(dir, "c.sqlite", 8, 2500));
    CHECK(a.size() >= 28);
    CHECK(a == b);
    int differing = 0;
    for (const auto& [table, sum] : a) differing += c.at(table) != sum ? 1 : 0;
    CHECK(differing >= 20);  // reference tables such as ref_sbi are seed-independent
    CHECK(c.at("gbapersoontab") != a.at("gbapersoontab"));
    CHECK(c.at("pin_dag") != a.at("pin_dag"));
    Db db(dir + "/a.sqlite");
    CHECK(db.Rows("SELECT value FROM meta WHERE key = 'data_version'")[0][0] == "synthetic-lv-s7-p2500-v1");
    CHECK(db.Rows("SELECT value FROM meta WHERE key = 'seed'")[0][0] == "7");
    fs::remove_all(dir);
  }

  TEST_CASE("synthetic BSNs pass the 11-check and rinpersoon is their keyed 128-bit HMAC") {
    // The 11-check and the HMAC are the steward's (delivery::IsCanonicalBsn, crypto::Pseudonymiser:
    // RFC 4231 vectors in tests/crypto), so generated and delivered pseudonyms link.
    enclave::datagen::BsnSource source(42);
    std::set<std::string> seen;
    for (int i = 0; i < 5000; ++i) {
      const std::string bsn = source.Next();
      CHECK(enclave::delivery::IsCanonicalBsn(bsn));
      CHECK(seen.insert(bsn).second);
    }

    const std::string dir = MakeTempDir();
    const std::string path = Generate(dir, "p.sqlite", 42, 1500);
    Db db(path);
    const auto rins = db.Rows("SELECT rinpersoons, rinpersoon FROM gbapersoontab ORDER BY rowid");
    REQUIRE(rins.size() > 1000);
    auto pseudonymiser =
        enclave::crypto::Pseudonymiser::FromKey(enclave::datagen::SyntheticKeyFromSeed(42));
    REQUIRE(pseudonymiser.ok());
    enclave::datagen::BsnSource replay(42);
    std::set<std::string> unique;
    for (const auto& r : rins) {
      CHECK(r[0] == "R");
      REQUIRE(r[1].size() == 32);
      CHECK(r[1].find_first_not_of("0123456789abcdef") == std::string::npos);
      CHECK(r[1] == (*pseudonymiser)->Pseudonym(replay.Next()));
      unique.insert(r[1]);
    }
    CHECK(unique.size() == rins.size());
    fs::remove_all(dir);
  }

  TEST_CASE("a failed generation leaves neither the output nor a temporary file") {
    const std::string dir = MakeTempDir();
    SUBCASE("the output directory does not exist") {
      GeneratorOptions o;
      o.out_path = dir + "/missing/out.sqlite";
      o.persons = 1000;
      const absl::Status s = enclave::datagen::Generate(o);
      CHECK(s.code() == absl::StatusCode::kUnavailable);
      CHECK_FALSE(fs::exists(dir + "/missing"));
    }
    SUBCASE("a failure just before the rename") {
      GeneratorOptions o;
      o.out_path = dir + "/out.sqlite";
      o.persons = 1000;
      o.truth_out = dir + "/truth.txt";
      o.fail_before_rename_for_test = true;
      CHECK(enclave::datagen::Generate(o).code() == absl::StatusCode::kInternal);
      CHECK(fs::is_empty(dir));
    }
    SUBCASE("an existing database is left untouched by a failed run") {
      { std::ofstream(dir + "/out.sqlite") << "previous"; }
      GeneratorOptions o;
      o.out_path = dir + "/out.sqlite";
      o.persons = 1000;
      o.fail_before_rename_for_test = true;
      CHECK_FALSE(enclave::datagen::Generate(o).ok());
      std::ifstream in(dir + "/out.sqlite");
      std::string content;
      in >> content;
      CHECK(content == "previous");
      int entries = 0;
      for ([[maybe_unused]] const auto& e : fs::directory_iterator(dir)) ++entries;
      CHECK(entries == 1);
    }
    fs::remove_all(dir);
  }

  TEST_CASE("options and command-line flags are validated") {
    GeneratorOptions o;
    CHECK(enclave::datagen::Generate(o).code() == absl::StatusCode::kInvalidArgument);
    o.out_path = "/nonexistent/x.sqlite";
    o.scale = "eu";
    CHECK(enclave::datagen::Generate(o).code() == absl::StatusCode::kInvalidArgument);
    o.scale = "lv";
    o.persons = -5;
    CHECK(enclave::datagen::Generate(o).code() == absl::StatusCode::kInvalidArgument);
    CHECK(RunCli("--help") == 0);
    CHECK(RunCli("--bogus 1") == 2);
    CHECK(RunCli("--seed 42") == 2);  // --out missing
    CHECK(RunCli("--out /tmp/x --scale eu") == 2);
    CHECK(RunCli("--out /tmp/x --persons ten") == 2);
    CHECK(RunCli("--out /tmp/x --seed") == 2);
    const std::string dir = MakeTempDir();
    CHECK(RunCli("--out " + dir + "/cli.sqlite --persons 800 --seed 3 --truth-out " + dir + "/t.txt") == 0);
    CHECK(fs::exists(dir + "/cli.sqlite"));
    std::ifstream truth(dir + "/t.txt");
    std::string key;
    std::int64_t value = -1;
    truth >> key >> value;
    CHECK(key == "persons_ever");
    Db db(dir + "/cli.sqlite");
    CHECK(value == static_cast<std::int64_t>(db.Number("SELECT count(*) FROM gbapersoontab")));
    fs::remove_all(dir);
  }

  TEST_CASE("every reference in a 20,000-person database resolves and the correlations are built in") {
    static const std::string dir = MakeTempDir();
    static const std::string path = Generate(dir, "plaus.sqlite", 42, 20000);
    Db db(path);
    // Referential sanity.
    CHECK(db.Number("SELECT count(*) FROM gbaadresobjectbus a LEFT JOIN vslgwbtab v USING (rinobjectnummer) "
                    "WHERE v.rinobjectnummer IS NULL") == 0);
    CHECK(db.Number("SELECT count(DISTINCT wijk_code) FROM ref_gebied") == 13);
    CHECK(db.Number("SELECT count(*) FROM ref_gebied WHERE wijk_code NOT BETWEEN 'WK191601' AND 'WK191613' "
                    "OR length(wijk_code) <> 8 OR kern NOT IN ('Voorburg', 'Leidschendam', 'Stompwijk') "
                    "OR gem_code <> 'GM1916' OR substr(buurt_code, 1, 8) <> 'BU' || substr(wijk_code, 3, 6)") == 0);
    CHECK(db.Number("SELECT count(*) FROM vslgwbtab v LEFT JOIN ref_gebied g USING (buurt_code) "
                    "WHERE g.buurt_code IS NULL OR g.wijk_code <> v.wijk_code") == 0);
    CHECK(db.Number("SELECT count(*) FROM spolisbus s LEFT JOIN abr_be b USING (be_id) WHERE b.be_id IS NULL") == 0);
    CHECK(db.Number("SELECT count(*) FROM vestiging v LEFT JOIN abr_be b USING (be_id) WHERE b.be_id IS NULL") == 0);
    CHECK(db.Number("SELECT count(*) FROM (SELECT DISTINCT vestiging_id FROM pin_dag) p LEFT JOIN vestiging v "
                    "USING (vestiging_id) WHERE v.vestiging_id IS NULL") == 0);
    CHECK(db.Number("SELECT count(*) FROM secmbus s LEFT JOIN gbapersoontab p USING (rinpersoon) "
                    "WHERE p.rinpersoon IS NULL") == 0);
    CHECK(db.Number("SELECT count(*) FROM gbaadresobjectbus WHERE gbadatumeindeadreshouding < "
                    "gbadatumaanvangadreshouding") == 0);
    CHECK(db.Number("SELECT count(*) FROM evenement WHERE event_id NOT LIKE 'EV____-___'") == 0);

    // C1: bijstand per resident 18-66 in the lowest-SES wijk clearly above the highest-SES wijk.
    auto bijstand_rate = [&](const std::string& wijk) {
      const std::string res =
          "(SELECT DISTINCT a.rinpersoon FROM gbaadresobjectbus a JOIN vslgwbtab v USING (rinobjectnummer) "
          "JOIN gbapersoontab p USING (rinpersoon) WHERE v.wijk_code = '" + wijk +
          "' AND a.gbadatumaanvangadreshouding <= '20231231' AND a.gbadatumeindeadreshouding >= '20231231' "
          "AND 2023 - p.gbageboortejaar BETWEEN 18 AND 66)";
      const double n = db.Number("SELECT count(*) FROM " + res);
      const double b = db.Number("SELECT count(DISTINCT rinpersoon) FROM bijstandpersoonbus WHERE statistiekcode = "
                                 "'ALG' AND aanvang <= '20231231' AND einde >= '20231231' AND rinpersoon IN " + res);
      REQUIRE(n > 100);
      return b / n;
    };
    const double low_ses = bijstand_rate("WK191602");   // SES 0.65
    const double high_ses = bijstand_rate("WK191612");  // SES 1.45
    MESSAGE("bijstand rate low/high SES wijk: ", low_ses, " / ", high_ses);
    CHECK(low_ses > 2.0 * high_ses);

    // C2: heavy-tailed income as zelfstandige, with losses.
    const auto incomes = db.Rows("SELECT inkomen_zelfstandige FROM zelfstandigenbedragtab WHERE jaar = 2023 "
                                 "AND heeft_personeel = 0 ORDER BY inkomen_zelfstandige");
    REQUIRE(incomes.size() > 300);
    auto q = [&](double p) { return std::stod(incomes[static_cast<std::size_t>(p * static_cast<double>(incomes.size()))][0]); };
    MESSAGE("zzp income median ", q(0.5), " P95 ", q(0.95));
    CHECK(q(0.95) > 3 * q(0.5));
    CHECK(q(0.05) < 0);

    // C5: 12-month job entry after a provision differs by group: wage subsidy / trial placement for
    // < 45 with middelbaar+ well above sociale activering.
    auto job_entry = [&](const std::string& where) {
      const std::string base =
          "FROM srg_reintegratie r JOIN gbapersoontab p USING (rinpersoon) JOIN hoogsteopltab h USING (rinpersoon) "
          "WHERE r.doelgroep = 'bijstand' AND r.aanvang BETWEEN '20150101' AND '20231231' AND " + where;
      const double n = db.Number("SELECT count(*) " + base);
      const double k = db.Number(
          "SELECT count(*) " + base +
          " AND EXISTS (SELECT 1 FROM secmbus s WHERE s.rinpersoon = r.rinpersoon AND s.secm = 11 AND s.aanvsecm >= "
          "r.aanvang AND s.aanvsecm <= strftime('%Y%m%d', date(substr(r.aanvang, 1, 4) || '-' || "
          "substr(r.aanvang, 5, 2) || '-' || substr(r.aanvang, 7, 2), '+12 months')))");
      REQUIRE(n >= 30);
      return k / n;
    };
    const double treated = job_entry(
        "r.voorziening IN ('loonkostensubsidie', 'werkervaring_proefplaatsing') AND "
        "CAST(substr(r.aanvang, 1, 4) AS INTEGER) - p.gbageboortejaar < 45 AND h.opl_niveau3 IN ('middelbaar', 'hoog')");
    const double activering = job_entry("r.voorziening = 'sociale_activering'");
    MESSAGE("12-month job entry: wage subsidy/trial <45 middelbaar+ ", treated, ", sociale activering ", activering);
    CHECK(treated > activering + 0.10);

    // C6: jeugdhulp reaches roughly one in seven young people a year.
    const double kids = db.Number(
        "SELECT count(DISTINCT a.rinpersoon) FROM gbaadresobjectbus a JOIN gbapersoontab p USING (rinpersoon) "
        "WHERE a.gbadatumaanvangadreshouding <= '20230701' AND a.gbadatumeindeadreshouding >= '20230701' "
        "AND 2023 - p.gbageboortejaar BETWEEN 0 AND 17");
    const double users = db.Number(
        "SELECT count(DISTINCT j.rinpersoon) FROM jgdhulpbus j JOIN gbapersoontab p USING (rinpersoon) "
        "WHERE j.begin <= '20231231' AND j.einde >= '20230101' AND 2023 - p.gbageboortejaar BETWEEN 0 AND 17");
    CHECK(users / kids > 0.09);
    CHECK(users / kids < 0.20);
  }
}
