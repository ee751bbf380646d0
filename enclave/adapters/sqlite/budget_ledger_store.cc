#include "enclave/adapters/sqlite/budget_ledger_store.h"

#include <sqlite3.h>

#include <mutex>
#include <set>
#include <utility>

#include "enclave/adapters/sqlite/durable_database.h"
#include "enclave/base/log.h"

namespace enclave::adapters::sqlite {
namespace {

constexpr int kBusyTimeoutMs = 30000;

constexpr char kSchema[] = R"sql(
CREATE TABLE IF NOT EXISTS ledger (
  name TEXT PRIMARY KEY,
  cap_micro INTEGER NOT NULL,
  spent_micro INTEGER NOT NULL DEFAULT 0 CHECK (spent_micro >= 0),
  reserved_micro INTEGER NOT NULL DEFAULT 0 CHECK (reserved_micro >= 0)
) STRICT;
CREATE TABLE IF NOT EXISTS reservation (
  id INTEGER PRIMARY KEY,
  request_id TEXT NOT NULL,
  charge_micro INTEGER NOT NULL CHECK (charge_micro > 0),
  state TEXT NOT NULL CHECK (state IN ('reserved', 'charged', 'refunded')),
  created TEXT NOT NULL,
  settled TEXT
) STRICT;
CREATE TABLE IF NOT EXISTS reservation_ledger (
  reservation INTEGER NOT NULL REFERENCES reservation(id),
  ledger TEXT NOT NULL REFERENCES ledger(name),
  PRIMARY KEY (reservation, ledger)
) STRICT;
CREATE TABLE IF NOT EXISTS answer (
  repeat_key TEXT PRIMARY KEY,
  answer BLOB NOT NULL,
  reservation INTEGER NOT NULL REFERENCES reservation(id),
  created TEXT NOT NULL
) STRICT;
)sql";

absl::Status Unavailable(std::string_view what, int rc) {
  return SqliteUnavailable("budget ledger", what, rc);
}

// One prepared statement, finalised on scope exit.
class Stmt {
 public:
  Stmt(sqlite3* db, const char* sql) { rc_ = sqlite3_prepare_v2(db, sql, -1, &stmt_, nullptr); }
  ~Stmt() { sqlite3_finalize(stmt_); }
  Stmt(const Stmt&) = delete;
  Stmt& operator=(const Stmt&) = delete;
  bool ok() const { return rc_ == SQLITE_OK; }
  int rc() const { return rc_; }
  Stmt& Text(int i, std::string_view v) {
    Note(sqlite3_bind_text(stmt_, i, v.data(), static_cast<int>(v.size()), SQLITE_TRANSIENT));
    return *this;
  }
  Stmt& Blob(int i, std::string_view v) {
    Note(sqlite3_bind_blob(stmt_, i, v.data(), static_cast<int>(v.size()), SQLITE_TRANSIENT));
    return *this;
  }
  Stmt& Int(int i, std::int64_t v) {
    Note(sqlite3_bind_int64(stmt_, i, v));
    return *this;
  }
  // SQLITE_ROW, SQLITE_DONE or an error code (also a prepare or bind error).
  int Step() { return rc_ == SQLITE_OK ? sqlite3_step(stmt_) : rc_; }
  std::int64_t ColumnInt(int col) { return sqlite3_column_int64(stmt_, col); }
  std::string ColumnBytes(int col) {
    const void* data = sqlite3_column_blob(stmt_, col);
    const int bytes = sqlite3_column_bytes(stmt_, col);
    if (data == nullptr || bytes <= 0) return std::string();
    return std::string(static_cast<const char*>(data), static_cast<std::size_t>(bytes));
  }

 private:
  void Note(int rc) {
    if (rc_ == SQLITE_OK && rc != SQLITE_OK) rc_ = rc;
  }
  sqlite3_stmt* stmt_ = nullptr;
  int rc_ = SQLITE_OK;
};

}  // namespace

struct SqliteBudgetLedger::Impl {
  sqlite3* db = nullptr;
  std::mutex mu;  // one connection, used by one thread at a time

  ~Impl() {
    if (db != nullptr) sqlite3_close_v2(db);
  }
  int Exec(const char* sql) { return sqlite3_exec(db, sql, nullptr, nullptr, nullptr); }

  // Runs `body` inside BEGIN IMMEDIATE ... COMMIT; rolls back when it fails.
  template <typename Body>
  absl::Status Transaction(Body body) {
    int rc = Exec("BEGIN IMMEDIATE");
    if (rc != SQLITE_OK) return Unavailable("cannot begin a transaction", rc);
    absl::Status status = body();
    if (status.ok()) {
      rc = Exec("COMMIT");
      if (rc == SQLITE_OK) return absl::OkStatus();
      status = Unavailable("cannot commit", rc);
    }
    Exec("ROLLBACK");
    return status;
  }

  // Moves a reserved reservation to `state`, moving its amount out of `reserved_micro` (and into
  // `spent_micro` for a charge). Inside a transaction.
  absl::Status Settle(std::int64_t reservation, bool charge, std::int64_t* amount) {
    Stmt find(db, "SELECT state, charge_micro FROM reservation WHERE id = ?1");
    find.Int(1, reservation);
    int rc = find.Step();
    if (rc == SQLITE_DONE) {
      return absl::NotFoundError("budget ledger: no reservation " + std::to_string(reservation));
    }
    if (rc != SQLITE_ROW) return Unavailable("cannot read a reservation", rc);
    if (find.ColumnBytes(0) != "reserved") {
      return absl::NotFoundError("budget ledger: reservation " + std::to_string(reservation) +
                                 " is already " + find.ColumnBytes(0));
    }
    *amount = find.ColumnInt(1);
    Stmt move(db, charge ? "UPDATE ledger SET reserved_micro = reserved_micro - ?1, "
                           "spent_micro = spent_micro + ?1 WHERE name IN "
                           "(SELECT ledger FROM reservation_ledger WHERE reservation = ?2)"
                         : "UPDATE ledger SET reserved_micro = reserved_micro - ?1 WHERE name IN "
                           "(SELECT ledger FROM reservation_ledger WHERE reservation = ?2)");
    move.Int(1, *amount).Int(2, reservation);
    if ((rc = move.Step()) != SQLITE_DONE) return Unavailable("cannot update the ledgers", rc);
    Stmt mark(db, "UPDATE reservation SET state = ?1, settled = ?2 WHERE id = ?3");
    mark.Text(1, charge ? "charged" : "refunded").Text(2, UtcNowText()).Int(3, reservation);
    if ((rc = mark.Step()) != SQLITE_DONE) return Unavailable("cannot settle a reservation", rc);
    return absl::OkStatus();
  }
};

absl::StatusOr<std::unique_ptr<SqliteBudgetLedger>> SqliteBudgetLedger::Open(
    const std::string& path) {
  auto impl = std::make_unique<Impl>();
  if (absl::Status opened = OpenDurableDatabase(path, "budget ledger", kBusyTimeoutMs, &impl->db);
      !opened.ok()) {
    return opened;
  }
  int rc = SQLITE_OK;
  if ((rc = impl->Exec("PRAGMA foreign_keys=ON")) != SQLITE_OK) {
    return Unavailable("cannot enable foreign keys", rc);
  }
  if ((rc = impl->Exec(kSchema)) != SQLITE_OK) return Unavailable("cannot create the schema", rc);
  return std::unique_ptr<SqliteBudgetLedger>(new SqliteBudgetLedger(std::move(impl)));
}

SqliteBudgetLedger::SqliteBudgetLedger(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
SqliteBudgetLedger::~SqliteBudgetLedger() = default;

absl::StatusOr<std::int64_t> SqliteBudgetLedger::Reserve(std::span<const core::LedgerLimit> limits,
                                                         std::int64_t charge_micro,
                                                         std::string_view request_id) {
  if (charge_micro <= 0) {
    return absl::InvalidArgumentError("budget ledger: a charge must be positive (micro-ε)");
  }
  if (limits.empty()) {
    return absl::InvalidArgumentError("budget ledger: a charge needs at least one ledger");
  }
  std::set<std::string, std::less<>> names;
  for (const core::LedgerLimit& l : limits) {
    if (l.ledger.empty() || l.cap_micro < 0 || !names.insert(l.ledger).second) {
      return absl::InvalidArgumentError(
          "budget ledger: ledgers must be named once each, with a non-negative cap");
    }
  }
  std::lock_guard<std::mutex> lock(impl_->mu);
  std::int64_t id = 0;
  absl::Status status = impl_->Transaction([&]() -> absl::Status {
    sqlite3* db = impl_->db;
    for (const core::LedgerLimit& l : limits) {
      Stmt read(db, "SELECT spent_micro, reserved_micro FROM ledger WHERE name = ?1");
      read.Text(1, l.ledger);
      const int rc = read.Step();
      std::int64_t used = 0;
      if (rc == SQLITE_ROW) {
        if (__builtin_add_overflow(read.ColumnInt(0), read.ColumnInt(1), &used)) {
          return absl::InternalError("budget ledger: ledger totals overflow");
        }
      } else if (rc != SQLITE_DONE) {
        return Unavailable("cannot read a ledger", rc);
      }
      std::int64_t after = 0;
      if (__builtin_add_overflow(used, charge_micro, &after) || after > l.cap_micro) {
        const std::int64_t left = l.cap_micro > used ? l.cap_micro - used : 0;
        return absl::ResourceExhaustedError(
            "privacy budget exhausted: ledger " + l.ledger + " has " + std::to_string(left) +
            " micro-epsilon left, this query needs " + std::to_string(charge_micro));
      }
    }
    const std::string now = UtcNowText();
    Stmt insert(db,
                "INSERT INTO reservation (request_id, charge_micro, state, created) "
                "VALUES (?1, ?2, 'reserved', ?3)");
    insert.Text(1, request_id).Int(2, charge_micro).Text(3, now);
    int rc = insert.Step();
    if (rc != SQLITE_DONE) return Unavailable("cannot insert a reservation", rc);
    id = sqlite3_last_insert_rowid(db);
    for (const core::LedgerLimit& l : limits) {
      Stmt upsert(db,
                  "INSERT INTO ledger (name, cap_micro, reserved_micro) VALUES (?1, ?2, ?3) "
                  "ON CONFLICT (name) DO UPDATE SET cap_micro = excluded.cap_micro, "
                  "reserved_micro = reserved_micro + excluded.reserved_micro");
      upsert.Text(1, l.ledger).Int(2, l.cap_micro).Int(3, charge_micro);
      if ((rc = upsert.Step()) != SQLITE_DONE) return Unavailable("cannot update a ledger", rc);
      Stmt link(db, "INSERT INTO reservation_ledger (reservation, ledger) VALUES (?1, ?2)");
      link.Int(1, id).Text(2, l.ledger);
      if ((rc = link.Step()) != SQLITE_DONE) return Unavailable("cannot link a ledger", rc);
    }
    return absl::OkStatus();
  });
  if (!status.ok()) {
    if (status.code() != absl::StatusCode::kResourceExhausted) {
      base::LogError("budget_reserve_failed", {{"code", status.code()}});
    }
    return status;
  }
  return id;
}

absl::Status SqliteBudgetLedger::Charge(std::int64_t reservation, std::string_view repeat_key,
                                        std::string_view answer) {
  std::lock_guard<std::mutex> lock(impl_->mu);
  absl::Status status = impl_->Transaction([&]() -> absl::Status {
    std::int64_t amount = 0;
    if (absl::Status s = impl_->Settle(reservation, /*charge=*/true, &amount); !s.ok()) return s;
    if (repeat_key.empty()) return absl::OkStatus();
    Stmt store(impl_->db,
               "INSERT OR IGNORE INTO answer (repeat_key, answer, reservation, created) "
               "VALUES (?1, ?2, ?3, ?4)");
    store.Text(1, repeat_key).Blob(2, answer).Int(3, reservation).Text(4, UtcNowText());
    const int rc = store.Step();
    if (rc != SQLITE_DONE) return Unavailable("cannot store the answer", rc);
    return absl::OkStatus();
  });
  if (!status.ok() && status.code() != absl::StatusCode::kNotFound) {
    base::LogError("budget_charge_failed", {{"code", status.code()}});
  }
  return status;
}

absl::Status SqliteBudgetLedger::Refund(std::int64_t reservation) {
  std::lock_guard<std::mutex> lock(impl_->mu);
  return impl_->Transaction([&]() -> absl::Status {
    std::int64_t amount = 0;
    return impl_->Settle(reservation, /*charge=*/false, &amount);
  });
}

absl::StatusOr<std::optional<std::string>> SqliteBudgetLedger::FindAnswer(
    std::string_view repeat_key) {
  std::lock_guard<std::mutex> lock(impl_->mu);
  Stmt find(impl_->db, "SELECT answer FROM answer WHERE repeat_key = ?1");
  find.Text(1, repeat_key);
  const int rc = find.Step();
  if (rc == SQLITE_ROW) return std::optional<std::string>(find.ColumnBytes(0));
  if (rc == SQLITE_DONE) return std::optional<std::string>();
  return Unavailable("cannot read stored answers", rc);
}

absl::StatusOr<std::vector<core::LedgerBalance>> SqliteBudgetLedger::Balances(
    std::span<const core::LedgerLimit> limits) {
  std::lock_guard<std::mutex> lock(impl_->mu);
  std::vector<core::LedgerBalance> out;
  for (const core::LedgerLimit& l : limits) {
    Stmt read(impl_->db, "SELECT spent_micro, reserved_micro FROM ledger WHERE name = ?1");
    read.Text(1, l.ledger);
    const int rc = read.Step();
    core::LedgerBalance b{l.ledger, l.cap_micro, 0, 0};
    if (rc == SQLITE_ROW) {
      b.spent_micro = read.ColumnInt(0);
      b.reserved_micro = read.ColumnInt(1);
    } else if (rc != SQLITE_DONE) {
      return Unavailable("cannot read a ledger", rc);
    }
    out.push_back(std::move(b));
  }
  return out;
}

absl::StatusOr<std::int64_t> SqliteBudgetLedger::SettleAbandonedReservations() {
  std::lock_guard<std::mutex> lock(impl_->mu);
  std::int64_t settled = 0;
  absl::Status status = impl_->Transaction([&]() -> absl::Status {
    std::vector<std::int64_t> open;
    {
      Stmt list(impl_->db, "SELECT id FROM reservation WHERE state = 'reserved' ORDER BY id");
      int rc = SQLITE_OK;
      while ((rc = list.Step()) == SQLITE_ROW) open.push_back(list.ColumnInt(0));
      if (rc != SQLITE_DONE) return Unavailable("cannot list reservations", rc);
    }
    for (std::int64_t id : open) {
      std::int64_t amount = 0;
      if (absl::Status s = impl_->Settle(id, /*charge=*/true, &amount); !s.ok()) return s;
      ++settled;
    }
    return absl::OkStatus();
  });
  if (!status.ok()) return status;
  return settled;
}

std::string SqliteBudgetLedger::PragmaForTest(const std::string& name) {
  if (name.empty()) return std::string();
  for (char c : name) {
    if (!((c >= 'a' && c <= 'z') || c == '_')) return std::string();
  }
  std::lock_guard<std::mutex> lock(impl_->mu);
  const std::string sql = "PRAGMA " + name;
  Stmt stmt(impl_->db, sql.c_str());
  return stmt.Step() == SQLITE_ROW ? stmt.ColumnBytes(0) : std::string();
}

}  // namespace enclave::adapters::sqlite
