// A Release is what may leave the enclave for one query: a table of cells, each released or
// confidential, plus the server-side provenance (which rule decided each cell) that only the
// query log sees.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "enclave/disclosure/threshold.h"
#include "enclave/templates/binding.h"

namespace enclave::core {

struct ReleasedCode {
  std::string code;
  templates::LocalizedText label;
  bool is_total = false;
};

struct ReleasedDimension {
  std::string name;
  templates::LocalizedText label;
  std::vector<ReleasedCode> codes;  // the code list in order, then the total
};

struct ReleasedCell {
  std::vector<std::uint32_t> coordinates;  // one index per dimension
  std::uint32_t statistic = 0;             // index into the template's statistics
  disclosure::CellStatus status = disclosure::CellStatus::kConfidential;
  std::optional<std::int64_t> value;  // set iff status == kReleased
};

// Server-side only: never marshalled into a response.
struct CellProvenance {
  std::string rule;    // disclosure::Decision::rule, or "secondary" for a complementary suppression
  std::string params = {};  // disclosure::Decision::params, e.g. "nk(1,50)"; "" when none
};

// The released form of one table dimension: its code list in order, then the total. Every release
// (disclosure-controlled and differentially private) shapes its dimensions with this, and so does
// the layout QueryService::DescribeLayout gives the privacy officer: the two cannot drift.
ReleasedDimension ReleasedDimensionOf(const templates::Dimension& dimension);

struct Release {
  const templates::Template* tmpl = nullptr;
  std::vector<templates::BoundParam> params;  // canonical
  std::string data_version;
  std::string rule_set;  // "id@version"
  // Public treatment of released counts (§8 metadata): "ROUNDED_<base>", "CKM" (ptable) or
  // "EXACT" (a rule set without count perturbation).
  std::string treatment;
  // Public identifier of the record-key secret (crypto::RecordKeyer::KeyId); set by QueryService.
  std::string record_key_version;
  // Server-side only (query log, for replay): every rule-set parameter
  // (disclosure::CanonicalText) and the count ptable's id@version.
  std::string rule_set_text;
  std::string ptable;
  std::vector<ReleasedDimension> dimensions;
  std::vector<ReleasedCell> cells;  // canonical order: dimensions slowest-first, statistic fastest
  std::vector<CellProvenance> provenance;  // parallel to cells

  std::int64_t CountReleased() const;
  std::int64_t CountConfidential() const;
};

}  // namespace enclave::core
