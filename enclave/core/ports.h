// Ports: the small interfaces the core declares and adapters implement.
//
// MicrodataSource is the narrow boundary to the microdata store (SQLite now; a scale-out database
// later), so that templates and disclosure rules never depend on the backend.
//
//   SqliteMicrodataSource source(db);                     // adapters/sqlite
//   absl::Status s = source.Scan(query, cancel, [&](const RowView& row) { ...; return absl::OkStatus(); });
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "enclave/disclosure/differencing.h"
#include "enclave/templates/binding.h"

namespace enclave::core {

// One unit-level row as the template's SQL returned it. Views are valid only during the callback.
struct RowView {
  std::string_view unit;
  std::span<const std::string_view> dimensions;  // in BoundQuery::tmpl->dimensions order
  std::optional<std::int64_t> measure;           // nullopt when SQL NULL or no measure column
  std::span<const std::int64_t> flags;           // in tmpl->flag_columns order; NULL reads as 0
  std::string_view holding;  // tmpl->disclosure.holding_column's value; empty when none declared
};

// Cancellation: checked periodically while the store works.
struct Cancellation {
  std::chrono::steady_clock::time_point deadline = std::chrono::steady_clock::time_point::max();
  std::function<bool()> cancelled;  // optional, e.g. ServerContext::IsCancelled
  bool Expired() const {
    return std::chrono::steady_clock::now() >= deadline || (cancelled && cancelled());
  }
};

using RowVisitor = std::function<absl::Status(const RowView&)>;

class MicrodataSource {
 public:
  virtual ~MicrodataSource() = default;

  // Checks at load that the template's SQL is one read-only SELECT over known tables whose result
  // columns are exactly tmpl.ExpectedColumns() and whose named parameters are all declared.
  // kInvalidArgument naming the problem.
  virtual absl::Status CheckTemplate(const templates::Template& tmpl) = 0;

  // Runs the bound query, calling visit once per row. kDeadlineExceeded / kCancelled if
  // interrupted; any non-OK status means the caller must discard what it has seen (never a
  // partial result). kInternal if a row's value does not have the declared type.
  // Thread-safety: one call at a time per instance; adapters may pool connections.
  virtual absl::Status Scan(const templates::BoundQuery& query, const Cancellation& cancel,
                            const RowVisitor& visit) = 0;

  // Version label of the loaded data (e.g. "synthetic-lv-seed42-v1").
  virtual std::string DataVersion() const = 0;

  // Every unit of `unit_type` in the loaded data, as templates return it in their unit column
  // (`unit`), with the stable pseudonym its record key is derived from (`pseudonym`: the same
  // person keeps it across data versions, so unchanged cells keep their noise; §5.1). Used once at
  // start-up to build the unit index (core::UnitIndex::FromUniverse). kNotFound for a unit type
  // the store cannot enumerate (the caller then uses a first-seen index and an in-memory guard).
  struct UnitKey {
    std::string unit;
    std::string pseudonym;
  };
  virtual absl::StatusOr<std::vector<UnitKey>> ListUnits(const std::string& unit_type) {
    return absl::NotFoundError("this microdata source cannot list units of type " + unit_type);
  }
};

// Persistence of the differencing guard's history (adapters/sqlite/release_history_store.h):
// the populations and partitions newly recorded by a release are appended, durably, before it is
// sent.
class ReleaseHistory {
 public:
  virtual ~ReleaseHistory() = default;
  // kInvalidArgument for an empty basis; kUnavailable when the write fails (release nothing).
  virtual absl::Status Append(const disclosure::GuardKey& key, std::string_view index_basis,
                              const disclosure::GuardRecord& added) = 0;
};

}  // namespace enclave::core
