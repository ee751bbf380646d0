// The pure delivery library: strict CSV, BSN canonicalisation and the validation report.
#include <string>
#include <vector>

#include "doctest/doctest.h"
#include "enclave/delivery/bsn.h"
#include "enclave/delivery/csv_reader.h"
#include "enclave/delivery/validate.h"

namespace enclave::delivery {
namespace {

struct Parsed {
  std::vector<std::vector<std::string>> records;
  std::vector<std::uint64_t> lines;
  std::vector<CsvProblem> problems;
};

Parsed ParseAll(std::string_view data) {
  Parsed out;
  CsvReader reader(data);
  CsvRecord record;
  CsvProblem problem;
  for (;;) {
    const CsvReader::Result r = reader.Next(&record, &problem);
    if (r == CsvReader::Result::kEnd) break;
    if (r == CsvReader::Result::kError) {
      out.problems.push_back(problem);
      continue;
    }
    out.records.push_back(record.fields);
    out.lines.push_back(record.line);
  }
  return out;
}

// A BSN passing the 11-check: 9*1+8*2+7*3+6*4+5*5+4*6+3*7+2*8 = 156, 156 mod 11 = 2.
constexpr char kBsn[] = "123456782";

}  // namespace

TEST_SUITE("CsvReader") {
  TEST_CASE("RFC 4180 quoting: doubled quotes, commas and line breaks inside quotes") {
    const Parsed p = ParseAll("a,b,c\r\n\"x,1\",\"say \"\"hi\"\"\",\"two\nlines\"\n4,,6");
    REQUIRE(p.problems.empty());
    REQUIRE(p.records.size() == 3);
    CHECK(p.records[1] == std::vector<std::string>{"x,1", "say \"hi\"", "two\nlines"});
    CHECK(p.records[2] == std::vector<std::string>{"4", "", "6"});
    CHECK(p.lines == std::vector<std::uint64_t>{1, 2, 4});
  }

  TEST_CASE("malformed quoting is reported with its line and reading goes on") {
    const Parsed p = ParseAll("h\nab\"c\n\"x\"y\nok\n\"open");
    REQUIRE(p.problems.size() == 3);
    CHECK(p.problems[0].line == 2);
    CHECK(p.problems[0].kind == CsvProblem::Kind::kQuoting);
    CHECK(p.problems[1].line == 3);
    CHECK(p.problems[2].line == 5);
    REQUIRE(p.records.size() == 2);
    CHECK(p.records[1][0] == "ok");
  }

  TEST_CASE("invalid UTF-8 and control characters are encoding errors, a BOM is skipped") {
    CHECK(ParseAll("\xEF\xBB\xBFh\n\xC3\xA9t\xC3\xA9\n").problems.empty());
    CHECK(ParseAll("\xEF\xBB\xBFh\n").records[0][0] == "h");
    for (const char* bad : {"a\xC3\n", "a\xC0\xAF\n", "\xED\xA0\x80\n", "\xF5\x80\x80\x80\n",
                            "a\x01" "b\n", "\"a\xFF\"\n", "\x80\n", "a\x7F" "b\n", "\"a\x7F\"\n"}) {
      CAPTURE(std::string(bad));
      const Parsed p = ParseAll(std::string("h\n") + bad);
      REQUIRE(p.problems.size() == 1);
      CHECK(p.problems[0].kind == CsvProblem::Kind::kEncoding);
      CHECK(p.problems[0].line == 2);
    }
  }
}

TEST_SUITE("Bsn") {
  TEST_CASE("spacing and leading zeros give one canonical BSN") {
    CHECK(CanonicalBsn(kBsn) == std::string(kBsn));
    CHECK(CanonicalBsn(" 1234 567 82\t") == std::string(kBsn));
    // An 8-digit number whose zero-padded form passes is that BSN without its leading zero.
    for (std::uint32_t v = 10000000; v < 10000200; ++v) {
      const std::string eight = std::to_string(v);
      const std::string nine = "0" + eight;
      if (!IsCanonicalBsn(nine)) continue;
      CHECK(CanonicalBsn(eight) == nine);
      CHECK(CanonicalBsn("00" + nine.substr(1)) == std::nullopt);  // 10 characters: too long
    }
  }

  TEST_CASE("invalid BSNs are rejected with their reason") {
    BsnProblem p = BsnProblem::kNone;
    CHECK_FALSE(CanonicalBsn("123456781", &p));
    CHECK(p == BsnProblem::kCheckFailed);
    CHECK_FALSE(CanonicalBsn("000000000", &p));
    CHECK(p == BsnProblem::kCheckFailed);
    CHECK_FALSE(CanonicalBsn("12345678a", &p));
    CHECK(p == BsnProblem::kNotDigits);
    CHECK_FALSE(CanonicalBsn("1234567820", &p));
    CHECK(p == BsnProblem::kTooLong);
    CHECK_FALSE(CanonicalBsn("  ", &p));
    CHECK(p == BsnProblem::kEmpty);
    CHECK_FALSE(CanonicalBsn("-23456782", &p));
    // Every single-digit change of a valid BSN fails the 11-check (weights 9..2 and -1 are all
    // nonzero mod 11).
    int rejected = 0;
    for (std::size_t i = 0; i < 9; ++i) {
      for (char d = '0'; d <= '9'; ++d) {
        std::string s = kBsn;
        if (s[i] == d) continue;
        s[i] = d;
        rejected += CanonicalBsn(s) ? 0 : 1;
      }
    }
    CHECK(rejected == 81);
  }

  TEST_CASE("a masked BSN shows only its last two characters") {
    CHECK(MaskBsn(kBsn) == "*******82");
    CHECK(MaskBsn(" 1234 567 82 ") == "*******82");
    CHECK(MaskBsn("7") == "*******7");
    CHECK(MaskBsn("12\x01") == "*******2?");
  }
}

namespace {

ColumnSpec Column(std::string name, ColumnType type) {
  ColumnSpec c;
  c.name = std::move(name);
  c.type = type;
  return c;
}

DeliveryDescription Description() {
  DeliveryDescription d;
  d.dataset = "bijstandpersoonbus";
  d.holder = "gemeente Leidschendam-Voorburg";
  ColumnSpec bsn = Column("bsn", ColumnType::kBsn);
  bsn.target = "rinpersoon";
  bsn.target_kind = "rinpersoons";
  d.columns.push_back(bsn);
  d.columns.push_back(Column("uitkering_id", ColumnType::kText));
  ColumnSpec code = Column("statistiekcode", ColumnType::kText);
  code.allowed = {"ALG", "IOAW", "IOAZ", "BBZ", "TOZO"};
  d.columns.push_back(code);
  d.columns.push_back(Column("aanvang", ColumnType::kDate));
  ColumnSpec trede = Column("trede", ColumnType::kInteger);
  trede.min = 1;
  trede.max = 6;
  d.columns.push_back(trede);
  ColumnSpec reden = Column("reden", ColumnType::kText);
  reden.optional = true;
  d.columns.push_back(reden);
  d.key = {"bsn", "uitkering_id"};
  return d;
}

ValidationReport Validate(const DeliveryDescription& d, std::string_view csv) {
  return ValidateCsv(d, csv);
}

constexpr char kHeader[] = "bsn,uitkering_id,statistiekcode,aanvang,trede,reden\n";

}  // namespace

TEST_SUITE("Validator") {
  TEST_CASE("a valid delivery has no errors and typed values") {
    REQUIRE(CheckDescription(Description()).ok());
    const DeliveryDescription d = Description();
    Validator v(d);
    CsvRecord header{1, {"bsn", "uitkering_id", "statistiekcode", "aanvang", "trede", "reden"}};
    REQUIRE(v.Header(header));
    ParsedRow row;
    REQUIRE(v.Row(CsvRecord{2, {" 12345 6782", "U1", "ALG", "20240229", "3", ""}}, &row));
    CHECK(row.values[0].text == kBsn);
    CHECK(row.values[4].integer == 3);
    CHECK(row.values[5].kind == Value::Kind::kNull);
    v.Finish();
    CHECK(v.report().ok());
    CHECK(v.report().valid_records == 1);
  }

  TEST_CASE("each error kind is counted with its line numbers and no BSN in the report") {
    const DeliveryDescription d = Description();
    SUBCASE("header") {
      const ValidationReport r = Validate(d, "bsn,uitkering,statistiekcode,aanvang,trede,reden\n"
                                             "123456782,U1,ALG,20240101,1,\n");
      CHECK(r.counts[static_cast<std::size_t>(ErrorKind::kHeader)] == 1);
      CHECK(r.samples[0][0].line == 1);
    }
    SUBCASE("column count, type, domain, missing, BSN, duplicate") {
      const std::string csv = std::string(kHeader) +
                              "123456782,U1,ALG,20240101,1,\n"          // 2 ok
                              "123456782,U2,ALG,20240101\n"             // 3 column count
                              "123456782,U3,ALG,20240230,1,\n"          // 4 type (date)
                              "123456782,U4,ALG,20240101,x,\n"          // 5 type (integer)
                              "123456782,U5,XYZ,20240101,1,\n"          // 6 domain (list)
                              "123456782,U6,ALG,20240101,7,\n"          // 7 domain (range)
                              "123456782,,ALG,20240101,1,\n"            // 8 missing
                              "123456781,U9,ALG,20240101,1,\n"          // 9 invalid BSN
                              "  12345 6782,U1,ALG,20240101,2,\n"       // 10 duplicate key
                              "123456782,U11,ALG,20240101,1,\"a\"b\n"  // 11 quoting
                              "123456782,U12,ALG,20240101,1,\xff\n";    // 12 encoding
      const ValidationReport r = Validate(d, csv);
      auto count = [&](ErrorKind k) { return r.counts[static_cast<std::size_t>(k)]; };
      auto first_line = [&](ErrorKind k) {
        return r.samples[static_cast<std::size_t>(k)].at(0).line;
      };
      CHECK(r.records == 11);
      CHECK(r.valid_records == 1);
      CHECK(count(ErrorKind::kColumnCount) == 1);
      CHECK(first_line(ErrorKind::kColumnCount) == 3);
      CHECK(count(ErrorKind::kType) == 2);
      CHECK(first_line(ErrorKind::kType) == 4);
      CHECK(count(ErrorKind::kDomain) == 2);
      CHECK(first_line(ErrorKind::kDomain) == 6);
      CHECK(count(ErrorKind::kMissing) == 1);
      CHECK(first_line(ErrorKind::kMissing) == 8);
      CHECK(count(ErrorKind::kInvalidBsn) == 1);
      CHECK(first_line(ErrorKind::kInvalidBsn) == 9);
      CHECK(count(ErrorKind::kDuplicateKey) == 1);
      CHECK(first_line(ErrorKind::kDuplicateKey) == 10);
      CHECK(count(ErrorKind::kQuoting) == 1);
      CHECK(first_line(ErrorKind::kQuoting) == 11);
      CHECK(count(ErrorKind::kEncoding) == 1);
      CHECK(first_line(ErrorKind::kEncoding) == 12);
      const std::string text = r.ToText() + r.ToKeyValue();
      CHECK(text.find("123456781") == std::string::npos);
      CHECK(text.find("1234567") == std::string::npos);
      CHECK(text.find("*******81") != std::string::npos);
      CHECK(r.ToKeyValue().find("invalid_bsn=1") != std::string::npos);
    }
    SUBCASE("empty") {
      CHECK(Validate(d, "").counts[static_cast<std::size_t>(ErrorKind::kEmpty)] == 1);
      CHECK(Validate(d, kHeader).counts[static_cast<std::size_t>(ErrorKind::kEmpty)] == 1);
    }
  }

  TEST_CASE("only the first few lines per kind are kept, all are counted") {
    std::string csv = kHeader;
    for (int i = 0; i < 20; ++i) csv += "123456782,U" + std::to_string(i) + ",ALG,2024,1,\n";
    const ValidationReport r = Validate(Description(), csv);
    CHECK(r.counts[static_cast<std::size_t>(ErrorKind::kType)] == 20);
    CHECK(r.samples[static_cast<std::size_t>(ErrorKind::kType)].size() == 5);
    CHECK(r.ToText().find("... and 15 more") != std::string::npos);
  }

  TEST_CASE("descriptions with inconsistent columns are refused") {
    DeliveryDescription d = Description();
    d.key = {"nope"};
    CHECK(CheckDescription(d).code() == absl::StatusCode::kInvalidArgument);
    d = Description();
    d.columns[1].name = "bsn";
    CHECK_FALSE(CheckDescription(d).ok());
    d = Description();
    d.columns[1].target_kind = "x";
    CHECK_FALSE(CheckDescription(d).ok());
    d = Description();
    d.dataset = "drop table;";
    CHECK_FALSE(CheckDescription(d).ok());
    d = Description();
    d.columns[4].min = 9;
    CHECK_FALSE(CheckDescription(d).ok());
  }

  TEST_CASE("10,000 random mutations of a delivery never crash and never leak a BSN") {
    std::string base = kHeader;
    for (int i = 0; i < 20; ++i) base += std::string(kBsn) + ",U" + std::to_string(i) + ",ALG,20240101,1,\n";
    std::uint64_t state = 12345;
    auto next = [&state]() {
      state = state * 6364136223846793005ULL + 1442695040888963407ULL;
      return state >> 33;
    };
    const char alphabet[] = {',', '"', '\n', '\r', '\xff', '\xc3', '0', '9', ' ', 'a', '\x01'};
    int refused = 0;
    for (int round = 0; round < 10000; ++round) {
      std::string csv = base;
      const int edits = 1 + static_cast<int>(next() % 4);
      for (int e = 0; e < edits; ++e) {
        const std::size_t at = next() % csv.size();
        csv[at] = alphabet[next() % sizeof(alphabet)];
      }
      const ValidationReport r = Validate(Description(), csv);
      CHECK(r.valid_records <= r.records);
      refused += r.ok() ? 0 : 1;
      const std::string text = r.ToText();
      REQUIRE(text.find("1234567") == std::string::npos);
    }
    CHECK(refused > 9000);
  }

  TEST_CASE("dates are real calendar dates") {
    CHECK(IsValidDate("20240229"));
    CHECK_FALSE(IsValidDate("20230229"));
    CHECK(IsValidDate("20000229"));
    CHECK_FALSE(IsValidDate("19000229"));
    CHECK(IsValidDate("20991231"));
    CHECK_FALSE(IsValidDate("21000101"));
    CHECK_FALSE(IsValidDate("2024-1-1"));
  }
}

}  // namespace enclave::delivery
