// The versioned leaf encoding: round trips, a pinned byte layout, strict decoder rejections.
#include "enclave/audit/leaf.h"

#include <doctest/doctest.h>

#include <random>
#include <string>

namespace enclave::audit {
namespace {

LogLeaf FullLeaf() {
  LogLeaf l;
  l.origin = "enclave.lv.example/log";
  l.sequence = 41;
  l.time_unix_ms = 1767225600123;
  l.type = EntryType::kQueryResult;
  l.request_id = "req-7f3a";
  l.caller = "spiffe://lv.example/analyst/anna";
  l.caller_cert_sha256 = std::string(32, '\x11');
  l.role = "analyst";
  l.project = "bijstand-2024";
  l.rpc = "RunQuery";
  l.template_id = "zzp_aantal_per_wijk";
  l.template_version = 3;
  l.template_sha256 = std::string(32, '\x22');
  l.canonical_params = "year=2023";
  l.decision = "allowed";
  l.reason = "";
  l.rule_set = "cbs-default@2";
  l.rules_applied = "threshold(min_units=10);rounding(base=5)";
  l.data_version = "2024-06-01";
  l.cell_counts = {{"confidential", 4}, {"released", 22}};
  l.cell_rules = "released,threshold,released";
  l.result_sha256 = std::string(32, '\x33');
  l.related = {40};
  l.detail = "";
  return l;
}

TEST_CASE("round trip of a full leaf and of an empty-fielded leaf") {
  const LogLeaf full = FullLeaf();
  absl::StatusOr<std::string> bytes = EncodeLeaf(full);
  REQUIRE(bytes.ok());
  CHECK(bytes->rfind("enclave-log-leaf/1\n", 0) == 0);
  absl::StatusOr<LogLeaf> back = DecodeLeaf(*bytes);
  REQUIRE(back.ok());
  CHECK(*back == full);
  CHECK(*EncodeLeaf(*back) == *bytes);

  LogLeaf minimal;
  minimal.origin = "o";
  minimal.type = EntryType::kServerStart;
  bytes = EncodeLeaf(minimal);
  REQUIRE(bytes.ok());
  CHECK(*DecodeLeaf(*bytes) == minimal);
}

TEST_CASE("the version 1 byte layout is pinned (docs/audit-log.md example)") {
  LogLeaf l;
  l.origin = "o";
  l.sequence = 1;
  l.time_unix_ms = 2;
  l.type = EntryType::kHeartbeat;
  l.cell_counts = {{"released", 5}};
  l.related = {7};
  const std::string z4(4, '\0');
  std::string want = "enclave-log-leaf/1\n";
  want += std::string("\0\0\0\1o", 5);
  want += std::string("\0\0\0\0\0\0\0\1", 8) + std::string("\0\0\0\0\0\0\0\2", 8) + "\x0c";
  for (int i = 0; i < 7; ++i) want += z4;        // request_id .. template_id
  want += z4;                                      // template_version
  for (int i = 0; i < 7; ++i) want += z4;        // template_sha256 .. data_version
  want += std::string("\0\1\x08", 3) + "released" + std::string("\0\0\0\0\0\0\0\5", 8);
  want += z4 + z4;                                 // cell_rules, result_sha256
  want += std::string("\0\0\0\1", 4) + std::string("\0\0\0\0\0\0\0\7", 8);
  want += z4;                                      // detail
  CHECK(*EncodeLeaf(l) == want);
}

TEST_CASE("the decoder rejects trailing bytes, truncation, unknown versions and bad values") {
  const std::string good = *EncodeLeaf(FullLeaf());
  CHECK(DecodeLeaf(good + "x").status().code() == absl::StatusCode::kInvalidArgument);
  for (std::size_t cut = 0; cut < good.size(); ++cut) {
    CAPTURE(cut);
    CHECK_FALSE(DecodeLeaf(good.substr(0, cut)).ok());
  }
  std::string v2 = good;
  v2[17] = '2';
  CHECK(DecodeLeaf(v2).status().code() == absl::StatusCode::kUnimplemented);
  CHECK(DecodeLeaf("not a leaf").status().code() == absl::StatusCode::kInvalidArgument);

  LogLeaf l = FullLeaf();
  std::string bytes = *EncodeLeaf(l);
  // The type byte follows header, origin, sequence and time.
  const std::size_t type_at = 19 + 4 + l.origin.size() + 16;
  CHECK(static_cast<unsigned char>(bytes[type_at]) == 2);
  bytes[type_at] = 99;
  CHECK(DecodeLeaf(bytes).status().message().find("type") != std::string_view::npos);
  bytes[type_at] = 0;
  CHECK_FALSE(DecodeLeaf(bytes).ok());

  // An overlong length prefix on the origin.
  std::string overlong = good;
  overlong[19] = '\x7f';
  CHECK_FALSE(DecodeLeaf(overlong).ok());
}

TEST_CASE("encoder and decoder enforce the same field rules") {
  const auto rejects = [](LogLeaf l, const char* field) {
    absl::StatusOr<std::string> s = EncodeLeaf(l);
    CAPTURE(field);
    REQUIRE_FALSE(s.ok());
    CHECK(s.status().message().find(field) != std::string_view::npos);
  };
  LogLeaf l = FullLeaf();
  l.origin = "";
  rejects(l, "origin");
  l = FullLeaf();
  l.role = std::string(65, 'r');
  rejects(l, "role");
  l = FullLeaf();
  l.reason = "bad \x1b[31m escape";
  rejects(l, "reason");
  l = FullLeaf();
  l.caller = "\xff\xfe";
  rejects(l, "caller");
  l = FullLeaf();
  l.template_sha256 = "abc";
  rejects(l, "template_sha256");
  l = FullLeaf();
  l.cell_counts = {{"released", 1}, {"confidential", 2}};
  rejects(l, "cell_counts");
  l = FullLeaf();
  l.cell_counts = {{"Released", 1}};
  rejects(l, "cell_counts");
  l = FullLeaf();
  l.time_unix_ms = -1;
  rejects(l, "time_unix_ms");
  l = FullLeaf();
  l.type = static_cast<EntryType>(200);
  rejects(l, "type");

  // Decoder side: an unsorted cell count list written by hand is refused.
  l = FullLeaf();
  l.cell_counts = {{"aaa", 1}, {"bbb", 2}};
  std::string bytes = *EncodeLeaf(l);
  const std::size_t at = bytes.find("bbb");
  bytes.replace(at, 3, "aaa");
  CHECK(DecodeLeaf(bytes).status().message().find("cell_counts") != std::string_view::npos);
}

TEST_CASE("sanitising caller-controlled text makes it encodable") {
  CHECK(SanitizeLeafText("plain text\twith\nnewline") == "plain text\twith\nnewline");
  CHECK(SanitizeLeafText("a\x1b" "b") == "a\xEF\xBF\xBD" "b");
  CHECK(SanitizeLeafText("\xC0\xAF") == "\xEF\xBF\xBD\xEF\xBF\xBD");  // overlong '/'
  LogLeaf l = FullLeaf();
  l.reason = SanitizeLeafText("bad \x1b[31m \xed\xa0\x80 surrogate");
  CHECK(EncodeLeaf(l).ok());
}

TEST_CASE("random single-byte edits never decode to a different leaf that re-encodes differently") {
  const std::string good = *EncodeLeaf(FullLeaf());
  std::mt19937_64 rng(11);
  for (int trial = 0; trial < 2000; ++trial) {
    std::string bad = good;
    const std::size_t at = rng() % bad.size();
    bad[at] = static_cast<char>(bad[at] ^ static_cast<char>(1 + rng() % 255));
    absl::StatusOr<LogLeaf> d = DecodeLeaf(bad);
    if (d.ok()) {
      CHECK(*EncodeLeaf(*d) == bad);  // strictness: accepted bytes are canonical
      CHECK_FALSE(*d == FullLeaf());
    }
  }
}

TEST_CASE("the head decoder agrees with the full decoder and refuses the same broken heads") {
  const std::string good = *EncodeLeaf(FullLeaf());
  auto head = DecodeLeafHead(good);
  auto full = DecodeLeaf(good);
  REQUIRE(head.ok());
  REQUIRE(full.ok());
  CHECK(head->origin == full->origin);
  CHECK(head->sequence == full->sequence);
  CHECK(head->time_unix_ms == full->time_unix_ms);
  CHECK(head->type == full->type);
  CHECK(head->request_id == full->request_id);
  // Truncated anywhere in the head, another version, an unknown type: refused.
  const std::size_t head_end = 19 + 4 + full->origin.size() + 8 + 8 + 1 + 4 + full->request_id.size();
  for (std::size_t cut = 0; cut < head_end; ++cut) {
    CAPTURE(cut);
    CHECK_FALSE(DecodeLeafHead(std::string_view(good).substr(0, cut)).ok());
  }
  CHECK(DecodeLeafHead(good.substr(0, head_end)).ok());  // the rest is not read
  std::string v2 = good;
  v2[17] = '2';
  CHECK(DecodeLeafHead(v2).status().code() == absl::StatusCode::kUnimplemented);
  std::string bad_type = good;
  bad_type[19 + 4 + full->origin.size() + 16] = static_cast<char>(200);
  CHECK(DecodeLeafHead(bad_type).status().code() == absl::StatusCode::kInvalidArgument);
}

TEST_CASE("entry type names") {
  CHECK(std::string(EntryTypeName(EntryType::kQueryAccepted)) == "query-accepted");
  CHECK(std::string(EntryTypeName(EntryType::kAuthFailureSummary)) == "auth-failure-summary");
  CHECK(EntryTypeFromName("recovery") == EntryType::kRecovery);
  CHECK_FALSE(EntryTypeFromName("nope").has_value());
  CHECK(EntryTypeName(static_cast<EntryType>(0)) == nullptr);
}

}  // namespace
}  // namespace enclave::audit
