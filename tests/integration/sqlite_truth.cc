#include "tests/integration/sqlite_truth.h"

#include <sqlite3.h>

#include <algorithm>
#include <memory>
#include <set>
#include <string>
#include <variant>
#include <vector>

namespace enclave::testing {
namespace {

struct DbCloser {
  void operator()(sqlite3* db) const { sqlite3_close(db); }
};
struct StmtCloser {
  void operator()(sqlite3_stmt* s) const { sqlite3_finalize(s); }
};

std::string Quote(const std::string& name) { return "\"" + name + "\""; }

void BindParams(sqlite3_stmt* stmt, const templates::BoundQuery& q) {
  for (const auto& p : q.params) {
    int idx = sqlite3_bind_parameter_index(stmt, (":" + p.name).c_str());
    if (idx == 0) continue;
    if (const auto* i = std::get_if<std::int64_t>(&p.value)) {
      sqlite3_bind_int64(stmt, idx, *i);
    } else {
      const auto& s = std::get<std::string>(p.value);
      sqlite3_bind_text(stmt, idx, s.c_str(), -1, SQLITE_TRANSIENT);
    }
  }
}

std::string InnerSql(const templates::BoundQuery& q) {
  std::string inner = q.tmpl->sql;
  while (!inner.empty() && (inner.back() == ';' || inner.back() == ' ' || inner.back() == '\n')) {
    inner.pop_back();
  }
  return inner;
}

}  // namespace

absl::StatusOr<CellUnitSets> IndependentCellUnits(const std::string& db_path,
                                                  const templates::BoundQuery& q,
                                                  const std::string& flag) {
  sqlite3* raw = nullptr;
  if (sqlite3_open_v2(db_path.c_str(), &raw, SQLITE_OPEN_READONLY, nullptr) != SQLITE_OK) {
    sqlite3_close(raw);
    return absl::UnavailableError("cannot open the database");
  }
  std::unique_ptr<sqlite3, DbCloser> db(raw);
  const std::size_t d = q.dimensions.size();
  std::string cols = Quote(q.tmpl->unit_column);
  for (std::size_t i = 0; i < d; ++i) cols += ", " + Quote(q.dimensions[i]->column);
  cols += ", " + (flag.empty() ? std::string("1") : Quote(flag));
  const std::string sql = "SELECT " + cols + " FROM (" + InnerSql(q) + ")";
  sqlite3_stmt* raw_stmt = nullptr;
  if (sqlite3_prepare_v2(db.get(), sql.c_str(), -1, &raw_stmt, nullptr) != SQLITE_OK) {
    return absl::InternalError(std::string("prepare: ") + sqlite3_errmsg(db.get()));
  }
  std::unique_ptr<sqlite3_stmt, StmtCloser> stmt(raw_stmt);
  BindParams(stmt.get(), q);
  // unit -> (its inner cells, flagged anywhere)
  std::map<std::string, std::pair<std::set<std::vector<std::uint32_t>>, bool>> units;
  int rc;
  while ((rc = sqlite3_step(stmt.get())) == SQLITE_ROW) {
    const unsigned char* u = sqlite3_column_text(stmt.get(), 0);
    auto& entry = units[u == nullptr ? "" : reinterpret_cast<const char*>(u)];
    std::vector<std::uint32_t> coord(d);
    for (std::size_t i = 0; i < d; ++i) {
      const auto& codes = q.dimensions[i]->codes.codes;
      const unsigned char* v = sqlite3_column_text(stmt.get(), static_cast<int>(i) + 1);
      const std::string value = v == nullptr ? "" : reinterpret_cast<const char*>(v);
      auto it = std::find_if(codes.begin(), codes.end(),
                             [&](const templates::Code& c) { return c.code == value; });
      if (it == codes.end()) return absl::InternalError("value outside the code list");
      coord[i] = static_cast<std::uint32_t>(it - codes.begin());
    }
    entry.first.insert(coord);
    entry.second = entry.second || sqlite3_column_int64(stmt.get(), static_cast<int>(d) + 1) != 0;
  }
  if (rc != SQLITE_DONE) return absl::InternalError(sqlite3_errmsg(db.get()));
  CellUnitSets out;
  for (const auto& [unit, info] : units) {
    std::set<std::vector<std::uint32_t>> cells;
    for (const auto& inner : info.first) {
      for (std::uint32_t mask = 0; mask < (1u << d); ++mask) {
        std::vector<std::uint32_t> c = inner;
        for (std::size_t i = 0; i < d; ++i) {
          if ((mask & (1u << i)) != 0) {
            c[i] = static_cast<std::uint32_t>(q.dimensions[i]->codes.codes.size());
          }
        }
        cells.insert(c);
      }
    }
    for (const auto& c : cells) {
      CellUnitSet& cell = out[c];
      cell.units.insert(unit);
      if (info.second) ++cell.flagged;
    }
  }
  return out;
}

absl::StatusOr<CellCounts> IndependentCounts(const std::string& db_path,
                                             const templates::BoundQuery& q,
                                             const std::string& flag) {
  sqlite3* raw = nullptr;
  if (sqlite3_open_v2(db_path.c_str(), &raw, SQLITE_OPEN_READONLY, nullptr) != SQLITE_OK) {
    sqlite3_close(raw);
    return absl::UnavailableError("cannot open the database");
  }
  std::unique_ptr<sqlite3, DbCloser> db(raw);
  const std::string inner = InnerSql(q);
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
    BindParams(stmt.get(), q);
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

absl::StatusOr<UnitCodes> UnitDimensionCodes(const std::string& db_path,
                                             const templates::BoundQuery& q) {
  sqlite3* raw = nullptr;
  if (sqlite3_open_v2(db_path.c_str(), &raw, SQLITE_OPEN_READONLY, nullptr) != SQLITE_OK) {
    sqlite3_close(raw);
    return absl::UnavailableError("cannot open the database");
  }
  std::unique_ptr<sqlite3, DbCloser> db(raw);
  std::string cols = Quote(q.tmpl->unit_column);
  for (const auto& d : q.tmpl->dimensions) cols += ", " + Quote(d.column);
  const std::string sql = "SELECT DISTINCT " + cols + " FROM (" + InnerSql(q) + ")";
  sqlite3_stmt* raw_stmt = nullptr;
  if (sqlite3_prepare_v2(db.get(), sql.c_str(), -1, &raw_stmt, nullptr) != SQLITE_OK) {
    return absl::InternalError(std::string("prepare: ") + sqlite3_errmsg(db.get()));
  }
  std::unique_ptr<sqlite3_stmt, StmtCloser> stmt(raw_stmt);
  BindParams(stmt.get(), q);
  UnitCodes out;
  int rc;
  while ((rc = sqlite3_step(stmt.get())) == SQLITE_ROW) {
    auto text = [&](int col) {
      const unsigned char* v = sqlite3_column_text(stmt.get(), col);
      return v == nullptr ? std::string() : std::string(reinterpret_cast<const char*>(v));
    };
    std::vector<std::string> codes;
    for (std::size_t d = 0; d < q.tmpl->dimensions.size(); ++d) {
      codes.push_back(text(static_cast<int>(d) + 1));
    }
    auto [it, fresh] = out.emplace(text(0), codes);
    if (!fresh && it->second != codes) return absl::InternalError("a unit lies in two cells");
  }
  if (rc != SQLITE_DONE) return absl::InternalError(sqlite3_errmsg(db.get()));
  return out;
}

namespace {

// Window days as in T10 v2 (date() modifiers), baseline days 7..28 or 364 days earlier; per
// vestiging of the panel its weighted sums (NULL: no PIN row in that part).
constexpr char kEventImpactSql[] = R"sql(
WITH RECURSIVE
ev AS (
  SELECT date(substr(start, 1, 4) || '-' || substr(start, 5, 2) || '-' || substr(start, 7, 2)) AS s,
         date(substr(eind, 1, 4) || '-' || substr(eind, 5, 2) || '-' || substr(eind, 7, 2)) AS e
  FROM evenement WHERE event_id = ?1
),
win AS (
  SELECT CASE ?2 WHEN 'event_week' THEN date(s, 'weekday 0', '-6 days')
                 WHEN 'week_after' THEN date(e, '+1 day') ELSE s END AS ws,
         CASE ?2 WHEN 'event_week' THEN date(s, 'weekday 0')
                 WHEN 'week_after' THEN date(e, '+7 days') ELSE e END AS we
  FROM ev
),
dagen(d) AS (SELECT ws FROM win UNION ALL SELECT date(d, '+1 day') FROM dagen, win WHERE d < we),
weken(k) AS (VALUES (1), (2), (3), (4)),
periode(datum, in_window, gewicht) AS (
  SELECT replace(d, '-', ''), 1, CASE ?3 WHEN 'same_week_prev_year' THEN 1 ELSE 4 END FROM dagen
  UNION ALL
  SELECT replace(date(d, '-' || (7 * k) || ' days'), '-', ''), 0, 1 FROM dagen, weken
  WHERE ?3 = 'same_weekdays_prev_4_weeks'
  UNION ALL
  SELECT replace(date(d, '-364 days'), '-', ''), 0, 1 FROM dagen WHERE ?3 = 'same_week_prev_year'
),
per AS (
  SELECT v.winkelgebied AS gebied, r.sector_group AS sector,
         (SELECT sum(CASE ?4 WHEN 'transacties' THEN pd.n_transacties ELSE pd.omzet_cent END * t.gewicht)
          FROM periode t JOIN pin_dag pd ON pd.datum = t.datum
          WHERE pd.vestiging_id = v.vestiging_id AND t.in_window = 1) AS w,
         (SELECT sum(CASE ?4 WHEN 'transacties' THEN pd.n_transacties ELSE pd.omzet_cent END * t.gewicht)
          FROM periode t JOIN pin_dag pd ON pd.datum = t.datum
          WHERE pd.vestiging_id = v.vestiging_id AND t.in_window = 0) AS b
  FROM vestiging v JOIN ref_sbi r ON r.sbi_code = v.sbi_code
  WHERE r.sector_group IN ('horeca_restaurant', 'horeca_cafe', 'retail_food', 'retail_nonfood')
    AND v.vestiging_id IN (SELECT vestiging_id FROM pin_dag)
)
SELECT gebied, sector, count(*), count(w), count(b), coalesce(sum(w), 0), coalesce(sum(b), 0)
FROM per GROUP BY gebied, sector
)sql";

}  // namespace

absl::StatusOr<PinTruth> EventImpactTruth(const std::string& db_path, const std::string& event_id,
                                          const std::string& window, const std::string& baseline,
                                          const std::string& measure) {
  sqlite3* raw = nullptr;
  if (sqlite3_open_v2(db_path.c_str(), &raw, SQLITE_OPEN_READONLY, nullptr) != SQLITE_OK) {
    sqlite3_close(raw);
    return absl::UnavailableError("cannot open the database");
  }
  std::unique_ptr<sqlite3, DbCloser> db(raw);
  sqlite3_stmt* raw_stmt = nullptr;
  if (sqlite3_prepare_v2(db.get(), kEventImpactSql, -1, &raw_stmt, nullptr) != SQLITE_OK) {
    return absl::InternalError(std::string("prepare: ") + sqlite3_errmsg(db.get()));
  }
  std::unique_ptr<sqlite3_stmt, StmtCloser> stmt(raw_stmt);
  const std::string* values[] = {&event_id, &window, &baseline, &measure};
  for (int i = 0; i < 4; ++i) {
    sqlite3_bind_text(stmt.get(), i + 1, values[i]->c_str(), -1, SQLITE_TRANSIENT);
  }
  PinTruth out;
  int rc;
  while ((rc = sqlite3_step(stmt.get())) == SQLITE_ROW) {
    auto text = [&](int col) {
      const unsigned char* v = sqlite3_column_text(stmt.get(), col);
      return v == nullptr ? std::string() : std::string(reinterpret_cast<const char*>(v));
    };
    PinCellTruth& c = out[{text(0), text(1)}];
    c.panel = sqlite3_column_int64(stmt.get(), 2);
    c.window_units = sqlite3_column_int64(stmt.get(), 3);
    c.baseline_units = sqlite3_column_int64(stmt.get(), 4);
    c.window_sum = sqlite3_column_int64(stmt.get(), 5);
    c.baseline_sum = sqlite3_column_int64(stmt.get(), 6);
  }
  if (rc != SQLITE_DONE) return absl::InternalError(sqlite3_errmsg(db.get()));
  return out;
}

namespace {

// Runs `sql` with the text parameters ?1, ?2, ... and hands every row to `row`.
template <typename RowFn>
absl::Status RunPlainSql(const std::string& db_path, const char* sql,
                         const std::vector<std::string>& params, RowFn row) {
  sqlite3* raw = nullptr;
  if (sqlite3_open_v2(db_path.c_str(), &raw, SQLITE_OPEN_READONLY, nullptr) != SQLITE_OK) {
    sqlite3_close(raw);
    return absl::UnavailableError("cannot open the database");
  }
  std::unique_ptr<sqlite3, DbCloser> db(raw);
  sqlite3_stmt* raw_stmt = nullptr;
  if (sqlite3_prepare_v2(db.get(), sql, -1, &raw_stmt, nullptr) != SQLITE_OK) {
    return absl::InternalError(std::string("prepare: ") + sqlite3_errmsg(db.get()));
  }
  std::unique_ptr<sqlite3_stmt, StmtCloser> stmt(raw_stmt);
  for (std::size_t i = 0; i < params.size(); ++i) {
    sqlite3_bind_text(stmt.get(), static_cast<int>(i) + 1, params[i].c_str(), -1, SQLITE_TRANSIENT);
  }
  int rc;
  while ((rc = sqlite3_step(stmt.get())) == SQLITE_ROW) row(stmt.get());
  if (rc != SQLITE_DONE) return absl::InternalError(sqlite3_errmsg(db.get()));
  return absl::OkStatus();
}

std::string ColumnText(sqlite3_stmt* stmt, int col) {
  const unsigned char* v = sqlite3_column_text(stmt, col);
  return v == nullptr ? std::string() : std::string(reinterpret_cast<const char*>(v));
}

// ?1 = van, ?2 = tot. ALG spells of registered persons overlapping the period.
constexpr char kBijstandFlowSql[] = R"sql(
WITH s AS (
  SELECT b.rinpersoon AS rinpersoon, b.aanvang AS aanvang, b.einde AS einde
  FROM bijstandpersoonbus b
  WHERE b.statistiekcode = 'ALG' AND b.aanvang <= ?2 AND b.einde >= ?1
    AND b.rinpersoon IN (SELECT rinpersoon FROM gbapersoontab)
)
SELECT (SELECT count(DISTINCT rinpersoon) FROM s WHERE aanvang < ?1),
       (SELECT count(DISTINCT rinpersoon) FROM s WHERE aanvang >= ?1),
       (SELECT count(DISTINCT rinpersoon) FROM s WHERE einde <= ?2),
       (SELECT count(DISTINCT rinpersoon) FROM s WHERE aanvang < ?1 AND einde <= ?2)
)sql";

constexpr char kBijstandReasonSql[] = R"sql(
SELECT (SELECT x.uitstroomreden FROM bijstandpersoonbus x
        WHERE x.rinpersoon = l.rinpersoon AND x.statistiekcode = 'ALG'
          AND x.einde BETWEEN ?1 AND ?2
        ORDER BY x.einde, x.aanvang LIMIT 1) AS reden, count(*)
FROM (SELECT DISTINCT b.rinpersoon AS rinpersoon FROM bijstandpersoonbus b
      WHERE b.statistiekcode = 'ALG' AND b.einde BETWEEN ?1 AND ?2
        AND b.rinpersoon IN (SELECT rinpersoon FROM gbapersoontab)) l
GROUP BY 1
)sql";

// ?1 = peildatum.
constexpr char kResidentSql[] = R"sql(
SELECT v.buurt_code,
       CASE p.gbageslacht WHEN '1' THEN 'man' ELSE 'vrouw' END,
       CAST(substr(?1, 1, 4) AS INTEGER) - p.gbageboortejaar
         - (p.gbageboortemaand > CAST(substr(?1, 5, 2) AS INTEGER)),
       count(DISTINCT p.rinpersoon)
FROM gbaadresobjectbus a
JOIN vslgwbtab v ON v.rinobjectnummer = a.rinobjectnummer
JOIN gbapersoontab p ON p.rinpersoon = a.rinpersoon
WHERE v.gem_code = 'GM1916' AND a.gbadatumaanvangadreshouding <= ?1
  AND a.gbadatumeindeadreshouding >= ?1
  AND (p.gbadatumoverlijden IS NULL OR p.gbadatumoverlijden > ?1)
GROUP BY 1, 2, 3
)sql";

// ?1 = year (text). One row per child: the four contexts and youth care.
constexpr char kFamilyContextSql[] = R"sql(
WITH kind AS (
  SELECT DISTINCT p.rinpersoon AS rin
  FROM gbaadresobjectbus a
  JOIN vslgwbtab v ON v.rinobjectnummer = a.rinobjectnummer
  JOIN gbapersoontab p ON p.rinpersoon = a.rinpersoon
  WHERE v.gem_code = 'GM1916' AND a.gbadatumaanvangadreshouding <= ?1 || '1231'
    AND a.gbadatumeindeadreshouding >= ?1 || '1231'
    AND (p.gbadatumoverlijden IS NULL OR p.gbadatumoverlijden > ?1 || '1231')
    AND CAST(?1 AS INTEGER) - p.gbageboortejaar BETWEEN 0 AND 17
)
SELECT
  EXISTS (SELECT 1 FROM kinderoudertab ko JOIN bijstandpersoonbus b
            ON b.rinpersoon = ko.rinpersoonpa OR b.rinpersoon = ko.rinpersoonma
          WHERE ko.rinpersoon = k.rin AND b.statistiekcode = 'ALG'
            AND b.aanvang <= ?1 || '1231' AND b.einde >= ?1 || '0101'),
  EXISTS (SELECT 1 FROM gbahuishoudensbus h
          WHERE h.rinpersoon = k.rin AND h.typhh = 'eenouder'
            AND h.datumaanvanghh <= ?1 || '1231' AND h.datumeindehh >= ?1 || '1231'),
  (SELECT (i.inhp100hgest + 19) / 20 FROM koppelpersoonhuishouden c
   JOIN inhatab i ON i.rinpersoonhkw = c.rinpersoonhkw AND i.jaar = c.jaar
   WHERE c.rinpersoon = k.rin AND c.jaar = CAST(?1 AS INTEGER) AND i.inhp100hgest BETWEEN 1 AND 100),
  (SELECT max(CASE o.opl_niveau3 WHEN 'hoog' THEN 3 WHEN 'middelbaar' THEN 2 WHEN 'laag' THEN 1
                                 ELSE 0 END)
   FROM kinderoudertab ko JOIN hoogsteopltab o
     ON o.rinpersoon = ko.rinpersoonpa OR o.rinpersoon = ko.rinpersoonma
   WHERE ko.rinpersoon = k.rin),
  EXISTS (SELECT 1 FROM jgdhulpbus j
          WHERE j.rinpersoon = k.rin AND j.begin <= ?1 || '1231' AND j.einde >= ?1 || '0101')
FROM kind k
)sql";

}  // namespace

absl::StatusOr<FamilyContextTruth> FamilyContext(const std::string& db_path, int year) {
  FamilyContextTruth out;
  absl::Status s =
      RunPlainSql(db_path, kFamilyContextSql, {std::to_string(year)}, [&](sqlite3_stmt* st) {
        const bool jh = sqlite3_column_int64(st, 4) != 0;
        auto add = [&](const std::string& dim, const std::string& code) {
          ChildCount& c = out[{dim, code}];
          ++c.children;
          if (jh) ++c.jeugdhulp;
        };
        add("", "");
        add("ouder_in_bijstand", sqlite3_column_int64(st, 0) != 0 ? "ja" : "nee");
        add("eenoudergezin", sqlite3_column_int64(st, 1) != 0 ? "ja" : "nee");
        add("huishoudinkomen_kwintiel",
            sqlite3_column_type(st, 2) == SQLITE_NULL
                ? std::string("onbekend")
                : "kwintiel_" + std::to_string(sqlite3_column_int64(st, 2)));
        static const char* kLevel[] = {"onbekend", "laag", "middelbaar", "hoog"};
        const std::int64_t level =
            sqlite3_column_type(st, 3) == SQLITE_NULL ? 0 : sqlite3_column_int64(st, 3);
        add("ouder_opleidingsniveau", kLevel[level >= 0 && level <= 3 ? level : 0]);
      });
  if (!s.ok()) return s;
  return out;
}

absl::StatusOr<BijstandFlowTruth> BijstandFlows(const std::string& db_path, const std::string& van,
                                                const std::string& tot) {
  BijstandFlowTruth out;
  absl::Status s = RunPlainSql(db_path, kBijstandFlowSql, {van, tot}, [&](sqlite3_stmt* st) {
    out.stand_begin = sqlite3_column_int64(st, 0);
    out.instroom = sqlite3_column_int64(st, 1);
    out.uitstroom = sqlite3_column_int64(st, 2);
    out.uitstroom_uit_stand = sqlite3_column_int64(st, 3);
  });
  if (!s.ok()) return s;
  s = RunPlainSql(db_path, kBijstandReasonSql, {van, tot}, [&](sqlite3_stmt* st) {
    out.uitstroom_by_reason[ColumnText(st, 0)] += sqlite3_column_int64(st, 1);
  });
  if (!s.ok()) return s;
  return out;
}

absl::StatusOr<ResidentTruth> Residents(const std::string& db_path, const std::string& peildatum) {
  ResidentTruth out;
  absl::Status s = RunPlainSql(db_path, kResidentSql, {peildatum}, [&](sqlite3_stmt* st) {
    out[ResidentKey{ColumnText(st, 0), ColumnText(st, 1), sqlite3_column_int64(st, 2)}] +=
        sqlite3_column_int64(st, 3);
  });
  if (!s.ok()) return s;
  return out;
}

absl::StatusOr<std::map<std::string, ArmTruth>> MatchedArms(
    const std::string& db_path, const std::string& sql,
    const std::map<std::string, std::string>& params, const std::string& subgroup_column) {
  sqlite3* raw = nullptr;
  if (sqlite3_open_v2(db_path.c_str(), &raw, SQLITE_OPEN_READONLY, nullptr) != SQLITE_OK) {
    sqlite3_close(raw);
    return absl::UnavailableError("cannot open the database");
  }
  std::unique_ptr<sqlite3, DbCloser> db(raw);
  sqlite3_stmt* raw_stmt = nullptr;
  if (sqlite3_prepare_v2(db.get(), sql.c_str(), -1, &raw_stmt, nullptr) != SQLITE_OK) {
    return absl::InternalError(std::string("prepare: ") + sqlite3_errmsg(db.get()));
  }
  std::unique_ptr<sqlite3_stmt, StmtCloser> stmt(raw_stmt);
  for (const auto& [name, value] : params) {
    const int index = sqlite3_bind_parameter_index(stmt.get(), (":" + name).c_str());
    if (index > 0) sqlite3_bind_text(stmt.get(), index, value.c_str(), -1, SQLITE_TRANSIENT);
  }
  int column = -1, deelnemer = -1, deelnemer_uitkomst = -1, controle = -1, controle_uitkomst = -1;
  for (int c = 0; c < sqlite3_column_count(stmt.get()); ++c) {
    const std::string name = sqlite3_column_name(stmt.get(), c);
    if (name == subgroup_column) column = c;
    if (name == "deelnemer") deelnemer = c;
    if (name == "deelnemer_uitkomst") deelnemer_uitkomst = c;
    if (name == "controle") controle = c;
    if (name == "controle_uitkomst") controle_uitkomst = c;
  }
  if (deelnemer < 0 || deelnemer_uitkomst < 0 || controle < 0 || controle_uitkomst < 0 ||
      (!subgroup_column.empty() && column < 0)) {
    return absl::InternalError("the template's SQL lacks an expected column");
  }
  std::map<std::string, ArmTruth> out;
  std::map<std::string, std::set<std::int64_t>> persons;
  int rc;
  while ((rc = sqlite3_step(stmt.get())) == SQLITE_ROW) {
    const std::string group = column < 0 ? std::string() : ColumnText(stmt.get(), column);
    ArmTruth& t = out[group];
    t.deelnemers += sqlite3_column_int64(stmt.get(), deelnemer);
    t.deelnemers_uitkomst += sqlite3_column_int64(stmt.get(), deelnemer_uitkomst);
    t.controles += sqlite3_column_int64(stmt.get(), controle);
    t.controles_uitkomst += sqlite3_column_int64(stmt.get(), controle_uitkomst);
    ++t.rows;
    // A person may be in both arms (a control before starting a provision): distinct per arm.
    persons[group].insert(sqlite3_column_int64(stmt.get(), 0) * 2 +
                          sqlite3_column_int64(stmt.get(), deelnemer));
  }
  if (rc != SQLITE_DONE) return absl::InternalError(sqlite3_errmsg(db.get()));
  for (auto& [group, t] : out) t.distinct_persons = static_cast<std::int64_t>(persons[group].size());
  return out;
}

absl::StatusOr<std::int64_t> StartersInPeriod(const std::string& db_path, const std::string& van,
                                              const std::string& tot) {
  std::int64_t n = 0;
  absl::Status s = RunPlainSql(db_path, R"sql(
SELECT count(*) FROM (
  SELECT rinpersoon FROM srg_reintegratie WHERE aanvang BETWEEN ?1 AND ?2
  UNION
  SELECT rinpersoon FROM gem_reintegratietraject WHERE start BETWEEN ?1 AND ?2))sql",
                               {van, tot}, [&](sqlite3_stmt* st) { n = sqlite3_column_int64(st, 0); });
  if (!s.ok()) return s;
  return n;
}


namespace {

// T6's derived matched sets checked against the raw tables. Strata on the start day s from the
// raw registers (sex, birth year and month, hoogsteopltab, the earliest ALG spell running on s, the
// first address spell running on s); provisions and trajectories straight from srg_reintegratie
// and gem_reintegratietraject; the outcome at s + 12 months from secmbus.
constexpr const char* kT6DesignSql = R"sql(
WITH r AS (
  SELECT k.volgnr AS volgnr, k.rang AS rang, k.startdatum AS s, k.baan_12 AS baan_12,
         p.rinpersoon AS rin,
         CAST(CAST(substr(k.startdatum, 1, 4) AS INTEGER) - 1 AS TEXT) || substr(k.startdatum, 5, 4) AS jaar_eerder,
         CAST(CAST(substr(k.startdatum, 1, 4) AS INTEGER) + 1 AS TEXT) || substr(k.startdatum, 5, 4) AS jaar_later
  FROM d_reintegratie_koppel k JOIN d_persoon p ON p.pnr = k.pnr
),
v AS (
  SELECT rinpersoon, aanvang, einde FROM srg_reintegratie
  UNION ALL SELECT rinpersoon, start, eind FROM gem_reintegratietraject
),
st AS (
  SELECT r.*,
    (SELECT min(b.aanvang) FROM bijstandpersoonbus b WHERE b.rinpersoon = r.rin
       AND b.statistiekcode = 'ALG' AND b.aanvang <= r.s AND b.einde >= r.s) AS alg,
    g.gbageslacht AS sexe,
    CAST(substr(r.s, 1, 4) AS INTEGER) - g.gbageboortejaar
      - (g.gbageboortemaand > CAST(substr(r.s, 5, 2) AS INTEGER)) AS leeftijd,
    COALESCE((SELECT o.opl_niveau3 FROM hoogsteopltab o WHERE o.rinpersoon = r.rin), '') AS opl,
    (SELECT rg.kern FROM gbaadresobjectbus a
       JOIN vslgwbtab w ON w.rinobjectnummer = a.rinobjectnummer AND w.gem_code = 'GM1916'
       JOIN ref_gebied rg ON rg.buurt_code = w.buurt_code
     WHERE a.rinpersoon = r.rin AND a.gbadatumaanvangadreshouding <= r.s
       AND a.gbadatumeindeadreshouding >= r.s
     ORDER BY a.gbadatumaanvangadreshouding, a.gbadatumeindeadreshouding, a.rinobjectnummer
     LIMIT 1) AS kern,
    EXISTS (SELECT 1 FROM v WHERE v.rinpersoon = r.rin AND v.aanvang = r.s) AS start_op_s,
    EXISTS (SELECT 1 FROM v WHERE v.rinpersoon = r.rin AND v.aanvang < r.s
              AND v.einde >= r.jaar_eerder) AS eerder,
    EXISTS (SELECT 1 FROM v WHERE v.rinpersoon = r.rin AND v.aanvang <= r.s
              AND v.einde >= r.jaar_eerder) AS lopend,
    EXISTS (SELECT 1 FROM v WHERE v.rinpersoon = r.rin AND v.aanvang > r.s
              AND v.aanvang <= r.jaar_later) AS later,
    COALESCE((SELECT sc.secm FROM secmbus sc WHERE sc.rinpersoon = r.rin
                AND sc.aanvsecm <= r.jaar_later AND sc.eindsecm >= r.jaar_later
              ORDER BY sc.aanvsecm DESC LIMIT 1) BETWEEN 11 AND 14, 0) AS baan_ruw
  FROM r JOIN gbapersoontab g ON g.rinpersoon = r.rin
),
sk AS (
  SELECT st.*,
    CASE WHEN leeftijd < 27 THEN 1 WHEN leeftijd < 45 THEN 2 ELSE 3 END AS lg,
    CASE WHEN alg IS NULL THEN NULL
         WHEN (CAST(substr(s, 1, 4) AS INTEGER) * 12 + CAST(substr(s, 5, 2) AS INTEGER))
              - (CAST(substr(alg, 1, 4) AS INTEGER) * 12 + CAST(substr(alg, 5, 2) AS INTEGER)) < 12 THEN 1
         WHEN (CAST(substr(s, 1, 4) AS INTEGER) * 12 + CAST(substr(s, 5, 2) AS INTEGER))
              - (CAST(substr(alg, 1, 4) AS INTEGER) * 12 + CAST(substr(alg, 5, 2) AS INTEGER)) < 24 THEN 2
         WHEN (CAST(substr(s, 1, 4) AS INTEGER) * 12 + CAST(substr(s, 5, 2) AS INTEGER))
              - (CAST(substr(alg, 1, 4) AS INTEGER) * 12 + CAST(substr(alg, 5, 2) AS INTEGER)) < 60 THEN 3
         ELSE 4 END AS duur
  FROM st
)
SELECT count(*),
       sum(c.rang = 0),
       sum(c.rang > 0),
       sum(c.alg IS NULL),
       sum(c.rang > 0 AND c.lopend),
       sum(c.rang = 0 AND (NOT c.start_op_s OR c.eerder)),
       sum(c.rang > 0 AND (c.sexe <> d.sexe OR c.lg <> d.lg OR c.opl <> d.opl OR c.kern IS NOT d.kern
                           OR c.duur IS NOT d.duur)),
       sum(c.baan_12 <> c.baan_ruw),
       sum(c.rang > 0 AND c.later)
FROM sk c JOIN sk d ON d.volgnr = c.volgnr AND d.rang = 0
)sql";

}  // namespace

absl::StatusOr<T6Design> T6DesignCheck(const std::string& db_path) {
  T6Design out;
  absl::Status s = RunPlainSql(db_path, kT6DesignSql, {}, [&](sqlite3_stmt* st) {
    std::int64_t* fields[] = {&out.rows,           &out.participants,      &out.controls,
                              &out.not_on_alg,     &out.control_provision, &out.participant_not_new,
                              &out.stratum_differs, &out.outcome_differs,  &out.controls_starting_later};
    for (int i = 0; i < 9; ++i) *fields[i] = sqlite3_column_int64(st, i);
  });
  if (!s.ok()) return s;
  return out;
}

}  // namespace enclave::testing
