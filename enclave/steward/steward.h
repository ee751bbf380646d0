// The data steward's operations on the microdata database (issue 6, docs/data-steward.md).
//
// Dataset versions. Each dataset (a table of schema.sql) that the steward manages is stored in
// physical tables `<dataset>__v<N>`, and the name `<dataset>` is a VIEW over the current one, so
// templates and derived.sql keep using the same names. A load creates version N+1: new physical
// tables for the delivered datasets, the views switched, the derived tables those datasets feed
// rebuilt (derived.sql's dependency map, derived_layer.h), `meta.data_version` (what MicrodataSource::DataVersion() reports and every release records)
// set, the version recorded in `steward_version` / `steward_table` / `steward_current`, and a
// `data-load` entry appended to the query log, all inside ONE SQLite transaction (rollback
// journal, synchronous=FULL): a load that fails, is refused or is killed leaves the previous
// version in force, byte for byte. A database written directly by enclave-datagen (plain
// tables) is adopted as version 1 on the first load. Rollback points the views back at the
// parent version's tables in the same way and appends a `dataset-rollback` entry.
//
// The steward holds the server's lock (state_dir/enclaved.lock) for every change: loads happen
// with enclaved stopped. It writes only to an existing query log: a state directory without
// one (a mistyped --state-dir) is refused before anything is created there. No BSN is stored, logged or printed: BSNs are canonicalised, 11-checked
// and replaced by HMAC-SHA256 pseudonyms (crypto/pseudonymiser.h) before anything is written.
//
//   StewardOptions o{.database_path = "...", .state_dir = "...", .key_path = "..."};
//   ENCLAVE_ASSIGN_OR_RETURN(LoadOutcome out, LoadDeliveries(o, {{"desc.textproto", "x.csv"}}));
//   if (!out.loaded) { /* out.deliveries[i].report lists the errors; nothing changed */ }
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "enclave/delivery/validate.h"
#include "enclave/steward/derived_layer.h"
#include "enclave/steward/progress.h"

namespace enclave::steward {

struct DeliveryFiles {
  std::string description_path;
  std::string csv_path;
};

using ProgressFn = std::function<void(const Progress&)>;

struct StewardOptions {
  std::string database_path;
  // enclaved's state directory: enclaved.lock and the query log (audit_log.db, checkpoint,
  // log_signing.key unless log_signing_key_file is given). It must hold an initialised query
  // log (enclaved's first start or InitStateDir made it); the steward never creates one.
  std::string state_dir;
  // The query log's signing key when it is not state_dir/log_signing.key (the server's
  // audit_log.signing_key_file). Never created.
  std::string log_signing_key_file;
  std::string key_path;   // the pseudonymisation key (32 bytes, mode 0600)
  std::string steward;    // who runs the tool, for the query log (e.g. "unix:alice")
  // Optional: phases, steps, rows and time estimates (progress.h), several times a second
  // while work runs and once when each step is done.
  ProgressFn progress;
  // A delivery of at least `part_min_bytes` is read by `read_threads` threads, each validating,
  // pseudonymising and linking a part of it (0: as many as there are cores, at most 4); the
  // result is the same as reading it in one part (tests set these low to check that).
  std::size_t read_threads = 0;
  std::size_t part_min_bytes = std::size_t{8} << 20;
  // An index that does not start with the person column is filled during the insert when its
  // entries are estimated at most this many bytes (half the insert's page cache), and built
  // after the insert otherwise (tests set 0 to check that both give the same indexes).
  std::size_t index_in_place_max_bytes = std::size_t{32} << 20;
  // Test hook: runs inside the transaction just before COMMIT (e.g. to be killed there).
  std::function<void()> before_commit_for_test;
};

// Aggregate linkage counts of one BSN column (docs/domain.md §4). Invalid BSNs and duplicate
// keys refuse a delivery, so in a loaded delivery they are always 0 and not listed here.
struct LinkageCounts {
  std::string column;
  std::uint64_t linked = 0;           // in the population register: rinpersoons 'R'
  std::uint64_t not_in_register = 0;  // valid BSN, not in the register: 'S'
  std::uint64_t missing = 0;          // empty in an optional BSN column: NULL
};

struct DeliveryOutcome {
  std::string dataset;
  std::string sha256;  // of the CSV file's bytes
  delivery::ValidationReport report;
  std::vector<LinkageCounts> linkage;  // filled when loaded
  std::uint64_t rows_loaded = 0;
};

struct LoadOutcome {
  bool loaded = false;  // false: refused by validation; nothing was written
  std::vector<DeliveryOutcome> deliveries;
  std::int64_t version = 0;
  std::string data_version;
  // The derived tables rebuilt because a delivered dataset feeds them (derived_layer.h), and
  // those left as they were; both in derived.sql order.
  std::vector<std::string> derived_rebuilt;
  std::vector<std::string> derived_unchanged;
};

struct VersionInfo {
  std::int64_t version = 0;
  std::optional<std::int64_t> parent;
  std::string kind;  // "adopted" | "load"
  std::string data_version;
  std::string created_utc;
  std::string datasets;  // comma-separated
  std::uint64_t records = 0;
  bool current = false;
  // RollbackVersion only: the derived tables rebuilt and those left as they were.
  std::vector<std::string> derived_rebuilt;
  std::vector<std::string> derived_unchanged;
};

// Reads each delivery once, inside the load's transaction: every record is validated (the report
// counts every error) and, while no delivery of the load has an error, pseudonymised, linked and
// inserted into the new version's table (its indexes are created after the insert). If any
// delivery has an error the transaction is rolled back: loaded=false with the reports, and the
// database is unchanged. Otherwise all of them become ONE new version (see above), and only the
// derived tables the delivered datasets feed are rebuilt.
// Errors: kNotFound when the state directory holds no initialised query log (or lacks its
// signing key) or a file is missing; kFailedPrecondition when enclaved holds the lock, the key
// file is unsafe, the database lacks a delivered dataset or its columns differ from the
// description, or two deliveries fill the same dataset; kInvalidArgument for a bad description;
// kUnavailable for database or query-log failures (the previous version stays in force).
absl::StatusOr<LoadOutcome> LoadDeliveries(const StewardOptions& options,
                                           const std::vector<DeliveryFiles>& deliveries);

// Validation only (no database, no key): one outcome per delivery, in order.
absl::StatusOr<std::vector<DeliveryOutcome>> ValidateDeliveries(
    const std::vector<DeliveryFiles>& deliveries, const ProgressFn& progress = nullptr);

// Versions, oldest first (empty for a database the steward has never changed). Opening the
// database read-write first rolls back any load that was interrupted.
absl::StatusOr<std::vector<VersionInfo>> ListVersions(const std::string& database_path);

// Makes the current version's parent current again, rebuilding only the derived tables fed by
// the datasets that differ. kFailedPrecondition when there is none or enclaved holds the lock;
// kNotFound as for LoadDeliveries. Returns the version now current.
absl::StatusOr<VersionInfo> RollbackVersion(const StewardOptions& options);

// True for the kFailedPrecondition returned when enclaved holds the state directory's lock.
bool IsServerRunning(const absl::Status& status);

// Creates an empty microdata database (schema.sql, indexes.sql, derived layer, meta
// data_version "empty") at `path`. kAlreadyExists if the file exists.
absl::Status InitDatabase(const std::string& path);

// Makes `state_dir` (created with mode 0700 if absent) a state directory with a new, empty
// query log: audit_log.db, a signed checkpoint of size 0, log_verifier.key, and
// log_signing.key unless `log_signing_key_file` names the key to use. enclaved's first start
// does the same (and creates the rest of its state). kAlreadyExists when the directory already
// holds a query log or a signing key; kFailedPrecondition when enclaved holds its lock.
absl::Status InitStateDir(const std::string& state_dir, const std::string& log_signing_key_file);

// The derived layer of derived.sql (derived_layer.h), parsed and checked against schema.sql.
absl::StatusOr<DerivedLayer> EmbeddedDerivedLayer();

}  // namespace enclave::steward
