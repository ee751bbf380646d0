// enclave-steward: pseudonyms, key file, validated loads, versions, rollback, the query log, a
// load killed by SIGKILL, linkage counts against known truth, and no BSN anywhere.
#include <fcntl.h>
#include <signal.h>
#include <sqlite3.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <random>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "doctest/doctest.h"
#include "enclave/adapters/sqlite/audit_log_store.h"
#include "enclave/adapters/sqlite/microdata_source.h"
#include "enclave/audit/leaf.h"
#include "enclave/base/log.h"
#include "enclave/delivery/bsn.h"
#include "enclave/server/lock_file.h"
#include "enclave/crypto/pseudonymiser.h"
#include "enclave/steward/steward.h"
#include "tests/testing/temp_dir.h"

namespace enclave::steward {
namespace {

using crypto::CreateKeyFile;
using crypto::Pseudonymiser;

std::string ReadAll(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

// Random valid BSNs, distinct, in a fixed order.
std::vector<std::string> ValidBsns(std::size_t n, std::uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::set<std::string> seen;
  std::vector<std::string> out;
  while (out.size() < n) {
    char buf[16];
    std::snprintf(buf, sizeof(buf), "%09llu",
                  static_cast<unsigned long long>(rng() % 700000000ULL));
    const std::string s = buf;
    if (delivery::IsCanonicalBsn(s) && seen.insert(s).second) out.push_back(s);
  }
  return out;
}

std::string Policy(const std::string& name) {
  return std::string(ENCLAVE_SOURCE_DIR) + "/policies/deliveries/" + name + ".textproto";
}

constexpr char kRegisterHeader[] =
    "bsn,gbageslacht,gbageboortejaar,gbageboortemaand,herkomst,generatie,gbadatumoverlijden\n";
constexpr char kBijstandHeader[] =
    "bsn,uitkering_id,rol,statistiekcode,aanvang,einde,leefvorm,inkomsten_naast_uitkering,"
    "uitstroomreden\n";

std::string RegisterCsv(const std::vector<std::string>& bsns) {
  std::string csv = kRegisterHeader;
  for (std::size_t i = 0; i < bsns.size(); ++i) {
    csv += bsns[i] + (i % 2 ? ",1," : ",2,") + std::to_string(1940 + i % 70) + "," +
           std::to_string(1 + i % 12) + ",nederland,0,\n";
  }
  return csv;
}

std::string BijstandCsv(const std::vector<std::string>& bsns, const std::string& suffix = "") {
  std::string csv = kBijstandHeader;
  for (std::size_t i = 0; i < bsns.size(); ++i) {
    csv += bsns[i] + ",U" + std::to_string(i) + suffix +
           ",persoon1,ALG,20200101,20991231,alleenstaand,0,\n";
  }
  return csv;
}

// A state directory, a key and an empty database in a temp directory.
struct Fixture {
  testing::TempDir dir;
  StewardOptions options;
  Fixture() {
    options.database_path = dir.File("micro.db");
    options.state_dir = dir.File("state");
    options.key_path = dir.File("pseudonym.key");
    options.steward = "unix:test";
    REQUIRE(InitDatabase(options.database_path).ok());
    REQUIRE(InitStateDir(options.state_dir, "").ok());
    REQUIRE(CreateKeyFile(options.key_path).ok());
  }
  absl::StatusOr<LoadOutcome> Load(const std::vector<std::pair<std::string, std::string>>& d) {
    std::vector<DeliveryFiles> files;
    int n = 0;
    for (const auto& [policy, csv] : d) {
      files.push_back({Policy(policy), dir.Write("d" + std::to_string(n++) + ".csv", csv)});
    }
    return LoadDeliveries(options, files);
  }
  std::string Query(const std::string& sql) {
    sqlite3* db = nullptr;
    sqlite3_open_v2(options.database_path.c_str(), &db, SQLITE_OPEN_READONLY, nullptr);
    sqlite3_stmt* s = nullptr;
    std::string out;
    if (sqlite3_prepare_v2(db, sql.c_str(), -1, &s, nullptr) == SQLITE_OK) {
      while (sqlite3_step(s) == SQLITE_ROW) {
        const auto* t = reinterpret_cast<const char*>(sqlite3_column_text(s, 0));
        out += (out.empty() ? "" : "|") + std::string(t != nullptr ? t : "NULL");
      }
    } else {
      out = "ERROR";
    }
    sqlite3_finalize(s);
    sqlite3_close(db);
    return out;
  }
  std::string DataVersion() {
    auto source = adapters::sqlite::SqliteMicrodataSource::Open(options.database_path);
    REQUIRE(source.ok());
    return (*source)->DataVersion();
  }
  std::vector<audit::LogLeaf> Leaves() {
    adapters::sqlite::AuditLogOptions o;
    o.state_dir = options.state_dir;
    auto log = adapters::sqlite::AuditLogStore::Open(o);
    REQUIRE(log.ok());
    auto bytes = (*log)->ReadLeaves(0, (*log)->Size());
    REQUIRE(bytes.ok());
    std::vector<audit::LogLeaf> out;
    for (const std::string& b : *bytes) {
      auto leaf = audit::DecodeLeaf(b);
      REQUIRE(leaf.ok());
      out.push_back(*leaf);
    }
    REQUIRE((*log)->Close().ok());
    return out;
  }
};

struct RunResult {
  int exit_code = -1;
  std::string output;  // stdout and stderr
};

// The names of everything under `dir` (relative, sorted), or "<absent>".
std::string Listing(const std::string& dir) {
  std::error_code ec;
  if (!std::filesystem::exists(dir, ec)) return "<absent>";
  std::vector<std::string> names;
  for (const auto& e : std::filesystem::recursive_directory_iterator(dir)) {
    names.push_back(std::filesystem::relative(e.path(), dir).string());
  }
  std::sort(names.begin(), names.end());
  std::string out;
  for (const std::string& n : names) out += n + ";";
  return out;
}

// The lines of `text` that start with `prefix`.
std::vector<std::string> LinesStarting(const std::string& text, const std::string& prefix) {
  std::vector<std::string> out;
  std::istringstream in(text);
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind(prefix, 0) == 0) out.push_back(line);
  }
  return out;
}

// The one line starting with `prefix` and ending "state=done" ("" if none or several).
std::string DoneLine(const std::string& text, const std::string& prefix) {
  std::vector<std::string> done;
  for (const std::string& l : LinesStarting(text, prefix)) {
    if (l.size() >= 10 && l.compare(l.size() - 10, 10, "state=done") == 0) done.push_back(l);
  }
  return done.size() == 1 ? done[0] : std::string();
}

RunResult Run(const std::string& args) {
  RunResult r;
  FILE* p = ::popen((std::string(ENCLAVE_STEWARD_PATH) + " " + args + " 2>&1").c_str(), "r");
  REQUIRE(p != nullptr);
  std::array<char, 4096> buf{};
  std::size_t n = 0;
  while ((n = std::fread(buf.data(), 1, buf.size(), p)) > 0) r.output.append(buf.data(), n);
  const int status = ::pclose(p);
  r.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return r;
}

}  // namespace

TEST_SUITE("Pseudonymiser") {
  TEST_CASE("10,000 equivalent spellings of BSNs give one pseudonym each") {
    auto p = Pseudonymiser::FromKey(std::string(32, 'k'));
    REQUIRE(p.ok());
    const std::vector<std::string> bsns = ValidBsns(2500, 1);
    int same = 0;
    for (const std::string& bsn : bsns) {
      const std::string want = (*p)->Pseudonym(bsn);
      std::string no_zeros = bsn.substr(bsn.find_first_not_of('0'));
      for (const std::string& spelling :
           {" " + bsn + " ", bsn.substr(0, 4) + " " + bsn.substr(4), "\t" + no_zeros,
            no_zeros.substr(0, 2) + "  " + no_zeros.substr(2)}) {
        std::optional<std::string> canonical = delivery::CanonicalBsn(spelling);
        REQUIRE(canonical.has_value());
        same += (*p)->Pseudonym(*canonical) == want ? 1 : 0;
      }
    }
    CHECK(same == 10000);
  }

  TEST_CASE("10,000 invalid numbers are rejected") {
    std::mt19937_64 rng(7);
    int rejected = 0;
    int tried = 0;
    while (tried < 10000) {
      char buf[16];
      std::snprintf(buf, sizeof(buf), "%09llu",
                    static_cast<unsigned long long>(rng() % 1000000000ULL));
      if (delivery::IsCanonicalBsn(buf)) continue;
      ++tried;
      rejected += delivery::CanonicalBsn(buf) ? 0 : 1;
    }
    CHECK(rejected == 10000);
  }

  TEST_CASE("two keys give unrelated pseudonyms: 0 equal over 10^6 identifiers") {
    auto a = Pseudonymiser::FromKey(std::string(32, 'a'));
    auto b = Pseudonymiser::FromKey(std::string(32, 'b'));
    REQUIRE(a.ok());
    REQUIRE(b.ok());
    std::string pa, pb;
    int equal = 0;
    char buf[16];
    for (int i = 0; i < 1000000; ++i) {
      std::snprintf(buf, sizeof(buf), "%09d", i);
      (*a)->Pseudonym(buf, &pa);
      (*b)->Pseudonym(buf, &pb);
      equal += pa == pb ? 1 : 0;
    }
    CHECK(equal == 0);
  }

  TEST_CASE("the key file must be private, regular and 32 bytes") {
    testing::TempDir dir;
    const std::string key = dir.File("k");
    REQUIRE(CreateKeyFile(key).ok());
    CHECK(Pseudonymiser::FromKeyFile(key).ok());
    CHECK(CreateKeyFile(key).code() == absl::StatusCode::kAlreadyExists);
    CHECK(Pseudonymiser::FromKeyFile(dir.File("none")).status().code() ==
          absl::StatusCode::kNotFound);
    for (mode_t mode : {mode_t{0640}, mode_t{0604}, mode_t{0660}, mode_t{0644}}) {
      CAPTURE(mode);
      REQUIRE(::chmod(key.c_str(), mode) == 0);
      auto p = Pseudonymiser::FromKeyFile(key);
      CHECK(p.status().code() == absl::StatusCode::kFailedPrecondition);
    }
    REQUIRE(::chmod(key.c_str(), 0400) == 0);
    CHECK(Pseudonymiser::FromKeyFile(key).ok());
    REQUIRE(::symlink(key.c_str(), dir.File("link").c_str()) == 0);
    CHECK(Pseudonymiser::FromKeyFile(dir.File("link")).status().code() ==
          absl::StatusCode::kFailedPrecondition);
    const std::string short_key = dir.Write("short", std::string(31, 'x'));
    REQUIRE(::chmod(short_key.c_str(), 0600) == 0);
    CHECK(Pseudonymiser::FromKeyFile(short_key).status().code() ==
          absl::StatusCode::kFailedPrecondition);
  }
}

TEST_SUITE("Steward") {
  TEST_CASE("a load makes a new version: views, derived layer, data version, linkage, log") {
    Fixture f;
    const std::vector<std::string> people = ValidBsns(50, 2);
    const std::vector<std::string> outsiders = ValidBsns(60, 3);  // first 50 may overlap: use tail
    std::vector<std::string> bijstand(people.begin(), people.begin() + 30);
    std::vector<std::string> unknown;
    for (const std::string& b : outsiders) {
      if (std::find(people.begin(), people.end(), b) == people.end() && unknown.size() < 7) {
        unknown.push_back(b);
      }
    }
    bijstand.insert(bijstand.end(), unknown.begin(), unknown.end());
    auto out = f.Load({{"gbapersoontab", RegisterCsv(people)},
                       {"bijstandpersoonbus", BijstandCsv(bijstand)}});
    REQUIRE(out.ok());
    REQUIRE(out->loaded);
    CHECK(out->version == 2);  // version 1 is the empty database as found
    const std::string dv = out->data_version;
    CHECK(dv.rfind("delivery-v2-", 0) == 0);
    CHECK(f.DataVersion() == dv);
    // Linkage against the known truth: 30 in the register, 7 not.
    REQUIRE(out->deliveries.size() == 2);
    const DeliveryOutcome& bij = out->deliveries[1];
    CHECK(bij.dataset == "bijstandpersoonbus");
    REQUIRE(bij.linkage.size() == 1);
    CHECK(bij.linkage[0].linked == 30);
    CHECK(bij.linkage[0].not_in_register == 7);
    CHECK(bij.linkage[0].missing == 0);
    CHECK(out->deliveries[0].linkage[0].linked == 50);
    CHECK(f.Query("SELECT count(*) FROM bijstandpersoonbus WHERE rinpersoons = 'R'") == "30");
    CHECK(f.Query("SELECT count(*) FROM bijstandpersoonbus WHERE rinpersoons = 'S'") == "7");
    CHECK(f.Query("SELECT count(*) FROM d_persoon") == "50");
    CHECK(f.Query("SELECT type FROM sqlite_master WHERE name = 'bijstandpersoonbus'") == "view");
    // The new table has the indexes of the old one (filled during the insert or built after
    // it), and they agree with the table.
    CHECK(f.Query("SELECT group_concat(cols, '|') FROM (SELECT substr(sql, instr(sql, '(')) AS "
                  "cols FROM sqlite_master WHERE type = 'index' AND tbl_name = "
                  "'bijstandpersoonbus__v2' ORDER BY cols)") == "(aanvang)|(rinpersoon, aanvang)");
    CHECK(f.Query("PRAGMA integrity_check") == "ok");
    // The same with the other index built after the insert.
    Fixture after;
    after.options.index_in_place_max_bytes = 0;
    auto out_after = after.Load({{"gbapersoontab", RegisterCsv(people)},
                                 {"bijstandpersoonbus", BijstandCsv(bijstand)}});
    REQUIRE(out_after.ok());
    REQUIRE(out_after->loaded);
    CHECK(after.Query("SELECT group_concat(cols, '|') FROM (SELECT substr(sql, instr(sql, '(')) "
                      "AS cols FROM sqlite_master WHERE type = 'index' AND tbl_name = "
                      "'bijstandpersoonbus__v2' ORDER BY cols)") ==
          "(aanvang)|(rinpersoon, aanvang)");
    CHECK(after.Query("PRAGMA integrity_check") == "ok");
    CHECK(after.Query("SELECT count(*) FROM bijstandpersoonbus WHERE rinpersoons = 'R'") == "30");
    // The same BSN in two deliveries links: pseudonyms agree across datasets.
    CHECK(f.Query("SELECT count(*) FROM bijstandpersoonbus b JOIN gbapersoontab p "
                  "ON p.rinpersoon = b.rinpersoon") == "30");
    // The query log holds one data-load entry with the SHA-256 and aggregate counts only.
    const std::vector<audit::LogLeaf> leaves = f.Leaves();
    int loads = 0;
    for (const audit::LogLeaf& leaf : leaves) {
      if (leaf.type != audit::EntryType::kDataLoad) continue;
      ++loads;
      CHECK(leaf.data_version == dv);
      CHECK(leaf.detail.find("sha256=" + bij.sha256) != std::string::npos);
      CHECK(leaf.detail.find("linkage.bsn.not_in_register=7") != std::string::npos);
      CHECK(leaf.detail.find("version=2") != std::string::npos);
    }
    CHECK(loads == 1);
  }

  TEST_CASE("linkage counts an optional BSN column's missing values") {
    Fixture f;
    const std::vector<std::string> people = ValidBsns(20, 4);
    REQUIRE(f.Load({{"gbapersoontab", RegisterCsv(people)}})->loaded);
    const std::string desc = f.dir.Write("kinderoudertab.textproto", R"(
dataset: "kinderoudertab"
holder: "CBS"
column { name: "bsn" type: BSN target: "rinpersoon" target_kind: "rinpersoons" }
column { name: "bsn_pa" type: BSN optional: true target: "rinpersoonpa" }
column { name: "bsn_ma" type: BSN optional: true target: "rinpersoonma" }
key: "bsn"
)");
    const std::vector<std::string> parents = ValidBsns(3, 99);  // not in the register
    std::string csv = "bsn,bsn_pa,bsn_ma\n";
    for (int i = 0; i < 10; ++i) {
      csv += people[static_cast<std::size_t>(i)] + "," + people[static_cast<std::size_t>(10 + i)] +
             "," + (i < 4 ? "" : i < 7 ? parents[static_cast<std::size_t>(i - 4)] : people[19]) +
             "\n";
    }
    auto out = LoadDeliveries(f.options, {{desc, f.dir.Write("k.csv", csv)}});
    REQUIRE(out.ok());
    REQUIRE(out->loaded);
    const auto& l = out->deliveries[0].linkage;
    REQUIRE(l.size() == 3);
    CHECK(l[0].linked == 10);
    CHECK(l[1].linked == 10);
    CHECK(l[2].linked == 3);
    CHECK(l[2].not_in_register == 3);
    CHECK(l[2].missing == 4);
    CHECK(f.Query("SELECT count(*) FROM kinderoudertab WHERE rinpersoonma IS NULL") == "4");
  }

  TEST_CASE("every validation error kind refuses the delivery and leaves the database unchanged") {
    Fixture f;
    const std::vector<std::string> people = ValidBsns(10, 5);
    REQUIRE(f.Load({{"gbapersoontab", RegisterCsv(people)}})->loaded);
    const std::string before = ReadAll(f.options.database_path);
    const std::string good = BijstandCsv({people[0], people[1]});
    const std::string row = people[2] + ",X,persoon1,ALG,20200101,20991231,alleenstaand,0,\n";
    struct Bad {
      const char* kind;
      std::string csv;
    };
    const std::vector<Bad> bad = {
        {"header", "bsn,uitkering,rol\n" + good.substr(good.find('\n') + 1)},
        {"column_count", good + people[2] + ",X,persoon1,ALG\n"},
        {"encoding", good + people[2] + ",X\xff,persoon1,ALG,20200101,20991231,alleenstaand,0,\n"},
        {"quoting", good + people[2] + ",\"X\"y,persoon1,ALG,20200101,20991231,alleenstaand,0,\n"},
        {"type", good + people[2] + ",X,persoon1,ALG,20200230,20991231,alleenstaand,0,\n"},
        {"domain", good + people[2] + ",X,persoon3,ALG,20200101,20991231,alleenstaand,0,\n"},
        {"missing", good + people[2] + ",,persoon1,ALG,20200101,20991231,alleenstaand,0,\n"},
        {"invalid_bsn", good + "123456781,X,persoon1,ALG,20200101,20991231,alleenstaand,0,\n"},
        {"duplicate_key", good + row + row},
        {"empty", std::string(kBijstandHeader)},
    };
    for (const Bad& b : bad) {
      CAPTURE(b.kind);
      auto out = f.Load({{"bijstandpersoonbus", b.csv}});
      REQUIRE(out.ok());
      CHECK_FALSE(out->loaded);
      const delivery::ValidationReport& r = out->deliveries.at(0).report;
      CHECK(r.ToKeyValue().find(std::string(b.kind) + "=1") != std::string::npos);
      CHECK(ReadAll(f.options.database_path) == before);
    }
    CHECK(f.DataVersion().rfind("delivery-v2-", 0) == 0);
    // A good delivery beside a bad one is refused with it (all or nothing).
    auto mixed = f.Load({{"bijstandpersoonbus", good}, {"srg_reintegratie", "bsn\n1\n"}});
    REQUIRE(mixed.ok());
    CHECK_FALSE(mixed->loaded);
    CHECK(ReadAll(f.options.database_path) == before);
    // Each refusal is on record in the query log, counts only.
    int refused = 0;
    for (const audit::LogLeaf& leaf : f.Leaves()) {
      refused += leaf.type == audit::EntryType::kDataLoad && leaf.decision == "refused" ? 1 : 0;
    }
    CHECK(refused == 11);
  }

  TEST_CASE("versions and rollback: the previous version is current again, on record") {
    Fixture f;
    const std::vector<std::string> people = ValidBsns(10, 6);
    auto v2 = f.Load({{"gbapersoontab", RegisterCsv(people)},
                      {"bijstandpersoonbus", BijstandCsv({people[0]})}});
    REQUIRE(v2->loaded);
    auto v3 = f.Load({{"bijstandpersoonbus", BijstandCsv({people[0], people[1], people[2]}, "b")}});
    REQUIRE(v3.ok());
    REQUIRE(v3->loaded);
    CHECK(v3->version == 3);
    CHECK(f.Query("SELECT count(*) FROM bijstandpersoonbus") == "3");
    CHECK(f.DataVersion() == v3->data_version);
    auto versions = ListVersions(f.options.database_path);
    REQUIRE(versions.ok());
    REQUIRE(versions->size() == 3);
    CHECK(versions->at(2).current);
    CHECK(versions->at(2).parent == 2);

    auto back = RollbackVersion(f.options);
    REQUIRE(back.ok());
    CHECK(back->version == 2);
    CHECK(f.DataVersion() == v2->data_version);
    CHECK(f.Query("SELECT count(*) FROM bijstandpersoonbus") == "1");
    CHECK(f.Query("SELECT count(*) FROM d_persoon") == "10");
    auto back2 = RollbackVersion(f.options);
    REQUIRE(back2.ok());
    CHECK(back2->version == 1);
    CHECK(f.DataVersion() == "empty");
    CHECK(f.Query("SELECT count(*) FROM d_persoon") == "0");
    CHECK(RollbackVersion(f.options).status().code() == absl::StatusCode::kFailedPrecondition);
    int rollbacks = 0;
    for (const audit::LogLeaf& leaf : f.Leaves()) {
      rollbacks += leaf.type == audit::EntryType::kDatasetRollback ? 1 : 0;
    }
    CHECK(rollbacks == 2);
    // A load after a rollback builds on the version now current.
    auto v4 = f.Load({{"gbapersoontab", RegisterCsv({people[0]})}});
    REQUIRE(v4->loaded);
    CHECK(v4->version == 4);
    CHECK(ListVersions(f.options.database_path)->at(3).parent == 1);
  }

  TEST_CASE("a database written by enclave-datagen style plain tables is adopted as version 1") {
    Fixture f;
    const std::vector<std::string> people = ValidBsns(5, 8);
    // Rows inserted directly, as the generator does, under a data_version of its own.
    sqlite3* db = nullptr;
    REQUIRE(sqlite3_open(f.options.database_path.c_str(), &db) == SQLITE_OK);
    REQUIRE(sqlite3_exec(db,
                         "INSERT INTO gbapersoontab VALUES ('R', 'p1', '1', 1980, 1, 'nederland', "
                         "0, NULL); UPDATE meta SET value = 'synthetic-x' WHERE key = "
                         "'data_version';",
                         nullptr, nullptr, nullptr) == SQLITE_OK);
    sqlite3_close(db);
    auto out = f.Load({{"bijstandpersoonbus", BijstandCsv({people[0]})}});
    REQUIRE(out->loaded);
    CHECK(out->deliveries[0].linkage[0].not_in_register == 1);
    CHECK(f.Query("SELECT count(*) FROM gbapersoontab") == "1");  // untouched plain table
    auto back = RollbackVersion(f.options);
    REQUIRE(back.ok());
    CHECK(f.DataVersion() == "synthetic-x");
    CHECK(f.Query("SELECT count(*) FROM bijstandpersoonbus") == "0");
  }

  TEST_CASE("only the derived tables a delivered dataset feeds are rebuilt, and named") {
    Fixture f;
    const std::vector<std::string> people = ValidBsns(10, 13);
    auto v2 = f.Load({{"gbapersoontab", RegisterCsv(people)}});
    REQUIRE(v2->loaded);
    CHECK(v2->derived_rebuilt ==
          std::vector<std::string>{"d_persoon", "d_ingezetene", "d_zzp_jaar", "d_jeugdhulp_periode",
                                   "d_gezinscontext", "d_reintegratie_koppel",
                                   "d_reintegratie_start"});
    CHECK(v2->derived_unchanged == std::vector<std::string>{"d_peildatum", "d_dag"});
    auto v3 = f.Load({{"bijstandpersoonbus", BijstandCsv({people[0], people[1]})}});
    REQUIRE(v3->loaded);
    CHECK(v3->derived_rebuilt ==
          std::vector<std::string>{"d_ingezetene", "d_jeugdhulp_periode", "d_gezinscontext",
                                   "d_reintegratie_koppel", "d_reintegratie_start"});
    std::string srg = "bsn,voorziening,doelgroep,aanvang,einde\n";
    srg += people[0] + ",scholing,bijstand,20200101,20201231\n";
    auto v4 = f.Load({{"srg_reintegratie", srg}});  // only T6's matching reads it
    REQUIRE(v4->loaded);
    CHECK(v4->derived_rebuilt ==
          std::vector<std::string>{"d_reintegratie_koppel", "d_reintegratie_start"});
    CHECK(v4->derived_unchanged.size() == 7);
    CHECK(f.Query("SELECT count(*) FROM d_persoon") == "10");
    CHECK(f.Query("SELECT count(*) FROM srg_reintegratie") == "1");
    // The data-load entries name the rebuilt tables (names only).
    std::vector<std::string> rebuilt;
    for (const audit::LogLeaf& leaf : f.Leaves()) {
      if (leaf.type != audit::EntryType::kDataLoad) continue;
      const std::size_t at = leaf.detail.find("derived_rebuilt=");
      REQUIRE(at != std::string::npos);
      rebuilt.push_back(leaf.detail.substr(at));
    }
    CHECK(rebuilt == std::vector<std::string>{
                         "derived_rebuilt=d_persoon,d_ingezetene,d_zzp_jaar,d_jeugdhulp_periode,"
                         "d_gezinscontext,d_reintegratie_koppel,d_reintegratie_start",
                         "derived_rebuilt=d_ingezetene,d_jeugdhulp_periode,d_gezinscontext,"
                         "d_reintegratie_koppel,d_reintegratie_start",
                         "derived_rebuilt=d_reintegratie_koppel,d_reintegratie_start"});
    // Rolling back the srg load rebuilds T6's two tables; rolling back bijstand its five.
    auto back = RollbackVersion(f.options);
    REQUIRE(back.ok());
    CHECK(back->derived_rebuilt ==
          std::vector<std::string>{"d_reintegratie_koppel", "d_reintegratie_start"});
    back = RollbackVersion(f.options);
    REQUIRE(back.ok());
    CHECK(back->derived_rebuilt ==
          std::vector<std::string>{"d_ingezetene", "d_jeugdhulp_periode", "d_gezinscontext",
                                   "d_reintegratie_koppel", "d_reintegratie_start"});
  }

  TEST_CASE("a derived table missing from the database is rebuilt with the tables reading it") {
    Fixture f;
    sqlite3* db = nullptr;
    REQUIRE(sqlite3_open(f.options.database_path.c_str(), &db) == SQLITE_OK);
    REQUIRE(sqlite3_exec(db, "DROP TABLE d_ingezetene", nullptr, nullptr, nullptr) == SQLITE_OK);
    sqlite3_close(db);
    std::string srg = "bsn,voorziening,doelgroep,aanvang,einde\n";
    srg += ValidBsns(1, 14)[0] + ",scholing,bijstand,20200101,20201231\n";
    auto out = f.Load({{"srg_reintegratie", srg}});
    REQUIRE(out.ok());
    REQUIRE(out->loaded);
    CHECK(out->derived_rebuilt ==
          std::vector<std::string>{"d_ingezetene", "d_jeugdhulp_periode", "d_gezinscontext",
                                   "d_reintegratie_koppel", "d_reintegratie_start"});
    CHECK(f.Query("SELECT count(*) FROM d_ingezetene") == "0");
  }

  TEST_CASE("the steward refuses to load while enclaved holds the lock") {
    Fixture f;
    auto lock = server::LockFile::Acquire(f.options.state_dir + "/enclaved.lock");
    REQUIRE(lock.ok());
    auto out = f.Load({{"gbapersoontab", RegisterCsv(ValidBsns(3, 9))}});
    REQUIRE_FALSE(out.ok());
    CHECK(IsServerRunning(out.status()));
    CHECK(IsServerRunning(RollbackVersion(f.options).status()));
    const RunResult r = Run("rollback --db " + f.options.database_path + " --state-dir " +
                            f.options.state_dir);
    CHECK(r.exit_code == 3);
  }

  TEST_CASE("a load killed by SIGKILL before its commit leaves the previous version usable") {
    Fixture f;
    const std::vector<std::string> people = ValidBsns(200, 10);
    auto v2 = f.Load({{"gbapersoontab", RegisterCsv(people)}});
    REQUIRE(v2->loaded);
    const std::string before = f.Query("SELECT count(*), group_concat(rinpersoon) FROM gbapersoontab");
    const std::string csv = f.dir.Write("kill.csv", BijstandCsv(people));
    const std::string before_bytes = ReadAll(f.options.database_path);
    int out_pipe[2];
    REQUIRE(::pipe(out_pipe) == 0);
    const pid_t pid = ::fork();
    REQUIRE(pid >= 0);
    if (pid == 0) {
      ::dup2(out_pipe[1], STDOUT_FILENO);
      ::close(out_pipe[0]);
      const std::string desc = Policy("bijstandpersoonbus");
      ::execl(ENCLAVE_STEWARD_PATH, ENCLAVE_STEWARD_PATH, "load", "--db",
              f.options.database_path.c_str(), "--state-dir", f.options.state_dir.c_str(), "--key",
              f.options.key_path.c_str(), "--description", desc.c_str(), "--csv", csv.c_str(),
              "--test-pause-before-commit", static_cast<char*>(nullptr));
      ::_exit(127);
    }
    ::close(out_pipe[1]);
    std::string seen;
    char buf[256];
    ssize_t n = 0;
    while (seen.find("paused-before-commit") == std::string::npos &&
           (n = ::read(out_pipe[0], buf, sizeof(buf))) > 0) {
      seen.append(buf, static_cast<std::size_t>(n));
    }
    ::close(out_pipe[0]);
    REQUIRE(seen.find("paused-before-commit") != std::string::npos);
    // The whole new version is in the database file but not committed: a hot journal exists.
    CHECK(std::filesystem::exists(f.options.database_path + "-journal"));
    REQUIRE(::kill(pid, SIGKILL) == 0);
    int status = 0;
    REQUIRE(::waitpid(pid, &status, 0) == pid);
    CHECK(WIFSIGNALED(status));
    CHECK(ReadAll(f.options.database_path) != before_bytes);
    // The read-only server cannot roll a hot journal back: it refuses to open rather than
    // serve a half-written version (the steward, or any writer, recovers the database first).
    {
      auto source = adapters::sqlite::SqliteMicrodataSource::Open(f.options.database_path);
      if (source.ok()) {
        CHECK((*source)->DataVersion() == v2->data_version);
      } else {
        MESSAGE("read-only open before recovery: " << source.status().message());
      }
    }
    // The next steward command rolls the interrupted transaction back; version 2 is current.
    auto versions = ListVersions(f.options.database_path);
    REQUIRE(versions.ok());
    CHECK(versions->size() == 2);
    CHECK(versions->back().current);
    CHECK_FALSE(std::filesystem::exists(f.options.database_path + "-journal"));
    CHECK(f.DataVersion() == v2->data_version);
    CHECK(f.Query("SELECT count(*) FROM bijstandpersoonbus") == "0");
    CHECK(f.Query("SELECT count(*), group_concat(rinpersoon) FROM gbapersoontab") == before);
    CHECK(f.Query("PRAGMA integrity_check") == "ok");
    CHECK(ReadAll(f.options.database_path) == before_bytes);
    // And it is usable: the same load now succeeds.
    auto again = f.Load({{"bijstandpersoonbus", BijstandCsv(people)}});
    REQUIRE(again.ok());
    CHECK(again->loaded);
    CHECK(again->version == 3);
  }

  TEST_CASE("no BSN appears in the database, the query log or the tool's output") {
    Fixture f;
    const std::vector<std::string> people = ValidBsns(300, 11);
    const std::string reg = f.dir.Write("reg.csv", RegisterCsv(people));
    const std::string bij = f.dir.Write(
        "bij.csv", BijstandCsv(std::vector<std::string>(people.begin(), people.begin() + 100)));
    std::string bad_csv = BijstandCsv({people[0]});
    bad_csv += people[1] + ",Y,persoon9,ALG,20200101,20991231,alleenstaand,0,\n";  // domain
    bad_csv += people[2] + "0,Y,persoon1,ALG,20200101,20991231,alleenstaand,0,\n";  // too long
    bad_csv += people[3].substr(0, 8) + "9,Z,persoon1,ALG,20200101,20991231,alleenstaand,0,\n";
    const std::string bad = f.dir.Write("bad.csv", bad_csv);
    const std::string common = " --db " + f.options.database_path + " --state-dir " +
                               f.options.state_dir + " --key " + f.options.key_path;
    std::string output;
    RunResult r = Run("load" + common + " --description " + Policy("gbapersoontab") + " --csv " +
                      reg + " --description " + Policy("bijstandpersoonbus") + " --csv " + bij);
    CHECK(r.exit_code == 0);
    output += r.output;
    r = Run("load" + common + " --description " + Policy("bijstandpersoonbus") + " --csv " + bad);
    CHECK(r.exit_code == 1);
    CHECK(r.output.find("invalid_bsn=2") != std::string::npos);
    output += r.output;
    r = Run("validate --description " + Policy("bijstandpersoonbus") + " --csv " + bad);
    CHECK(r.exit_code == 1);
    output += r.output;
    r = Run("versions --db " + f.options.database_path);
    output += r.output;
    r = Run("rollback --db " + f.options.database_path + " --state-dir " + f.options.state_dir);
    CHECK(r.exit_code == 0);
    output += r.output;

    std::vector<std::string> files;
    for (const auto& entry : std::filesystem::recursive_directory_iterator(f.options.state_dir)) {
      if (entry.is_regular_file()) files.push_back(entry.path().string());
    }
    files.push_back(f.options.database_path);
    std::vector<std::pair<std::string, std::string>> haystacks = {{"tool output", output}};
    for (const std::string& file : files) haystacks.push_back({file, ReadAll(file)});
    // Every BSN of the deliveries, canonical and without leading zeros, and the bad ones.
    std::vector<std::string> needles = people;
    for (const std::string& b : people) needles.push_back(b.substr(b.find_first_not_of('0')));
    needles.push_back(people[2] + "0");
    needles.push_back(people[3].substr(0, 8) + "9");
    int found = 0;
    for (const auto& [name, text] : haystacks) {
      for (const std::string& needle : needles) {
        if (text.find(needle) != std::string::npos) {
          ++found;
          MESSAGE("BSN found in " << name);
        }
      }
    }
    CHECK(found == 0);
    // The scan can fail: the delivery file itself holds them.
    CHECK(ReadAll(reg).find(people[5]) != std::string::npos);
  }

  TEST_CASE("the tool's usage errors exit 2 and its output is key=value when not a terminal") {
    CHECK(Run("").exit_code == 2);
    CHECK(Run("frobnicate").exit_code == 2);
    CHECK(Run("load --db x").exit_code == 2);
    CHECK(Run("load --description x").exit_code == 2);
    Fixture f;
    const std::string reg = f.dir.Write("reg.csv", RegisterCsv(ValidBsns(4, 12)));
    const RunResult r = Run("load --db " + f.options.database_path + " --state-dir " +
                            f.options.state_dir + " --key " + f.options.key_path +
                            " --description " + Policy("gbapersoontab") + " --csv " + reg);
    CHECK(r.exit_code == 0);
    CHECK(r.output.find("result=loaded version=2 data_version=delivery-v2-") != std::string::npos);
    CHECK(r.output.find("linkage dataset=gbapersoontab column=bsn linked=4") != std::string::npos);
    CHECK(r.output.find("rows/s") == std::string::npos);  // no progress display without a terminal
    ::chmod(f.options.key_path.c_str(), 0644);
    const RunResult unsafe = Run("load --db " + f.options.database_path + " --state-dir " +
                                 f.options.state_dir + " --key " + f.options.key_path +
                                 " --description " + Policy("gbapersoontab") + " --csv " + reg);
    CHECK(unsafe.exit_code == 4);
  }

  TEST_CASE("every description in policies/deliveries parses") {
    int n = 0;
    for (const auto& entry : std::filesystem::directory_iterator(
             std::string(ENCLAVE_SOURCE_DIR) + "/policies/deliveries")) {
      if (entry.path().extension() != ".textproto") continue;
      CAPTURE(entry.path().string());
      auto out = ValidateDeliveries({{entry.path().string(), entry.path().string()}});
      CHECK(out.ok());  // parses; the text file itself is not a valid CSV delivery
      ++n;
    }
    CHECK(n >= 5);
  }
}



TEST_SUITE("Reading in parts") {
  // A bijstand delivery of `n` records over `people`, with quoted fields holding commas and line
  // breaks, so that a cut between parts must respect the quotes.
  static std::string BigRow(const std::vector<std::string>& people, std::size_t i) {
    const std::string id = i % 7 == 0   ? "\"U" + std::to_string(i) + "\nline\""
                           : i % 5 == 0 ? "\"U" + std::to_string(i) + ",x\""
                                        : "U" + std::to_string(i);
    return people[i % people.size()] + "," + id + (i % 3 ? ",persoon1,ALG," : ",persoon2,BBZ,") +
           std::to_string(2015 + i % 9) + "0101,20991231,alleenstaand," + std::to_string(i % 2) +
           "," + (i % 4 ? "" : "werk") + "\n";
  }
  static std::string BigBijstand(const std::vector<std::string>& people, std::size_t n) {
    std::string csv = kBijstandHeader;
    for (std::size_t i = 0; i < n; ++i) csv += BigRow(people, i);
    return csv;
  }

  static std::string Ordered(Fixture& f, std::int64_t version) {
    const std::string table = f.Query(
        "SELECT physical FROM steward_table WHERE dataset = 'bijstandpersoonbus' AND version = " +
        std::to_string(version));
    return f.Query("SELECT group_concat(rinpersoons || rinpersoon || uitkering_id || rol || "
                   "statistiekcode || aanvang || einde || leefvorm || inkomsten_naast_uitkering "
                   "|| coalesce(uitstroomreden, '-'), ';') FROM (SELECT * FROM " + table +
                   " ORDER BY rowid)");
  }

  TEST_CASE("a delivery read by several threads loads exactly as when read by one") {
    Fixture one;
    Fixture parts;
    // The same key in both, so that the pseudonyms agree.
    std::filesystem::remove(parts.options.key_path);
    std::filesystem::copy_file(one.options.key_path, parts.options.key_path);
    one.options.read_threads = 1;
    parts.options.read_threads = 3;
    parts.options.part_min_bytes = 1;
    const std::vector<std::string> people = ValidBsns(400, 21);
    const std::vector<std::string> registered(people.begin(), people.begin() + 300);
    const std::string bij = BigBijstand(people, 3000);
    for (Fixture* f : {&one, &parts}) {
      REQUIRE(f->Load({{"gbapersoontab", RegisterCsv(registered)}})->loaded);
    }
    auto a = one.Load({{"bijstandpersoonbus", bij}});
    auto b = parts.Load({{"bijstandpersoonbus", bij}});
    REQUIRE(a.ok());
    REQUIRE(b.ok());
    REQUIRE(a->loaded);
    REQUIRE(b->loaded);
    const DeliveryOutcome& x = a->deliveries[0];
    const DeliveryOutcome& y = b->deliveries[0];
    CHECK(x.report.ToKeyValue() == y.report.ToKeyValue());
    CHECK(x.report.records == 3000);
    CHECK(x.rows_loaded == 3000);
    CHECK(y.rows_loaded == 3000);
    REQUIRE(y.linkage.size() == 1);
    CHECK(y.linkage[0].linked == x.linkage[0].linked);
    CHECK(y.linkage[0].not_in_register == x.linkage[0].not_in_register);
    std::uint64_t linked = 0;
    for (std::size_t i = 0; i < 3000; ++i) if (i % 400 < 300) ++linked;
    CHECK(x.linkage[0].linked == linked);
    CHECK(a->data_version == b->data_version);
    // Row for row, in the same (person) order.
    const std::string rows = Ordered(one, 3);
    CHECK(rows.size() > 100000);
    CHECK(rows == Ordered(parts, 3));
    CHECK(one.Query("SELECT count(*) FROM bijstandpersoonbus WHERE uitkering_id LIKE '%' || "
                    "char(10) || 'line'") == "429");
    const std::string table = parts.Query(
        "SELECT physical FROM steward_table WHERE dataset = 'bijstandpersoonbus' AND version = 3");
    CHECK(parts.Query("SELECT count(*) FROM (SELECT rinpersoon, lag(rinpersoon) OVER (ORDER BY "
                      "rowid) AS prev FROM " + table + ") WHERE prev > rinpersoon") == "0");
  }

  TEST_CASE("errors in a delivery read by several threads are reported as one reading reports them") {
    Fixture f;
    f.options.read_threads = 4;
    f.options.part_min_bytes = 1;
    const std::vector<std::string> people = ValidBsns(200, 22);
    REQUIRE(f.Load({{"gbapersoontab", RegisterCsv(people)}})->loaded);
    const std::string before = ReadAll(f.options.database_path);
    const std::string good = BigBijstand(people, 2000);
    const std::string first_row = BigRow(people, 1);
    struct Case {
      const char* what;
      std::string csv;
    };
    // Errors near the start, in the middle and at the end; a key repeated in another part.
    std::string mixed = good;
    mixed.insert(mixed.find('\n', mixed.size() / 2) + 1,
                 people[1] + ",M1,persoon9,ALG,20200101,20991231,alleenstaand,0,\n");
    mixed.insert(std::string(kBijstandHeader).size(),
                 people[2] + ",S1,persoon1,ALG,20201301,20991231,alleenstaand,0,\n");
    mixed += "123456781,E1,persoon1,ALG,20200101,20991231,alleenstaand,0,\n";
    const std::vector<Case> cases = {
        {"a key repeated in the last part", good + first_row},
        {"errors in several parts", mixed},
        {"a quote left open near the end", good + people[3] + ",\"open,persoon1\n"},
    };
    for (const Case& c : cases) {
      CAPTURE(c.what);
      const std::string csv = f.dir.Write("bad.csv", c.csv);
      auto sequential = ValidateDeliveries({{Policy("bijstandpersoonbus"), csv}});
      REQUIRE(sequential.ok());
      const delivery::ValidationReport& want = sequential->at(0).report;
      CHECK_FALSE(want.ok());
      auto out = LoadDeliveries(f.options, {{Policy("bijstandpersoonbus"), csv}});
      REQUIRE(out.ok());
      CHECK_FALSE(out->loaded);
      const delivery::ValidationReport& got = out->deliveries.at(0).report;
      CHECK(got.ToKeyValue() == want.ToKeyValue());
      for (std::size_t k = 0; k < delivery::kErrorKindCount; ++k) {
        REQUIRE(got.samples[k].size() == want.samples[k].size());
        for (std::size_t i = 0; i < got.samples[k].size(); ++i) {
          CHECK(got.samples[k][i].line == want.samples[k][i].line);
          CHECK(got.samples[k][i].message == want.samples[k][i].message);
        }
      }
      CHECK(ReadAll(f.options.database_path) == before);
    }
  }
}

TEST_SUITE("State directory") {
  TEST_CASE("load and rollback refuse a state directory without a query log and create nothing") {
    Fixture f;
    const std::vector<std::string> people = ValidBsns(4, 15);
    const std::string reg = f.dir.Write("reg.csv", RegisterCsv(people));
    const std::string db_before = ReadAll(f.options.database_path);
    const std::string empty = f.dir.File("empty");
    std::filesystem::create_directories(empty);
    const std::string mistyped = f.dir.File("mistyped");
    const std::string other = f.dir.File("other");
    f.dir.Write("other/notes.txt", "not a state directory");
    // A state directory whose log is signed with a key kept elsewhere (a systemd credential).
    const std::string keyless = f.dir.File("keyless");
    REQUIRE(InitStateDir(keyless, "").ok());
    const std::string credential = f.dir.File("log-signing-key");
    std::filesystem::rename(keyless + "/log_signing.key", credential);
    for (const std::string& dir : {empty, mistyped, other, keyless}) {
      CAPTURE(dir);
      const std::string before = Listing(dir);
      StewardOptions o = f.options;
      o.state_dir = dir;
      auto out = LoadDeliveries(o, {{Policy("gbapersoontab"), reg}});
      REQUIRE_FALSE(out.ok());
      CHECK(out.status().code() == absl::StatusCode::kNotFound);
      CHECK(std::string(out.status().message()).find(dir) != std::string::npos);
      CHECK(RollbackVersion(o).status().code() == absl::StatusCode::kNotFound);
      const std::string common = " --db " + f.options.database_path + " --state-dir " + dir;
      const RunResult load = Run("load" + common + " --key " + f.options.key_path +
                                 " --description " + Policy("gbapersoontab") + " --csv " + reg);
      CHECK(load.exit_code == 4);
      CHECK(load.output.find("enclave-steward: state directory " + dir) != std::string::npos);
      CHECK(load.output.find("result=loaded") == std::string::npos);
      const RunResult rollback = Run("rollback" + common);
      CHECK(rollback.exit_code == 4);
      // Nothing was created: no lock file, no query log, no signing key; the database is as it was.
      CHECK(Listing(dir) == before);
      CHECK(ReadAll(f.options.database_path) == db_before);
    }
    CHECK(Listing(mistyped) == "<absent>");
    CHECK(Listing(empty).empty());
    // Negative controls: the signing key given, and the initialised state directory, both load.
    const RunResult with_key =
        Run("load --db " + f.options.database_path + " --state-dir " + keyless +
            " --log-signing-key " + credential + " --key " + f.options.key_path +
            " --description " + Policy("gbapersoontab") + " --csv " + reg);
    CHECK(with_key.exit_code == 0);
    CHECK_FALSE(std::filesystem::exists(keyless + "/log_signing.key"));
    auto out = f.Load({{"gbapersoontab", RegisterCsv(people)}});
    REQUIRE(out.ok());
    CHECK(out->loaded);
    CHECK(out->version == 3);
  }

  TEST_CASE("init makes a state directory once, and a second init changes nothing") {
    testing::TempDir dir;
    const std::string state = dir.File("state");
    CHECK(Run("init").exit_code == 2);
    CHECK(Run("init --log-signing-key x").exit_code == 2);
    RunResult r = Run("init --state-dir " + state);
    CHECK(r.exit_code == 0);
    CHECK(r.output.find("result=created state_dir=" + state) != std::string::npos);
    for (const char* name : {"audit_log.db", "checkpoint", "log_signing.key", "log_verifier.key"}) {
      CAPTURE(name);
      CHECK(std::filesystem::is_regular_file(state + "/" + name));
    }
    struct stat st {};
    REQUIRE(::stat(state.c_str(), &st) == 0);
    CHECK((st.st_mode & 0777) == 0700);
    const std::string checkpoint = ReadAll(state + "/checkpoint");
    const std::string key = ReadAll(state + "/log_signing.key");
    const std::string listing = Listing(state);
    r = Run("init --state-dir " + state);
    CHECK(r.exit_code == 4);
    CHECK(r.output.find("already holds") != std::string::npos);
    CHECK(ReadAll(state + "/checkpoint") == checkpoint);
    CHECK(ReadAll(state + "/log_signing.key") == key);
    CHECK(Listing(state) == listing);
    // With the signing key given, none is written to the directory, and loads need the key.
    const std::string credential = dir.Write("cred.key", key);
    REQUIRE(::chmod(credential.c_str(), 0600) == 0);
    const std::string state2 = dir.File("state2");
    r = Run("init --state-dir " + state2 + " --log-signing-key " + credential + " --db " +
            dir.File("micro.db"));
    CHECK(r.exit_code == 0);
    CHECK(r.output.find("result=created data_version=empty") != std::string::npos);
    CHECK(std::filesystem::is_regular_file(state2 + "/checkpoint"));
    CHECK_FALSE(std::filesystem::exists(state2 + "/log_signing.key"));
    StewardOptions o;
    o.database_path = dir.File("micro.db");
    o.state_dir = state2;
    o.key_path = dir.File("pseudonym.key");
    o.steward = "unix:test";
    REQUIRE(CreateKeyFile(o.key_path).ok());
    const std::string reg = dir.Write("reg.csv", RegisterCsv(ValidBsns(3, 17)));
    CHECK(LoadDeliveries(o, {{Policy("gbapersoontab"), reg}}).status().code() ==
          absl::StatusCode::kNotFound);
    o.log_signing_key_file = credential;
    auto out = LoadDeliveries(o, {{Policy("gbapersoontab"), reg}});
    REQUIRE(out.ok());
    CHECK(out->loaded);
  }
}

TEST_SUITE("Progress") {
  TEST_CASE("load, validate and rollback report phases, rows and time left as key=value lines") {
    Fixture f;
    const std::vector<std::string> people = ValidBsns(300, 16);
    const std::string reg = f.dir.Write("reg.csv", RegisterCsv(people));
    const std::string bij = f.dir.Write(
        "bij.csv", BijstandCsv(std::vector<std::string>(people.begin(), people.begin() + 100)));
    const std::string common = " --db " + f.options.database_path + " --state-dir " +
                               f.options.state_dir + " --key " + f.options.key_path;
    const std::string both = " --description " + Policy("gbapersoontab") + " --csv " + reg +
                             " --description " + Policy("bijstandpersoonbus") + " --csv " + bij;
    RunResult r = Run("load" + common + both);
    REQUIRE(r.exit_code == 0);
    const std::string& out = r.output;
    CAPTURE(out);
    // The one pass (validate, pseudonymise, link, insert), per delivery with its rows.
    CHECK(DoneLine(out, "phase=insert dataset=gbapersoontab step=1/2 rows=300 elapsed_s=") != "");
    CHECK(DoneLine(out, "phase=insert dataset=bijstandpersoonbus step=2/2 rows=100 ") != "");
    CHECK(DoneLine(out, "phase=index dataset=gbapersoontab step=1/2 rows=300 ") != "");
    CHECK(DoneLine(out, "phase=index dataset=bijstandpersoonbus step=2/2 rows=100 ") != "");
    // The derived layer per step: the register feeds all but d_peildatum and d_dag; helper
    // tables are steps too. Each step says when it starts and when it is done, with its rows.
    const std::vector<std::string> steps = {
        "d_persoon",         "d_tmp_peil",           "d_tmp_jaar",
        "d_tmp_adres",       "d_ingezetene",         "d_zzp_jaar",
        "d_jeugdhulp_periode", "d_gezinscontext",    "d_tmp_reint_voorziening",
        "d_tmp_reint_alg",   "d_tmp_reint_deeln",    "d_tmp_reint_kand",
        "d_reintegratie_koppel", "d_reintegratie_start"};
    for (std::size_t i = 0; i < steps.size(); ++i) {
      CAPTURE(steps[i]);
      const std::string prefix = "phase=derive table=" + steps[i] + " step=" +
                                 std::to_string(i + 1) + "/" + std::to_string(steps.size()) + " ";
      const std::string done = DoneLine(out, prefix + "rows=");
      CHECK(done != "");
      CHECK(done.find(" elapsed_s=") != std::string::npos);
      CHECK(done.find(" eta_s=") != std::string::npos);
      CHECK_FALSE(LinesStarting(out, prefix + "elapsed_s=").empty());  // the start, no rows yet
    }
    CHECK(DoneLine(out, "phase=derive table=d_persoon step=1/14 rows=300 ") != "");
    CHECK(DoneLine(out, "phase=derive table=d_reintegratie_start step=14/14 rows=")
              .find(" eta_s=0 ") != std::string::npos);
    CHECK(LinesStarting(out, "phase=derive table=d_dag").empty());
    CHECK(DoneLine(out, "phase=commit elapsed_s=") != "");
    // Phases in order, and the summary names the tables rebuilt.
    CHECK(out.find("phase=insert") < out.find("phase=index"));
    CHECK(out.find("phase=index") < out.find("phase=derive"));
    CHECK(out.find("phase=derive") < out.find("phase=commit"));
    CHECK(out.find("derived rebuilt=d_persoon,d_ingezetene,d_zzp_jaar,d_jeugdhulp_periode,"
                   "d_gezinscontext,d_reintegratie_koppel,d_reintegratie_start "
                   "unchanged=d_peildatum,d_dag\n") != std::string::npos);
    CHECK(out.find("\r") == std::string::npos);  // nothing redrawn without a terminal

    // A second load: bijstand feeds two tables; this database now has step times, so the time
    // left is known from the first line on.
    const std::string bij2 = f.dir.Write(
        "bij2.csv", BijstandCsv(std::vector<std::string>(people.begin(), people.begin() + 50)));
    r = Run("load" + common + " --description " + Policy("bijstandpersoonbus") + " --csv " + bij2);
    REQUIRE(r.exit_code == 0);
    const std::vector<std::string> derive = LinesStarting(r.output, "phase=derive ");
    CHECK(derive.size() >= 10);  // 5 steps: start and done
    for (const std::string& l : derive) {
      CAPTURE(l);
      CHECK(l.find("eta_s=unknown") == std::string::npos);
    }
    CHECK(DoneLine(r.output, "phase=derive table=d_ingezetene step=4/12 rows=") != "");
    CHECK(r.output.find("derived rebuilt=d_ingezetene,d_jeugdhulp_periode,d_gezinscontext,"
                        "d_reintegratie_koppel,d_reintegratie_start "
                        "unchanged=d_persoon,d_peildatum,d_zzp_jaar,d_dag\n") != std::string::npos);

    // validate: one pass per delivery, nothing written.
    r = Run("validate" + both);
    CHECK(r.exit_code == 0);
    CHECK(DoneLine(r.output, "phase=validate dataset=gbapersoontab step=1/2 rows=300 ") != "");
    CHECK(DoneLine(r.output, "phase=validate dataset=bijstandpersoonbus step=2/2 rows=100 ") != "");

    // rollback: the views switched back, the three tables bijstand feeds rebuilt, committed.
    r = Run("rollback --db " + f.options.database_path + " --state-dir " + f.options.state_dir);
    CHECK(r.exit_code == 0);
    CHECK(DoneLine(r.output, "phase=switch elapsed_s=") != "");
    CHECK(DoneLine(r.output, "phase=derive table=d_ingezetene step=4/12 rows=") != "");
    CHECK(DoneLine(r.output, "phase=commit elapsed_s=") != "");
    CHECK(r.output.find("derived rebuilt=d_ingezetene,d_jeugdhulp_periode,d_gezinscontext,"
                        "d_reintegratie_koppel,d_reintegratie_start") !=
          std::string::npos);
    CHECK(r.output.find("result=rolled_back version=2") != std::string::npos);
  }

  TEST_CASE("the printer redraws one line on a terminal and limits running lines otherwise") {
    Progress p;
    p.phase = "derive";
    p.subject = "d_ingezetene";
    p.step = 4;
    p.steps = 7;
    p.elapsed_s = 12.34;
    p.eta_s = 40.4;
    CHECK(ProgressPrinter::KeyValue(p) ==
          "phase=derive table=d_ingezetene step=4/7 elapsed_s=12.3 eta_s=40 state=running");
    p.rows = 123456;
    p.done = true;
    p.eta_s = -1;
    CHECK(ProgressPrinter::KeyValue(p) ==
          "phase=derive table=d_ingezetene step=4/7 rows=123456 elapsed_s=12.3 eta_s=unknown "
          "state=done");
    Progress insert;
    insert.phase = "insert";
    insert.subject = "bijstandpersoonbus";
    insert.rows = 1000000;
    insert.elapsed_s = 2;
    insert.eta_s = 75;
    CHECK(ProgressPrinter::KeyValue(insert) ==
          "phase=insert dataset=bijstandpersoonbus rows=1000000 elapsed_s=2.0 eta_s=75 "
          "state=running");
    CHECK(ProgressPrinter::Text(insert) ==
          "insert   bijstandpersoonbus  1,000,000 rows (500,000/s)  2 s, about 1 min 15 s left");

    auto render = [](bool terminal, const std::vector<Progress>& events) {
      std::FILE* f = std::tmpfile();
      REQUIRE(f != nullptr);
      {
        ProgressPrinter printer(f, terminal, 3600);
        for (const Progress& e : events) printer.Show(e);
      }
      std::rewind(f);
      std::string out;
      char buf[512];
      std::size_t n = 0;
      while ((n = std::fread(buf, 1, sizeof(buf), f)) > 0) out.append(buf, n);
      std::fclose(f);
      return out;
    };
    Progress running = insert;
    Progress done = insert;
    done.done = true;
    // Not a terminal: the first running event, none more within the interval, every done event.
    const std::string lines = render(false, {running, running, running, done});
    CHECK(lines == ProgressPrinter::KeyValue(running) + "\n" + ProgressPrinter::KeyValue(done) +
                       "\n");
    // A terminal: redrawn in place (carriage return, erase line); a done step keeps its line.
    const std::string tty = render(true, {running, running, done, running});
    CHECK(tty == "\r\033[K" + ProgressPrinter::Text(running) + "\r\033[K" +
                     ProgressPrinter::Text(done) + "\n" + "\r\033[K" +
                     ProgressPrinter::Text(running) + "\n");
  }
}

TEST_SUITE("Derived layer map") {
  const std::set<std::string> kRaw = {"gbapersoontab", "bijstandpersoonbus", "jgdhulpbus",
                                      "pin_dag"};

  TEST_CASE("the embedded derived.sql parses, and each dataset maps to the tables it feeds") {
    auto layer = EmbeddedDerivedLayer();
    REQUIRE_MESSAGE(layer.ok(), layer.status().message());
    CHECK(layer->Tables() == std::vector<std::string>{"d_persoon", "d_peildatum", "d_ingezetene",
                                                      "d_zzp_jaar", "d_jeugdhulp_periode",
                                                      "d_gezinscontext", "d_reintegratie_koppel",
                                                      "d_reintegratie_start", "d_dag"});
    using V = std::vector<std::string>;
    const V t6 = {"d_reintegratie_koppel", "d_reintegratie_start"};
    CHECK(layer->Affected({"gbapersoontab"}) ==
          V{"d_persoon", "d_ingezetene", "d_zzp_jaar", "d_jeugdhulp_periode", "d_gezinscontext",
            t6[0], t6[1]});
    CHECK(layer->Affected({"bijstandpersoonbus"}) ==
          V{"d_ingezetene", "d_jeugdhulp_periode", "d_gezinscontext", t6[0], t6[1]});
    CHECK(layer->Affected({"jgdhulpbus"}) ==
          V{"d_persoon", "d_ingezetene", "d_zzp_jaar", "d_jeugdhulp_periode", "d_gezinscontext",
            t6[0], t6[1]});
    CHECK(layer->Affected({"inpatab"}) == V{"d_zzp_jaar"});
    CHECK(layer->Affected({"kinderoudertab"}) == V{"d_gezinscontext"});
    CHECK(layer->Affected({"pin_dag"}) == V{"d_dag"});
    CHECK(layer->Affected({"srg_reintegratie"}) == t6);
    CHECK(layer->Affected({"gem_reintegratietraject"}) == t6);
    CHECK(layer->Affected({"secmbus"}) ==
          V{"d_ingezetene", "d_zzp_jaar", "d_jeugdhulp_periode", "d_gezinscontext", t6[0], t6[1]});
    // Helper steps run when a table being rebuilt reads them.
    std::vector<std::string> names;
    for (std::size_t i : layer->StepsFor({"d_zzp_jaar"})) names.push_back(layer->steps()[i].table);
    CHECK(names == V{"d_tmp_jaar", "d_zzp_jaar"});
  }

  TEST_CASE("a step that reads a table its marker does not name is refused") {
    const std::string ok =
        "-- header\n"
        "-- @derive d_a cost 1 reads gbapersoontab\n"
        "CREATE TABLE d_a (x); INSERT INTO d_a SELECT 1 FROM gbapersoontab;\n"
        "-- @derive temp d_t reads d_a\n"
        "CREATE TEMP TABLE d_t (x); INSERT INTO d_t SELECT x FROM d_a;\n"
        "-- @derive d_b reads d_t\n"
        "--   bijstandpersoonbus\n"
        "CREATE TABLE d_b (x); INSERT INTO d_b SELECT x FROM d_t JOIN bijstandpersoonbus;\n"
        "-- @end\nDROP TABLE d_t;\n";
    auto layer = ParseDerivedLayer(ok, kRaw);
    REQUIRE_MESSAGE(layer.ok(), layer.status().message());
    CHECK(layer->Affected({"bijstandpersoonbus"}) == std::vector<std::string>{"d_b"});
    CHECK(layer->Affected({"gbapersoontab"}) == std::vector<std::string>{"d_a", "d_b"});
    struct Bad {
      const char* what;
      std::string from, to;
    };
    const std::vector<Bad> bad = {
        {"undeclared raw table", "JOIN bijstandpersoonbus;", "JOIN bijstandpersoonbus JOIN jgdhulpbus;"},
        {"undeclared derived table", "SELECT x FROM d_t JOIN", "SELECT x FROM d_t JOIN d_a JOIN"},
        {"continuation dropped", "--   bijstandpersoonbus\n", ""},
        {"a later step", "SELECT 1 FROM gbapersoontab;", "SELECT 1 FROM gbapersoontab, d_b;"},
        {"unknown table in reads", "reads gbapersoontab", "reads gbapersoontab nosuchtable"},
        {"creates another table", "CREATE TABLE d_a (x)", "CREATE TABLE d_z (x)"},
        {"temp without TEMP", "CREATE TEMP TABLE d_t", "CREATE TABLE d_t"},
        {"no end marker", "-- @end\n", ""},
        {"SQL outside a step", "-- header\n", "-- header\nDELETE FROM gbapersoontab;\n"},
        {"bad cost", "cost 1", "cost x"},
    };
    for (const Bad& b : bad) {
      CAPTURE(b.what);
      std::string sql = ok;
      const std::size_t at = sql.find(b.from);
      REQUIRE(at != std::string::npos);
      sql.replace(at, b.from.size(), b.to);
      auto refused = ParseDerivedLayer(sql, kRaw);
      CHECK(refused.status().code() == absl::StatusCode::kInvalidArgument);
      MESSAGE(refused.status().message());
    }
  }
}

}  // namespace enclave::steward
