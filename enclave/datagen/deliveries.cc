// Writes the synthetic microdata as CSV deliveries with BSNs (see deliveries.h).
#include "enclave/datagen/deliveries.h"

#include <fcntl.h>
#include <sqlite3.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <memory>
#include <unordered_map>
#include <vector>

#include "enclave/base/file.h"
#include "enclave/crypto/pseudonymiser.h"
#include "enclave/datagen/pseudonym.h"

namespace enclave::datagen {
namespace {

struct DbCloser {
  void operator()(sqlite3* db) const { sqlite3_close_v2(db); }
};
struct StmtDeleter {
  void operator()(sqlite3_stmt* s) const { sqlite3_finalize(s); }
};
using StmtPtr = std::unique_ptr<sqlite3_stmt, StmtDeleter>;

struct Dataset {
  const char* name;
  bool municipal;
};
constexpr Dataset kDatasets[] = {
    {"gbapersoontab", false},          {"bijstandpersoonbus", true},
    {"srg_reintegratie", false},       {"gem_reintegratietraject", true},
    {"jgdhulpbus", true},
};

void AppendField(std::string* out, const char* text, int bytes) {
  const std::string_view v(text, static_cast<std::size_t>(bytes));
  if (v.find_first_of(",\"\r\n") == std::string_view::npos) {
    out->append(v);
    return;
  }
  out->push_back('"');
  for (char c : v) {
    if (c == '"') out->push_back('"');
    out->push_back(c);
  }
  out->push_back('"');
}

absl::Status WriteFile(const std::string& path, const std::string& text, mode_t mode) {
  if (!base::WriteFileAtomically(path, text, mode).ok()) {
    return absl::UnavailableError("cannot write " + path);
  }
  return absl::OkStatus();
}

// A spelling of a canonical BSN as municipal systems produce: leading zeros dropped, or a space.
std::string Spelling(const std::string& bsn, std::uint64_t row) {
  if (row % 10 != 3) return bsn;
  if (bsn[0] == '0') return bsn.substr(bsn.find_first_not_of('0'));
  return bsn.substr(0, 4) + " " + bsn.substr(4);
}

}  // namespace

absl::Status WriteDeliveries(const std::string& database_path, std::uint64_t seed,
                             const std::string& out_dir) {
  sqlite3* raw = nullptr;
  if (sqlite3_open_v2(database_path.c_str(), &raw, SQLITE_OPEN_READONLY, nullptr) != SQLITE_OK) {
    sqlite3_close_v2(raw);
    return absl::UnavailableError("cannot open the generated database");
  }
  std::unique_ptr<sqlite3, DbCloser> db(raw);
  auto prepare = [&](const std::string& sql) -> absl::StatusOr<StmtPtr> {
    sqlite3_stmt* s = nullptr;
    if (sqlite3_prepare_v2(db.get(), sql.c_str(), -1, &s, nullptr) != SQLITE_OK) {
      sqlite3_finalize(s);
      return absl::UnavailableError("cannot read the generated database: " +
                                    std::string(sqlite3_errmsg(db.get())));
    }
    return StmtPtr(s);
  };
  // rinpersoon → BSN for every person of the register.
  std::unordered_map<std::string, std::string> bsn_of;
  std::size_t persons = 0;
  {
    absl::StatusOr<StmtPtr> count = prepare("SELECT count(*) FROM gbapersoontab");
    if (!count.ok()) return count.status();
    if (sqlite3_step(count->get()) == SQLITE_ROW) {
      persons = static_cast<std::size_t>(sqlite3_column_int64(count->get(), 0));
    }
    absl::StatusOr<StmtPtr> rins = prepare("SELECT rinpersoon FROM gbapersoontab");
    if (!rins.ok()) return rins.status();
    std::unordered_map<std::string, std::string> wanted;
    while (sqlite3_step(rins->get()) == SQLITE_ROW) {
      wanted.emplace(reinterpret_cast<const char*>(sqlite3_column_text(rins->get(), 0)), "");
    }
    absl::StatusOr<std::unique_ptr<crypto::Pseudonymiser>> pseudonymiser =
        crypto::Pseudonymiser::FromKey(SyntheticKeyFromSeed(seed));
    if (!pseudonymiser.ok()) return pseudonymiser.status();
    BsnSource source(seed);
    std::string rin;
    for (std::size_t i = 0; bsn_of.size() < wanted.size() && i < 2 * persons + 1000; ++i) {
      std::string bsn = source.Next();
      (*pseudonymiser)->Pseudonym(bsn, &rin);
      if (wanted.count(rin) != 0) bsn_of.emplace(rin, std::move(bsn));
    }
    if (bsn_of.size() != wanted.size()) {
      return absl::InternalError("the database's persons do not match this seed's BSNs");
    }
  }
  std::error_code ec;
  std::filesystem::create_directories(std::filesystem::path(out_dir) / "bad", ec);
  if (ec) return absl::UnavailableError("cannot create " + out_dir);
  ::chmod(out_dir.c_str(), 0700);

  std::string truth;
  std::string bijstand_head;  // the first rows of the bijstand delivery, for the bad delivery
  std::string first_bijstand_row;
  for (const Dataset& d : kDatasets) {
    absl::StatusOr<StmtPtr> stmt = prepare(std::string("SELECT * FROM ") + d.name + " ORDER BY rowid");
    if (!stmt.ok()) return stmt.status();
    sqlite3_stmt* s = stmt->get();
    const int n = sqlite3_column_count(s);
    int rin_col = -1;
    std::string csv = "bsn";
    std::vector<int> cols;
    for (int i = 0; i < n; ++i) {
      const std::string name = sqlite3_column_name(s, i);
      if (name == "rinpersoon") rin_col = i;
      if (name == "rinpersoon" || name == "rinpersoons") continue;
      cols.push_back(i);
      csv += "," + name;
    }
    csv += "\n";
    if (rin_col < 0) return absl::InternalError(std::string("no rinpersoon in ") + d.name);
    std::uint64_t rows = 0;
    std::uint64_t linked = 0;
    while (sqlite3_step(s) == SQLITE_ROW) {
      const std::string rin = reinterpret_cast<const char*>(sqlite3_column_text(s, rin_col));
      auto it = bsn_of.find(rin);
      if (it == bsn_of.end()) return absl::InternalError("a person without a BSN");
      ++linked;
      const std::size_t line_start = csv.size();
      csv += d.municipal ? Spelling(it->second, rows) : it->second;
      for (int c : cols) {
        csv.push_back(',');
        if (sqlite3_column_type(s, c) == SQLITE_NULL) continue;
        AppendField(&csv, reinterpret_cast<const char*>(sqlite3_column_text(s, c)),
                    sqlite3_column_bytes(s, c));
      }
      csv.push_back('\n');
      ++rows;
      if (std::string(d.name) == "bijstandpersoonbus" && rows <= 20) {
        if (rows == 1) first_bijstand_row = csv.substr(line_start);
        bijstand_head.append(csv, line_start, std::string::npos);
      }
    }
    if (std::string(d.name) == "bijstandpersoonbus") {
      bijstand_head.insert(0, csv.substr(0, csv.find('\n') + 1));
    }
    const std::string path = (std::filesystem::path(out_dir) / (std::string(d.name) + ".csv")).string();
    if (absl::Status st = WriteFile(path, csv, 0600); !st.ok()) return st;
    truth += std::string("delivery.") + d.name + ".records " + std::to_string(rows) + "\n";
    truth += std::string("delivery.") + d.name + ".linked " + std::to_string(linked) + "\n";
    truth += std::string("delivery.") + d.name + ".not_in_register 0\n";
  }
  // The bad delivery: 20 good rows (lines 2-21), then one error of each kind, one per line.
  if (first_bijstand_row.empty()) return absl::InternalError("no bijstand rows to build on");
  std::string bad = bijstand_head;
  const std::size_t comma = first_bijstand_row.find(',');
  const std::string bsn = first_bijstand_row.substr(0, comma);
  std::uint64_t line = 22;
  auto add = [&](const std::string& kind, const std::string& row) {
    bad += row;
    truth += "bad.bijstandpersoonbus." + kind + " " + std::to_string(line++) + "\n";
  };
  const std::string good_tail = ",persoon1,ALG,20200101,20991231,alleenstaand,0,\n";
  add("column_count", bsn + ",BAD-1,persoon1,ALG\n");
  add("encoding", bsn + ",BAD-2\xff" + good_tail);
  add("quoting", bsn + ",\"BAD\"-3" + good_tail);
  add("type", bsn + ",BAD-4,persoon1,ALG,20200231,20991231,alleenstaand,0,\n");
  add("domain", bsn + ",BAD-5,persoon1,XYZ,20200101,20991231,alleenstaand,0,\n");
  add("missing", bsn + ",BAD-6,persoon1,ALG,,20991231,alleenstaand,0,\n");
  std::string wrong = bsn;  // one digit changed: always fails the 11-check
  wrong[4] = wrong[4] == '9' ? '0' : static_cast<char>(wrong[4] + 1);
  add("invalid_bsn", wrong + ",BAD-7" + good_tail);
  add("duplicate_key", first_bijstand_row);
  if (absl::Status st = WriteFile((std::filesystem::path(out_dir) / "bad" /
                                   "bijstandpersoonbus.csv").string(), bad, 0600);
      !st.ok()) {
    return st;
  }
  const std::string key = SyntheticKeyFromSeed(seed);
  if (absl::Status st = WriteFile((std::filesystem::path(out_dir) / "pseudonym.key").string(), key,
                                  0600);
      !st.ok()) {
    return st;
  }
  return WriteFile((std::filesystem::path(out_dir) / "truth.txt").string(), truth, 0600);
}

}  // namespace enclave::datagen
