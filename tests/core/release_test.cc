#include "enclave/core/release.h"

#include <doctest/doctest.h>

#include <string>

#include "enclave/core/query_log.h"
#include "enclave/core/query_service.h"
#include "tests/core/fixtures.h"

namespace enclave::core {
namespace {

Release SmallRelease(const templates::Template& t) {
  Release r;
  r.tmpl = &t;
  r.params = {{"sex", std::string("all")}, {"year", std::int64_t{2023}}};
  r.data_version = "data-v1";
  r.rule_set = "cbs-default@1";
  ReleasedDimension d;
  d.name = "wijk";
  d.codes = {{"W1", {"W1", "W1"}, false}, {"total", {"Totaal", "Total"}, true}};
  r.dimensions = {d};
  ReleasedCell released;
  released.coordinates = {0};
  released.status = disclosure::CellStatus::kReleased;
  released.value = 120;
  ReleasedCell hidden;
  hidden.coordinates = {1};
  hidden.status = disclosure::CellStatus::kConfidential;
  r.cells = {released, hidden};
  r.provenance = {{"released"}, {"threshold"}};
  return r;
}

TEST_CASE("a release counts its released and confidential cells") {
  const templates::Template t = test::MakeTemplate({});
  const Release r = SmallRelease(t);
  CHECK(r.CountReleased() == 1);
  CHECK(r.CountConfidential() == 1);
  CHECK(Release{}.CountReleased() == 0);
}

TEST_CASE("the canonical release text is deterministic and covers every part of the release") {
  const templates::Template t = test::MakeTemplate({});
  const Release a = SmallRelease(t);
  const std::string text = CanonicalReleaseText(a);
  CHECK(text == CanonicalReleaseText(SmallRelease(t)));
  CHECK(text.find("test_template") != std::string::npos);
  CHECK(text.find("R120") != std::string::npos);

  Release changed_value = SmallRelease(t);
  changed_value.cells[0].value = 121;
  CHECK(CanonicalReleaseText(changed_value) != text);

  Release changed_status = SmallRelease(t);
  changed_status.cells[0].status = disclosure::CellStatus::kConfidential;
  changed_status.cells[0].value.reset();
  CHECK(CanonicalReleaseText(changed_status) != text);

  Release changed_param = SmallRelease(t);
  changed_param.params[1].value = std::int64_t{2024};
  CHECK(CanonicalReleaseText(changed_param) != text);

  Release changed_code = SmallRelease(t);
  changed_code.dimensions[0].codes[0].code = "W2";
  CHECK(CanonicalReleaseText(changed_code) != text);

  templates::Template t2 = t;
  t2.version = 4;
  Release changed_version = SmallRelease(t2);
  CHECK(CanonicalReleaseText(changed_version) != text);
}

TEST_CASE("the canonical text does not confuse an integer with its text") {
  const templates::Template t = test::MakeTemplate({});
  Release as_int = SmallRelease(t);
  Release as_text = SmallRelease(t);
  as_text.params[1].value = std::string("2023");
  CHECK(CanonicalReleaseText(as_int) != CanonicalReleaseText(as_text));
}

TEST_CASE("the canonical text carries no provenance") {
  const templates::Template t = test::MakeTemplate({});
  Release a = SmallRelease(t);
  Release b = SmallRelease(t);
  b.provenance[1].rule = "share-numerator";
  CHECK(CanonicalReleaseText(a) == CanonicalReleaseText(b));
  CHECK(CanonicalReleaseText(a).find("threshold") == std::string::npos);
}

TEST_CASE("query log entry types have stable names") {
  CHECK(std::string(QueryLogEntryTypeName(QueryLogEntry::Type::kAccepted)) == "query-accepted");
  CHECK(std::string(QueryLogEntryTypeName(QueryLogEntry::Type::kResult)) == "query-result");
  CHECK(std::string(QueryLogEntryTypeName(QueryLogEntry::Type::kRefused)) == "query-refused");
  CHECK(std::string(QueryLogEntryTypeName(QueryLogEntry::Type::kAborted)) == "query-aborted");
  CHECK(std::string(QueryLogEntryTypeName(QueryLogEntry::Type::kServerStart)) == "server-start");
  CHECK(std::string(QueryLogEntryTypeName(QueryLogEntry::Type::kServerStop)) == "server-stop");
}

}  // namespace
}  // namespace enclave::core
