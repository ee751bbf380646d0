#include "tests/integration/sqlite_truth.h"

#include <sqlite3.h>

#include <algorithm>
#include <memory>

namespace enclave::testing {
namespace {

struct DbCloser {
  void operator()(sqlite3* db) const { sqlite3_close(db); }
};
struct StmtCloser {
  void operator()(sqlite3_stmt* s) const { sqlite3_finalize(s); }
};

std::string Quote(const std::string& name) { return "\"" + name + "\""; }

}  // namespace

absl::StatusOr<CellCounts> IndependentCounts(const std::string& db_path,
                                             const templates::BoundQuery& q,
                                             const std::string& flag) {
  sqlite3* raw = nullptr;
  if (sqlite3_open_v2(db_path.c_str(), &raw, SQLITE_OPEN_READONLY, nullptr) != SQLITE_OK) {
    sqlite3_close(raw);
    return absl::UnavailableError("cannot open the database");
  }
  std::unique_ptr<sqlite3, DbCloser> db(raw);
  std::string inner = q.tmpl->sql;
  while (!inner.empty() && (inner.back() == ';' || inner.back() == ' ' || inner.back() == '\n')) {
    inner.pop_back();
  }
  CellCounts out;
  const std::size_t d = q.dimensions.size();
  for (std::uint32_t mask = 0; mask < (1u << d); ++mask) {
    std::string cols;
    for (std::size_t i = 0; i < d; ++i) {
      if ((mask & (1u << i)) == 0) continue;
      if (!cols.empty()) cols += ", ";
      cols += Quote(q.dimensions[i]->column);
    }
    std::string sql = "SELECT " + (cols.empty() ? std::string() : cols + ", ") +
                      "COUNT(DISTINCT " + Quote(q.tmpl->unit_column) + ") FROM (" + inner + ")" +
                      (flag.empty() ? "" : " WHERE " + Quote(flag) + " = 1") +
                      (cols.empty() ? "" : " GROUP BY " + cols);
    sqlite3_stmt* raw_stmt = nullptr;
    if (sqlite3_prepare_v2(db.get(), sql.c_str(), -1, &raw_stmt, nullptr) != SQLITE_OK) {
      return absl::InternalError(std::string("prepare: ") + sqlite3_errmsg(db.get()));
    }
    std::unique_ptr<sqlite3_stmt, StmtCloser> stmt(raw_stmt);
    for (const auto& p : q.params) {
      int idx = sqlite3_bind_parameter_index(stmt.get(), (":" + p.name).c_str());
      if (idx == 0) continue;
      if (const auto* i = std::get_if<std::int64_t>(&p.value)) {
        sqlite3_bind_int64(stmt.get(), idx, *i);
      } else {
        const auto& s = std::get<std::string>(p.value);
        sqlite3_bind_text(stmt.get(), idx, s.c_str(), -1, SQLITE_TRANSIENT);
      }
    }
    int rc;
    while ((rc = sqlite3_step(stmt.get())) == SQLITE_ROW) {
      std::vector<std::uint32_t> coord(d);
      int col = 0;
      for (std::size_t i = 0; i < d; ++i) {
        const auto& codes = q.dimensions[i]->codes.codes;
        if ((mask & (1u << i)) == 0) {
          coord[i] = static_cast<std::uint32_t>(codes.size());
          continue;
        }
        const unsigned char* v = sqlite3_column_text(stmt.get(), col++);
        const std::string value = v == nullptr ? "" : reinterpret_cast<const char*>(v);
        auto it = std::find_if(codes.begin(), codes.end(),
                               [&](const templates::Code& c) { return c.code == value; });
        if (it == codes.end()) return absl::InternalError("value outside the code list");
        coord[i] = static_cast<std::uint32_t>(it - codes.begin());
      }
      const std::int64_t n = sqlite3_column_int64(stmt.get(), col);
      if (n > 0) out[coord] = n;
    }
    if (rc != SQLITE_DONE) return absl::InternalError(sqlite3_errmsg(db.get()));
  }
  return out;
}

}  // namespace enclave::testing
