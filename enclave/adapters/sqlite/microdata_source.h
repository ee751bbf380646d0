// MicrodataSource over a read-only SQLite database (the enclave's microdata store).
//
// Opens with SQLITE_OPEN_READONLY, query_only, no extensions, and an authorizer that permits only
// SELECT, READ and FUNCTION: a template's SQL cannot write, attach or run pragmas. Long queries are
// interrupted through a progress handler when the Cancellation expires.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "enclave/core/ports.h"

namespace enclave::adapters::sqlite {

class SqliteMicrodataSource final : public core::MicrodataSource {
 public:
  // kUnavailable naming the problem (not the path's contents) if the file is missing, not a
  // SQLite database, or lacks the meta table's data_version.
  static absl::StatusOr<std::unique_ptr<SqliteMicrodataSource>> Open(const std::string& path);
  ~SqliteMicrodataSource() override;

  absl::Status CheckTemplate(const templates::Template& tmpl) override;
  absl::Status Scan(const templates::BoundQuery& query, const core::Cancellation& cancel,
                    const core::RowVisitor& visit) override;
  std::string DataVersion() const override;
  absl::StatusOr<std::vector<UnitKey>> ListUnits(const std::string& unit_type) override;

 private:
  struct Impl;
  explicit SqliteMicrodataSource(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace enclave::adapters::sqlite
