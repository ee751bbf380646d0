// Aggregation inside the enclave: from unit-level rows to per-cell unit contributions, including
// every margin (each dimension's total), then the disclosure rules, then rounding.
#pragma once

#include "absl/status/statusor.h"
#include "enclave/core/ports.h"
#include "enclave/core/release.h"
#include "enclave/disclosure/threshold.h"

namespace enclave::core {

// Accumulates rows for one bound query; feed it from MicrodataSource::Scan.
//
// Each unit contributes once per cell: its measure is the sum of its rows' measures in that cell
// and its flags are the OR of its rows' flags. A row whose dimension value is not in the
// dimension's code list is kInternal (fail closed; the value is not echoed).
class TableBuilder {
 public:
  explicit TableBuilder(const templates::BoundQuery& query);
  ~TableBuilder();
  TableBuilder(const TableBuilder&) = delete;
  TableBuilder& operator=(const TableBuilder&) = delete;

  absl::Status Add(const RowView& row);

  // Applies the disclosure rules and produces the release (data_version and rule_set filled from
  // the arguments).
  Release Finish(const disclosure::RuleSetParams& rules, const std::string& data_version) &&;

 private:
  struct Impl;
  Impl* impl_;
};

}  // namespace enclave::core
