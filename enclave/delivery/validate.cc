// Record validation against a delivery description; the validation report.
#include "enclave/delivery/validate.h"

#include <algorithm>
#include <charconv>
#include <cstring>
#include <set>
#include <utility>

#include "absl/strings/str_cat.h"
#include "enclave/delivery/bsn.h"

namespace enclave::delivery {

bool IsIdentifier(const std::string& name) {
  if (name.empty() || name.size() > 63 || name[0] < 'a' || name[0] > 'z') return false;
  return std::all_of(name.begin(), name.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_';
  });
}

absl::Status CheckDescription(const DeliveryDescription& d) {
  if (!IsIdentifier(d.dataset)) {
    return absl::InvalidArgumentError("delivery description: dataset must match [a-z][a-z0-9_]*");
  }
  if (d.holder.empty()) {
    return absl::InvalidArgumentError("delivery description: holder (the data holder) is required");
  }
  if (d.columns.empty()) return absl::InvalidArgumentError("delivery description: no columns");
  std::set<std::string> names;
  std::set<std::string> targets;
  for (const ColumnSpec& c : d.columns) {
    const std::string who = "delivery description: column '" + c.name + "': ";
    if (!IsIdentifier(c.name)) {
      return absl::InvalidArgumentError("delivery description: a column name must match "
                                        "[a-z][a-z0-9_]*");
    }
    if (!names.insert(c.name).second) return absl::InvalidArgumentError(who + "listed twice");
    if (!IsIdentifier(c.Target())) {
      return absl::InvalidArgumentError(who + "target must match [a-z][a-z0-9_]*");
    }
    if (!targets.insert(c.Target()).second) {
      return absl::InvalidArgumentError(who + "target column used twice");
    }
    if (!c.target_kind.empty()) {
      if (c.type != ColumnType::kBsn) {
        return absl::InvalidArgumentError(who + "target_kind is allowed on BSN columns only");
      }
      if (!IsIdentifier(c.target_kind) || !targets.insert(c.target_kind).second) {
        return absl::InvalidArgumentError(who + "target_kind must be a new [a-z][a-z0-9_]* column");
      }
    }
    if ((c.type == ColumnType::kBsn || c.type == ColumnType::kDate || c.type == ColumnType::kReal) &&
        !c.allowed.empty()) {
      return absl::InvalidArgumentError(who + "allowed values apply to text and integer columns");
    }
    if ((c.min || c.max) && c.type != ColumnType::kInteger) {
      return absl::InvalidArgumentError(who + "min and max apply to integer columns");
    }
    if (c.min && c.max && *c.min > *c.max) {
      return absl::InvalidArgumentError(who + "min is greater than max");
    }
    if (c.max_length == 0) return absl::InvalidArgumentError(who + "max_length must be positive");
  }
  std::set<std::string> key;
  for (const std::string& k : d.key) {
    if (names.count(k) == 0) {
      return absl::InvalidArgumentError("delivery description: key column '" + k +
                                        "' is not a column");
    }
    if (!key.insert(k).second) {
      return absl::InvalidArgumentError("delivery description: key column '" + k +
                                        "' listed twice");
    }
  }
  return absl::OkStatus();
}

const char* ErrorKindName(ErrorKind kind) {
  switch (kind) {
    case ErrorKind::kHeader: return "header";
    case ErrorKind::kColumnCount: return "column_count";
    case ErrorKind::kEncoding: return "encoding";
    case ErrorKind::kQuoting: return "quoting";
    case ErrorKind::kType: return "type";
    case ErrorKind::kDomain: return "domain";
    case ErrorKind::kMissing: return "missing";
    case ErrorKind::kInvalidBsn: return "invalid_bsn";
    case ErrorKind::kDuplicateKey: return "duplicate_key";
    case ErrorKind::kEmpty: return "empty";
  }
  return "unknown";
}

std::uint64_t ValidationReport::Errors() const {
  std::uint64_t n = 0;
  for (std::uint64_t c : counts) n += c;
  return n;
}

std::string ValidationReport::ToText() const {
  std::string out = absl::StrCat("records: ", records, ", valid: ", valid_records,
                                 ", errors: ", Errors(), "\n");
  for (std::size_t k = 0; k < kErrorKindCount; ++k) {
    if (counts[k] == 0) continue;
    absl::StrAppend(&out, "  ", ErrorKindName(static_cast<ErrorKind>(k)), ": ", counts[k], "\n");
    for (const ErrorSample& s : samples[k]) {
      absl::StrAppend(&out, "    line ", s.line, ": ", s.message, "\n");
    }
    if (counts[k] > samples[k].size()) {
      absl::StrAppend(&out, "    ... and ", counts[k] - samples[k].size(), " more\n");
    }
  }
  return out;
}

std::string ValidationReport::ToKeyValue() const {
  std::string out = absl::StrCat("records=", records, " valid=", valid_records, " errors=", Errors());
  for (std::size_t k = 0; k < kErrorKindCount; ++k) {
    absl::StrAppend(&out, " ", ErrorKindName(static_cast<ErrorKind>(k)), "=", counts[k]);
  }
  return out;
}

bool IsValidDate(std::string_view s) {
  if (s.size() != 8) return false;
  int v[8];
  for (std::size_t i = 0; i < 8; ++i) {
    if (s[i] < '0' || s[i] > '9') return false;
    v[i] = s[i] - '0';
  }
  const int year = v[0] * 1000 + v[1] * 100 + v[2] * 10 + v[3];
  const int month = v[4] * 10 + v[5];
  const int day = v[6] * 10 + v[7];
  if (year < 1850 || year > 2099 || month < 1 || month > 12 || day < 1) return false;
  static constexpr int kDays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  const bool leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
  const int max_day = kDays[month - 1] + (month == 2 && leap ? 1 : 0);
  return day <= max_day;
}

Validator::Validator(const DeliveryDescription& description, std::size_t samples_per_kind,
                     bool check_keys)
    : description_(description), samples_per_kind_(samples_per_kind) {
  if (!check_keys) return;
  for (const std::string& k : description_.key) {
    for (std::size_t i = 0; i < description_.columns.size(); ++i) {
      if (description_.columns[i].name == k) key_columns_.push_back(i);
    }
  }
}

void Validator::Add(ErrorKind kind, std::uint64_t line, std::string message) {
  const auto k = static_cast<std::size_t>(kind);
  ++report_.counts[k];
  if (report_.samples[k].size() < samples_per_kind_) {
    report_.samples[k].push_back(ErrorSample{line, std::move(message)});
  }
}

bool Validator::Header(const CsvRecord& header) {
  header_seen_ = true;
  const auto& cols = description_.columns;
  bool ok = header.fields.size() == cols.size();
  for (std::size_t i = 0; ok && i < cols.size(); ++i) ok = header.fields[i] == cols[i].name;
  if (!ok) {
    std::string expected;
    for (const ColumnSpec& c : cols) absl::StrAppend(&expected, expected.empty() ? "" : ",", c.name);
    Add(ErrorKind::kHeader, header.line,
        absl::StrCat("header has ", header.fields.size(), " fields; expected exactly: ", expected));
  }
  header_ok_ = ok;
  return ok;
}

void Validator::CsvError(const CsvProblem& problem) {
  if (header_seen_) ++report_.records;
  header_seen_ = true;
  Add(problem.kind == CsvProblem::Kind::kEncoding ? ErrorKind::kEncoding : ErrorKind::kQuoting,
      problem.line, problem.detail);
}

bool Validator::CheckField(const ColumnSpec& c, std::string_view f, std::uint64_t line, Value* out) {
  auto fail = [&](ErrorKind kind, std::string what) {
    Add(kind, line, absl::StrCat("column '", c.name, "': ", what));
    return false;
  };
  if (f.empty() && c.type != ColumnType::kBsn) {
    if (!c.optional) return fail(ErrorKind::kMissing, "empty in a required column");
    out->kind = Value::Kind::kNull;
    return true;
  }
  switch (c.type) {
    case ColumnType::kBsn: {
      bool blank = std::all_of(f.begin(), f.end(), [](char ch) { return ch == ' ' || ch == '\t'; });
      if (blank) {
        if (!c.optional) return fail(ErrorKind::kMissing, "empty in a required column");
        out->kind = Value::Kind::kNull;
        return true;
      }
      BsnProblem problem = BsnProblem::kNone;
      std::optional<std::string> bsn = CanonicalBsn(f, &problem);
      if (!bsn) {
        return fail(ErrorKind::kInvalidBsn,
                    absl::StrCat("BSN ", MaskBsn(f), " ", BsnProblemText(problem)));
      }
      out->kind = Value::Kind::kText;
      out->text = std::move(*bsn);
      return true;
    }
    case ColumnType::kText:
      if (f.size() > c.max_length) {
        return fail(ErrorKind::kType, absl::StrCat("longer than ", c.max_length, " bytes"));
      }
      if (!c.allowed.empty() &&
          std::find(c.allowed.begin(), c.allowed.end(), f) == c.allowed.end()) {
        return fail(ErrorKind::kDomain, "value not in the allowed list");
      }
      out->kind = Value::Kind::kText;
      out->text.assign(f.data(), f.size());
      return true;
    case ColumnType::kInteger: {
      std::int64_t v = 0;
      const char* begin = f.data();
      const char* end = f.data() + f.size();
      const bool plus = f.front() == '+';
      const auto [ptr, ec] = std::from_chars(begin + (plus ? 1 : 0), end, v);
      if (ec != std::errc() || ptr != end || (plus && f.size() > 1 && f[1] == '-')) {
        return fail(ErrorKind::kType, "not a 64-bit integer");
      }
      if ((c.min && v < *c.min) || (c.max && v > *c.max)) {
        return fail(ErrorKind::kDomain, absl::StrCat("outside [", c.min ? *c.min : INT64_MIN, ", ",
                                                     c.max ? *c.max : INT64_MAX, "]"));
      }
      if (!c.allowed.empty() &&
          std::find(c.allowed.begin(), c.allowed.end(), f) == c.allowed.end()) {
        return fail(ErrorKind::kDomain, "value not in the allowed list");
      }
      out->kind = Value::Kind::kInteger;
      out->integer = v;
      return true;
    }
    case ColumnType::kDate:
      if (!IsValidDate(f)) return fail(ErrorKind::kType, "not a date YYYYMMDD in 1850..2099");
      out->kind = Value::Kind::kText;
      out->text.assign(f.data(), f.size());
      return true;
    case ColumnType::kReal: {
      double v = 0;
      const auto [ptr, ec] = std::from_chars(f.data(), f.data() + f.size(), v,
                                             std::chars_format::fixed);
      if (ec != std::errc() || ptr != f.data() + f.size()) {
        return fail(ErrorKind::kType, "not a decimal number");
      }
      out->kind = Value::Kind::kReal;
      out->real = v;
      return true;
    }
  }
  return fail(ErrorKind::kType, "unknown column type");
}

bool Validator::Row(const CsvRecord& record, ParsedRow* row) {
  if (!header_seen_) {  // the first record is the header
    Header(record);
    return false;
  }
  ++report_.records;
  if (!header_ok_) return false;
  const auto& cols = description_.columns;
  if (record.fields.size() != cols.size()) {
    Add(ErrorKind::kColumnCount, record.line,
        absl::StrCat(record.fields.size(), " fields; expected ", cols.size()));
    return false;
  }
  row->values.resize(cols.size());
  bool ok = true;
  for (std::size_t i = 0; i < cols.size(); ++i) {
    ok = CheckField(cols[i], record.fields[i], record.line, &row->values[i]) && ok;
  }
  if (!ok) return false;
  if (!key_columns_.empty()) {
    key_buffer_.clear();
    for (std::size_t i : key_columns_) {
      const Value& v = row->values[i];
      switch (v.kind) {
        case Value::Kind::kNull: key_buffer_.append("\x01"); break;
        case Value::Kind::kInteger: absl::StrAppend(&key_buffer_, "i", v.integer); break;
        case Value::Kind::kReal: absl::StrAppend(&key_buffer_, "r", v.real); break;
        case Value::Kind::kText: key_buffer_.append(v.text); break;
      }
      key_buffer_.push_back('\0');
    }
    // Copied to the key blocks first; a duplicate gives its bytes back.
    const std::size_t used = key_block_used_;
    const std::size_t blocks = key_blocks_.size();
    if (!keys_.insert(StoreKey(key_buffer_)).second) {
      if (key_blocks_.size() == blocks) key_block_used_ = used;
      Add(ErrorKind::kDuplicateKey, record.line, "key already seen on an earlier line");
      return false;
    }
  }
  ++report_.valid_records;
  return true;
}

void Validator::Finish() {
  if (!header_seen_) {
    Add(ErrorKind::kEmpty, 1, "no header line");
  } else if (report_.records == 0) {
    Add(ErrorKind::kEmpty, 1, "no data records after the header");
  }
  absl::flat_hash_set<absl::string_view>().swap(keys_);
  std::vector<std::unique_ptr<char[]>>().swap(key_blocks_);
  key_block_used_ = key_block_size_ = 0;
}

bool Validator::SharesKeyWith(const Validator& other) const {
  const Validator& small = keys_.size() <= other.keys_.size() ? *this : other;
  const Validator& large = &small == this ? other : *this;
  for (const absl::string_view key : small.keys_) {
    if (large.keys_.contains(key)) return true;
  }
  return false;
}

void Validator::ReserveKeys(std::size_t records) {
  if (!key_columns_.empty()) keys_.reserve(records);
}

absl::string_view Validator::StoreKey(const std::string& key) {
  constexpr std::size_t kBlock = 1 << 20;
  if (key_blocks_.empty() || key_block_size_ - key_block_used_ < key.size()) {
    key_block_size_ = std::max(kBlock, key.size());
    key_blocks_.push_back(std::unique_ptr<char[]>(new char[key_block_size_]));
    key_block_used_ = 0;
  }
  char* at = key_blocks_.back().get() + key_block_used_;
  std::memcpy(at, key.data(), key.size());
  key_block_used_ += key.size();
  return absl::string_view(at, key.size());
}

ValidationReport ValidateCsv(
    const DeliveryDescription& description, std::string_view csv,
    const std::function<void(std::uint64_t records, std::size_t bytes)>& progress) {
  Validator validator(description);
  validator.ReserveKeys(static_cast<std::size_t>(std::count(csv.begin(), csv.end(), '\n')) + 1);
  CsvReader reader(csv);
  CsvRecord record;
  CsvProblem problem;
  ParsedRow row;
  bool header = true;
  std::uint64_t n = 0;
  for (;;) {
    const CsvReader::Result r = reader.Next(&record, &problem);
    if (r == CsvReader::Result::kEnd) break;
    if (r == CsvReader::Result::kError) {
      validator.CsvError(problem);
    } else if (header) {
      validator.Header(record);
    } else {
      validator.Row(record, &row);
    }
    header = false;
    if ((++n & 0x3FFF) == 0 && progress) progress(n, reader.offset());
  }
  validator.Finish();
  return validator.report();
}

}  // namespace enclave::delivery
