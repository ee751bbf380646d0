// Strict RFC 4180 CSV reading with UTF-8 validation and line numbers.
#include "enclave/delivery/csv_reader.h"

#include <utility>

namespace enclave::delivery {

std::size_t Utf8SequenceLength(std::string_view data) {
  if (data.empty()) return 0;
  const auto b0 = static_cast<unsigned char>(data[0]);
  if (b0 < 0x80) return 1;
  std::size_t len = 0;
  std::uint32_t cp = 0;
  if (b0 >= 0xC2 && b0 <= 0xDF) {
    len = 2;
    cp = b0 & 0x1Fu;
  } else if (b0 >= 0xE0 && b0 <= 0xEF) {
    len = 3;
    cp = b0 & 0x0Fu;
  } else if (b0 >= 0xF0 && b0 <= 0xF4) {
    len = 4;
    cp = b0 & 0x07u;
  } else {
    return 0;  // continuation byte, overlong 2-byte lead (C0/C1) or F5..FF
  }
  if (data.size() < len) return 0;
  for (std::size_t i = 1; i < len; ++i) {
    const auto b = static_cast<unsigned char>(data[i]);
    if ((b & 0xC0u) != 0x80u) return 0;
    cp = (cp << 6) | (b & 0x3Fu);
  }
  if (len == 3 && (cp < 0x800 || (cp >= 0xD800 && cp <= 0xDFFF))) return 0;  // overlong, surrogate
  if (len == 4 && (cp < 0x10000 || cp > 0x10FFFF)) return 0;
  return len;
}

CsvReader::CsvReader(std::string_view data) : data_(data) {
  if (data_.size() >= 3 && data_.substr(0, 3) == "\xEF\xBB\xBF") pos_ = 3;
}

CsvReader::Result CsvReader::Fail(CsvProblem* problem, CsvProblem::Kind kind, std::uint64_t line,
                                  std::string detail) {
  problem->kind = kind;
  problem->line = line;
  problem->detail = std::move(detail);
  SkipToNextLine();
  return Result::kError;
}

void CsvReader::SkipToNextLine() {
  while (pos_ < data_.size()) {
    const char c = data_[pos_++];
    if (c == '\n') {
      ++line_;
      return;
    }
  }
}

CsvReader::Result CsvReader::Next(CsvRecord* record, CsvProblem* problem) {
  if (pos_ >= data_.size()) return Result::kEnd;
  const std::uint64_t start_line = line_;
  record->line = start_line;
  std::size_t n_fields = 0;
  auto next_field = [&]() -> std::string& {
    if (record->fields.size() <= n_fields) record->fields.emplace_back();
    std::string& f = record->fields[n_fields++];
    f.clear();
    return f;
  };
  const std::size_t size = data_.size();
  for (;;) {
    std::string& field = next_field();
    if (pos_ < size && data_[pos_] == '"') {
      // Quoted field.
      const std::uint64_t quote_line = line_;
      ++pos_;
      for (;;) {
        if (pos_ >= size) {
          return Fail(problem, CsvProblem::Kind::kQuoting, quote_line,
                      "a quoted field has no closing quote");
        }
        const char c = data_[pos_];
        if (c == '"') {
          if (pos_ + 1 < size && data_[pos_ + 1] == '"') {
            field.push_back('"');
            pos_ += 2;
            continue;
          }
          ++pos_;
          break;
        }
        const auto u = static_cast<unsigned char>(c);
        if (u >= 0x80) {
          const std::size_t len = Utf8SequenceLength(data_.substr(pos_));
          if (len == 0) {
            return Fail(problem, CsvProblem::Kind::kEncoding, line_, "invalid UTF-8");
          }
          field.append(data_.data() + pos_, len);
          pos_ += len;
          continue;
        }
        if (c == '\n') {
          ++line_;
        } else if ((u < 0x20 && c != '\r' && c != '\t') || u == 0x7F) {
          return Fail(problem, CsvProblem::Kind::kEncoding, line_, "a control character");
        }
        field.push_back(c);
        ++pos_;
      }
      // After the closing quote: separator, line end or end of data.
      if (pos_ >= size) break;
      const char c = data_[pos_];
      if (c == ',') {
        ++pos_;
        continue;
      }
      if (c == '\n') {
        ++pos_;
        ++line_;
        break;
      }
      if (c == '\r' && pos_ + 1 < size && data_[pos_ + 1] == '\n') {
        pos_ += 2;
        ++line_;
        break;
      }
      return Fail(problem, CsvProblem::Kind::kQuoting, line_, "text after a closing quote");
    }
    // Unquoted field: scan the ASCII run quickly.
    const std::size_t begin = pos_;
    bool end_of_record = false;
    while (pos_ < size) {
      const char c = data_[pos_];
      const auto u = static_cast<unsigned char>(c);
      if (u >= 0x20 && u < 0x7F && c != '"' && c != ',') {
        ++pos_;
        continue;
      }
      if (c == ',') break;
      if (c == '\n') {
        end_of_record = true;
        break;
      }
      if (c == '\r' && pos_ + 1 < size && data_[pos_ + 1] == '\n') {
        end_of_record = true;
        break;
      }
      if (c == '"') {
        return Fail(problem, CsvProblem::Kind::kQuoting, line_,
                    "a quote inside an unquoted field");
      }
      if (u >= 0x80) {
        const std::size_t len = Utf8SequenceLength(data_.substr(pos_));
        if (len == 0) return Fail(problem, CsvProblem::Kind::kEncoding, line_, "invalid UTF-8");
        pos_ += len;
        continue;
      }
      if (c == '\t') {
        ++pos_;
        continue;
      }
      return Fail(problem, CsvProblem::Kind::kEncoding, line_, "a control character");
    }
    field.assign(data_.data() + begin, pos_ - begin);
    if (pos_ >= size) break;
    if (!end_of_record) {  // ','
      ++pos_;
      continue;
    }
    pos_ += data_[pos_] == '\r' ? std::size_t{2} : std::size_t{1};
    ++line_;
    break;
  }
  record->fields.resize(n_fields);
  return Result::kRecord;
}

}  // namespace enclave::delivery
