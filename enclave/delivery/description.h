// The description of a delivery: which dataset it fills, who holds it, and each column's type and
// domain (policies/deliveries/*.textproto, schema proto/enclave/v1/delivery.proto). Plain C++ so
// that validation stays free of protobuf; the steward tool converts the parsed text file.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"

namespace enclave::delivery {

enum class ColumnType {
  kBsn,      // a BSN: canonicalised, 11-checked, replaced by a pseudonym on load
  kText,     // UTF-8 text, at most max_length bytes, optionally from a closed list
  kInteger,  // optional '-', decimal digits, 64-bit, optionally within [min, max]
  kDate,     // YYYYMMDD, a real calendar date in 1850..2099 (open end 20991231)
  kReal,     // a decimal number such as -12.5
};

struct ColumnSpec {
  std::string name;                   // header name in the CSV
  ColumnType type = ColumnType::kText;
  bool optional = false;              // an empty field is allowed and stored as NULL
  std::vector<std::string> allowed;   // closed domain (text or integer spelling); empty: any
  std::optional<std::int64_t> min;    // integers only
  std::optional<std::int64_t> max;
  std::size_t max_length = 256;       // text only, in bytes
  std::string target;                 // table column; "" = name. For a BSN: the pseudonym column
  std::string target_kind;            // BSN only: column receiving 'R' (linked) or 'S' (not); ""
  std::string Target() const { return target.empty() ? name : target; }
};

struct DeliveryDescription {
  std::string dataset;                // the table in the microdata database
  std::string holder;                 // data holder, e.g. "gemeente Leidschendam-Voorburg"
  std::vector<ColumnSpec> columns;    // in CSV header order
  std::vector<std::string> key;       // CSV column names forming a unique key; empty: none
  bool population_register = false;   // its BSN column defines who is linked (R)
};

// kInvalidArgument naming the problem: an empty or non-identifier dataset or column name
// ([a-z][a-z0-9_]*), duplicate columns or targets, a key column that does not exist, min > max,
// allowed values on a BSN or date column, target_kind on a non-BSN column, no columns.
absl::Status CheckDescription(const DeliveryDescription& description);

// True iff `name` is [a-z][a-z0-9_]{0,62}: safe to use unquoted as an SQLite identifier.
bool IsIdentifier(const std::string& name);

}  // namespace enclave::delivery
