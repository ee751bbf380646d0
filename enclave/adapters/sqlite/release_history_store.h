// The release history in SQLite: the populations the differencing guard has recorded
// (disclosure-control.md §6.1) and the partitions of them the decomposition quota has counted
// (§6.2), per data version × unit type (one history for all callers), so that both survive
// restarts. WAL, synchronous=FULL, in the state directory (state_dir/release_history.db).
//
//   auto history = SqliteReleaseHistory::Open(state_dir + "/release_history.db");
//   ENCLAVE_RETURN_IF_ERROR((*history)->LoadInto(data_version, basis_of_unit_type, guard));  // start-up
//   ...
//   ENCLAVE_RETURN_IF_ERROR(guard.CheckAndRecord(key, populations, limits, &added));          // per release
//   ENCLAVE_RETURN_IF_ERROR((*history)->Append(key, unit_index.basis(), added));               // before sending
//
// Populations are stored as disclosure::EncodePopulation bytes with their SHA-256; unit indices
// only mean something under the unit numbering they were made with (core::UnitIndex::basis()),
// which is stored beside them.
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <string_view>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "enclave/disclosure/differencing.h"

namespace enclave::adapters::sqlite {

class SqliteReleaseHistory {
 public:
  // Creates the file and schema if needed. kUnavailable if it cannot be opened or written.
  static absl::StatusOr<std::unique_ptr<SqliteReleaseHistory>> Open(const std::string& path);
  ~SqliteReleaseHistory();
  SqliteReleaseHistory(const SqliteReleaseHistory&) = delete;
  SqliteReleaseHistory& operator=(const SqliteReleaseHistory&) = delete;

  // Appends a release's new populations (encodings) and partitions in one transaction; durable
  // when it returns OK; what is already stored under the same key is skipped. kInvalidArgument for an empty basis (a growing
  // UnitIndex's numbering does not survive a restart), kUnavailable on a write failure.
  // Thread-safe.
  absl::Status Append(const disclosure::GuardKey& key, std::string_view index_basis,
                      const disclosure::GuardRecord& added);

  // Restores every population and partition stored for `data_version` into `guard`,
  // all-or-nothing: on any error the guard is untouched. Rows written per project by earlier
  // versions are read into the one history.
  //   kDataLoss            a stored population does not match its SHA-256 or does not decode;
  //   kFailedPrecondition  a row's index basis differs from basis_for(unit_type) (the unit
  //                        numbering changed within a data version: its populations are void);
  //   kUnavailable         the database cannot be read.
  absl::Status LoadInto(std::string_view data_version,
                        const std::function<std::string(std::string_view unit_type)>& basis_for,
                        disclosure::DifferencingGuard& guard);

  // `PRAGMA <name>` on the store's connection ("" unless name is [a-z_]+). For tests.
  std::string PragmaForTest(const std::string& name);

 private:
  struct Impl;
  explicit SqliteReleaseHistory(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace enclave::adapters::sqlite
