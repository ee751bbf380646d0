// Validation of a delivery's records against its description, and the validation report.
//
// The report counts every error by kind and keeps the first few of each kind with their line
// numbers. It never contains a field's value: a BSN appears only masked (MaskBsn), anything else
// only by column name and what was wrong with it.
//
//   Validator v(description);
//   v.Header(first_record);
//   while (...) { if (v.Row(record, &row)) { /* row.values in column order */ } }
//   v.Finish();
//   if (!v.report().ok()) { refuse; print v.report().ToText(); }
#pragma once

#include <array>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "absl/container/flat_hash_set.h"
#include "absl/strings/string_view.h"
#include "enclave/delivery/csv_reader.h"
#include "enclave/delivery/description.h"

namespace enclave::delivery {

enum class ErrorKind {
  kHeader,        // the header differs from the description's column names and order
  kColumnCount,   // a record with more or fewer fields than columns
  kEncoding,      // invalid UTF-8 or a control character
  kQuoting,       // malformed RFC 4180 quoting
  kType,          // not an integer, date, number, or text too long
  kDomain,        // a value outside its allowed list or range
  kMissing,       // an empty field in a required column
  kInvalidBsn,    // a BSN that cannot be canonicalised or fails the 11-check
  kDuplicateKey,  // a key seen on an earlier line
  kEmpty,         // no header, or no data records
};
inline constexpr std::size_t kErrorKindCount = 10;

// Stable machine-readable name: "header", "column_count", "encoding", "quoting", "type",
// "domain", "missing", "invalid_bsn", "duplicate_key", "empty".
const char* ErrorKindName(ErrorKind kind);

struct ErrorSample {
  std::uint64_t line = 0;
  std::string message;  // column name and problem; never a value (BSNs masked)
};

struct ValidationReport {
  std::uint64_t records = 0;      // data records read (valid or not)
  std::uint64_t valid_records = 0;
  std::array<std::uint64_t, kErrorKindCount> counts{};
  std::array<std::vector<ErrorSample>, kErrorKindCount> samples;

  std::uint64_t Errors() const;
  bool ok() const { return Errors() == 0; }
  // Lines for people: a summary, then per kind its count and first lines.
  std::string ToText() const;
  // One line of key=value pairs: "records=.. valid=.. errors=.. header=0 column_count=2 ...".
  std::string ToKeyValue() const;
};

// One typed value of a valid record.
struct Value {
  enum class Kind { kNull, kText, kInteger, kReal };
  Kind kind = Kind::kNull;
  std::int64_t integer = 0;
  double real = 0;
  std::string text;  // text, or the canonical BSN for a BSN column
};

struct ParsedRow {
  std::vector<Value> values;  // one per description column, in column order
};

class Validator {
 public:
  // REQUIRES: CheckDescription(description).ok(); `description` outlives the validator.
  // check_keys=false skips the uniqueness check (a second pass over an already validated file).
  explicit Validator(const DeliveryDescription& description, std::size_t samples_per_kind = 5,
                     bool check_keys = true);

  // The first record. false (and a kHeader error) when names or order differ; later rows are
  // then only counted.
  bool Header(const CsvRecord& header);
  // A malformed record reported by the CsvReader (counted as a data record).
  void CsvError(const CsvProblem& problem);
  // Checks one data record; true and `row` filled when it is valid.
  bool Row(const CsvRecord& record, ParsedRow* row);
  // Call once after the last record: reports an empty delivery; releases the key set.
  void Finish();
  // Optional, before the first record: room for `records` keys (e.g. the file's line count),
  // so that the key set is not rehashed as it grows.
  void ReserveKeys(std::size_t records);
  // Whether a key seen by this validator was also seen by `other` (the validator of another
  // part of the same delivery). Before Finish().
  bool SharesKeyWith(const Validator& other) const;

  const ValidationReport& report() const { return report_; }

 private:
  void Add(ErrorKind kind, std::uint64_t line, std::string message);
  bool CheckField(const ColumnSpec& column, std::string_view field, std::uint64_t line,
                  Value* out);

  const DeliveryDescription& description_;
  std::size_t samples_per_kind_;
  bool header_seen_ = false;
  bool header_ok_ = false;
  // Keys must fit in memory: a key set per delivery, checked in the same pass. Each key is a
  // view of its bytes in `key_blocks_`, filled block by block (not one allocation per key).
  absl::string_view StoreKey(const std::string& key);
  std::vector<std::size_t> key_columns_;
  absl::flat_hash_set<absl::string_view> keys_;
  std::vector<std::unique_ptr<char[]>> key_blocks_;
  std::size_t key_block_used_ = 0;
  std::size_t key_block_size_ = 0;
  std::string key_buffer_;
  ValidationReport report_;
};

// Validates a whole CSV delivery against `description` (REQUIRES: CheckDescription ok): reads
// every record, the first as the header, and returns the report. `progress`, when set, is called
// every 16,384 records with (records so far, bytes read), for a long file's progress line.
ValidationReport ValidateCsv(
    const DeliveryDescription& description, std::string_view csv,
    const std::function<void(std::uint64_t records, std::size_t bytes)>& progress = {});

// YYYYMMDD of a real calendar date with year 1850..2099.
bool IsValidDate(std::string_view s);

}  // namespace enclave::delivery
