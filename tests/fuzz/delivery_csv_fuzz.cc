// Deliveries (enclave/delivery): the strict RFC 4180 CSV reader and the validation of its records
// against a delivery description, as `enclave-steward validate|load` runs them. Input: the first
// byte picks one of the shipped descriptions (policies/deliveries/*.textproto) and the rest is the
// CSV file; a first byte of 0xFF instead makes the rest a description file (ParseDescription),
// whose accepted descriptions then validate a small CSV of their own.
// Properties:
//   - the reader always advances and ends; every field it returns is valid UTF-8 without control
//     characters other than tab and line breaks; line numbers never go back;
//   - the report counts every data record once and never more valid ones than records; a valid
//     row has one typed value per column within its domain (canonical BSN, range, allowed list,
//     length, real date);
//   - the report never contains field text: any field holding "LEAK" (the seeds put it in every
//     kind of column) must not appear in the report's text or key=value line.
#include <algorithm>
#include <filesystem>
#include <string>
#include <string_view>
#include <vector>

#include "enclave/delivery/bsn.h"
#include "enclave/delivery/csv_reader.h"
#include "enclave/delivery/validate.h"
#include "enclave/steward/description_file.h"
#include "tests/fuzz/fuzz_common.h"

namespace {

namespace delivery = enclave::delivery;

const std::vector<delivery::DeliveryDescription>& Descriptions() {
  static const auto* list = [] {
    auto* out = new std::vector<delivery::DeliveryDescription>();
    std::vector<std::filesystem::path> files;
    for (const auto& e :
         std::filesystem::directory_iterator(ENCLAVE_SOURCE_DIR "/policies/deliveries")) {
      if (e.path().extension() == ".textproto") files.push_back(e.path());
    }
    std::sort(files.begin(), files.end());
    for (const auto& f : files) {
      absl::StatusOr<delivery::DeliveryDescription> d = enclave::steward::LoadDescription(f);
      FUZZ_CHECK(d.ok(), d.status().ToString());
      out->push_back(*std::move(d));
    }
    FUZZ_CHECK(!out->empty(), "no delivery descriptions in policies/deliveries");
    return out;
  }();
  return *list;
}

bool CleanField(std::string_view f) {
  for (std::size_t i = 0; i < f.size();) {
    const std::size_t n = delivery::Utf8SequenceLength(f.substr(i));
    if (n == 0) return false;
    const auto c = static_cast<unsigned char>(f[i]);
    if (n == 1 && (c < 0x20 || c == 0x7F) && c != '\n' && c != '\r' && c != '\t') return false;
    i += n;
  }
  return true;
}

void CheckValue(const delivery::ColumnSpec& c, const delivery::Value& v) {
  using K = delivery::Value::Kind;
  if (v.kind == K::kNull) {
    FUZZ_CHECK(c.optional, "NULL in required column " + c.name);
    return;
  }
  switch (c.type) {
    case delivery::ColumnType::kBsn:
      FUZZ_CHECK(v.kind == K::kText && delivery::IsCanonicalBsn(v.text),
                 "a non-canonical BSN in column " + c.name);
      break;
    case delivery::ColumnType::kText:
      FUZZ_CHECK(v.kind == K::kText && v.text.size() <= c.max_length,
                 "text too long in column " + c.name);
      FUZZ_CHECK(c.allowed.empty() ||
                     std::find(c.allowed.begin(), c.allowed.end(), v.text) != c.allowed.end(),
                 "text outside the allowed list in column " + c.name);
      break;
    case delivery::ColumnType::kInteger:
      FUZZ_CHECK(v.kind == K::kInteger && (!c.min || v.integer >= *c.min) &&
                     (!c.max || v.integer <= *c.max),
                 "integer outside its range in column " + c.name);
      break;
    case delivery::ColumnType::kDate:
      FUZZ_CHECK(v.kind == K::kText && delivery::IsValidDate(v.text),
                 "an invalid date in column " + c.name);
      break;
    case delivery::ColumnType::kReal:
      FUZZ_CHECK(v.kind == K::kReal, "not a real in column " + c.name);
      break;
  }
}

void Validate(const delivery::DeliveryDescription& d, std::string_view csv) {
  delivery::CsvReader reader(csv);
  delivery::Validator validator(d);
  delivery::CsvRecord record;
  delivery::CsvProblem problem;
  delivery::ParsedRow row;
  std::uint64_t results = 0;
  std::uint64_t valid = 0;
  std::uint64_t last_line = 0;
  bool leak_in_input = false;
  for (std::size_t last_offset = reader.offset();;) {
    const delivery::CsvReader::Result r = reader.Next(&record, &problem);
    if (r == delivery::CsvReader::Result::kEnd) break;
    FUZZ_CHECK(reader.offset() > last_offset, "the reader did not advance");
    last_offset = reader.offset();
    FUZZ_CHECK(results < csv.size() + 2, "more records than bytes");
    ++results;
    if (r == delivery::CsvReader::Result::kError) {
      FUZZ_CHECK(problem.line >= last_line && !problem.detail.empty(), "a bad problem report");
      last_line = problem.line;
      validator.CsvError(problem);
      continue;
    }
    FUZZ_CHECK(record.line >= last_line, "line numbers went back");
    last_line = record.line;
    for (const std::string& f : record.fields) {
      FUZZ_CHECK(CleanField(f), "a field with invalid UTF-8 or a control character");
      if (f.find("LEAK") != std::string::npos) leak_in_input = true;
    }
    if (results == 1) {
      validator.Header(record);
      continue;
    }
    if (validator.Row(record, &row)) {
      ++valid;
      FUZZ_CHECK(row.values.size() == d.columns.size(), "a row without one value per column");
      for (std::size_t i = 0; i < d.columns.size(); ++i) CheckValue(d.columns[i], row.values[i]);
    }
  }
  validator.Finish();
  const delivery::ValidationReport& report = validator.report();
  FUZZ_CHECK(report.records == (results == 0 ? 0 : results - 1),
             "the report counts " + std::to_string(report.records) + " records of " +
                 std::to_string(results == 0 ? 0 : results - 1));
  FUZZ_CHECK(report.valid_records == valid && valid <= report.records, "valid records miscounted");
  FUZZ_CHECK(report.ok() == (report.Errors() == 0), "ok() disagrees with Errors()");
  const std::string text = report.ToText();
  const std::string kv = report.ToKeyValue();
  enclave::fuzz::Say(d.dataset, kv);
  if (leak_in_input || csv.find("LEAK") != std::string_view::npos) {
    FUZZ_CHECK(text.find("LEAK") == std::string::npos && kv.find("LEAK") == std::string::npos,
               "the validation report contains field text");
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) return 0;
  const std::string_view rest(reinterpret_cast<const char*>(data) + 1, size - 1);
  if (data[0] == 0xFF) {
    absl::StatusOr<delivery::DeliveryDescription> d =
        enclave::steward::ParseDescription(std::string(rest), "fuzz.textproto");
    if (!d.ok()) {
      FUZZ_CHECK(!d.status().message().empty(), "a refusal without a message");
      return 0;
    }
    FUZZ_CHECK(delivery::CheckDescription(*d).ok(), "accepted an inconsistent description");
    std::string csv;
    std::string empty_row;
    for (const delivery::ColumnSpec& c : d->columns) {
      csv += (csv.empty() ? "" : ",") + c.name;
      if (&c != &d->columns.front()) empty_row += ",";
    }
    Validate(*d, csv + "\n" + empty_row + "\n" + empty_row + "\n");
    return 0;
  }
  const auto& descriptions = Descriptions();
  Validate(descriptions[data[0] % descriptions.size()], rest);
  return 0;
}
