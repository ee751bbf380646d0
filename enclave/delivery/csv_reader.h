// A strict RFC 4180 CSV reader for deliveries (untrusted input: yes).
//
// Fields are separated by ',' and records by CRLF or LF; a field may be enclosed in double
// quotes, inside which a doubled quote stands for one quote and commas and line breaks are data.
// Every byte must be valid UTF-8 (no overlong forms, surrogates or code points above U+10FFFF),
// and no control character (C0 or DEL) is allowed other than tab (spacing, e.g. inside a BSN) and
// a line break inside a quoted field. A UTF-8 byte-order mark at the very start is skipped. A
// malformed record is reported with its line number and kind, and reading continues at the next
// line, so one pass counts every error.
//
//   CsvReader reader(file_bytes);
//   CsvRecord record;
//   CsvProblem problem;
//   while (true) {
//     CsvReader::Result r = reader.Next(&record, &problem);
//     if (r == CsvReader::Result::kEnd) break;
//     if (r == CsvReader::Result::kError) { /* problem.line, problem.kind */ continue; }
//     /* record.line, record.fields */
//   }
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace enclave::delivery {

struct CsvRecord {
  std::uint64_t line = 0;            // 1-based physical line on which the record starts
  std::vector<std::string> fields;   // capacity is reused across records
};

struct CsvProblem {
  enum class Kind {
    kEncoding,  // invalid UTF-8 or a control character
    kQuoting,   // a quote inside an unquoted field, text after a closing quote, or no closing quote
  };
  Kind kind = Kind::kEncoding;
  std::uint64_t line = 0;
  std::string detail;  // what was wrong, never the bytes themselves
};

class CsvReader {
 public:
  enum class Result { kRecord, kError, kEnd };

  // `data` must outlive the reader.
  explicit CsvReader(std::string_view data);

  // Reads the next record into `record` (kRecord), or describes a malformed one in `problem`
  // and skips to the line after it (kError), or kEnd. A final line break is optional; empty
  // lines are records with one empty field.
  Result Next(CsvRecord* record, CsvProblem* problem);

  // Bytes consumed so far (for progress display).
  std::size_t offset() const { return pos_; }

 private:
  Result Fail(CsvProblem* problem, CsvProblem::Kind kind, std::uint64_t line, std::string detail);
  void SkipToNextLine();

  std::string_view data_;
  std::size_t pos_ = 0;
  std::uint64_t line_ = 1;
};

// Length of the valid UTF-8 sequence starting at data[0], or 0 if it is invalid or truncated.
std::size_t Utf8SequenceLength(std::string_view data);

}  // namespace enclave::delivery
