// Log leaf decoding (docs/audit-log.md §2). Two implementations read the same bytes: the writer's
// audit::DecodeLeaf and the offline verifier's verifier::ParseLeaf (written independently from the
// spec). Properties, for any bytes:
//   - both accept or both refuse, and an accepted leaf reads the same in both;
//   - an accepted leaf re-encodes to exactly its bytes (EncodeLeaf(DecodeLeaf(b)) == b), so no two
//     byte strings stand for one entry and its hash;
//   - an input that does not start with the leaf header is also read as the fields of a leaf to
//     encode: EncodeLeaf either refuses it or produces bytes both decoders accept as that leaf;
//   - SanitizeLeafText yields text the decoders accept, and is idempotent.
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "client/verifier/verifier.h"
#include "enclave/audit/leaf.h"
#include "tests/fuzz/fuzz_common.h"

namespace {

using enclave::audit::LogLeaf;
namespace audit = enclave::audit;
namespace verifier = enclave::verifier;

void CheckSame(const LogLeaf& w, const verifier::LeafView& v) {
  FUZZ_CHECK(w.origin == v.origin && w.sequence == v.sequence && w.time_unix_ms == v.time_unix_ms,
             "origin, sequence or time differ between writer and verifier");
  FUZZ_CHECK(static_cast<std::uint8_t>(w.type) == v.type, "entry type differs");
  FUZZ_CHECK(std::string_view(audit::EntryTypeName(w.type)) == v.type_name, "type name differs");
  FUZZ_CHECK(w.request_id == v.request_id && w.caller == v.caller &&
                 w.caller_cert_sha256 == v.caller_cert_sha256 && w.role == v.role &&
                 w.project == v.project && w.rpc == v.rpc && w.template_id == v.template_id &&
                 w.template_version == v.template_version &&
                 w.template_sha256 == v.template_sha256 &&
                 w.canonical_params == v.canonical_params && w.decision == v.decision &&
                 w.reason == v.reason && w.rule_set == v.rule_set &&
                 w.rules_applied == v.rules_applied && w.data_version == v.data_version &&
                 w.cell_rules == v.cell_rules && w.result_sha256 == v.result_sha256 &&
                 w.related == v.related && w.detail == v.detail,
             "a field differs between writer and verifier");
  FUZZ_CHECK(w.cell_counts.size() == v.cell_counts.size(), "cell count lists differ");
  for (std::size_t i = 0; i < w.cell_counts.size(); ++i) {
    FUZZ_CHECK(w.cell_counts[i].status == v.cell_counts[i].first &&
                   w.cell_counts[i].count == v.cell_counts[i].second,
               "a cell count differs");
  }
}

// Both decoders on `bytes`; returns the writer's result.
absl::StatusOr<LogLeaf> DecodeBoth(std::string_view bytes) {
  absl::StatusOr<LogLeaf> w = audit::DecodeLeaf(bytes);
  absl::StatusOr<verifier::LeafView> v = verifier::ParseLeaf(bytes);
  FUZZ_CHECK(w.ok() == v.ok(), "writer " + w.status().ToString() + " but verifier " +
                                   v.status().ToString());
  if (!w.ok()) {
    FUZZ_CHECK(!w.status().message().empty() && !v.status().message().empty(),
               "a refusal without a message");
    FUZZ_CHECK(w.status().code() == v.status().code(),
               "writer " + w.status().ToString() + " but verifier " + v.status().ToString());
    return w;
  }
  CheckSame(*w, *v);
  absl::StatusOr<std::string> again = audit::EncodeLeaf(*w);
  FUZZ_CHECK(again.ok(), "an accepted leaf does not re-encode: " + again.status().ToString());
  FUZZ_CHECK(*again == bytes, "an accepted leaf re-encodes to other bytes");
  return w;
}

// A leaf from arbitrary bytes: each field is taken up to the next 0x00 byte.
LogLeaf LeafFromFields(enclave::fuzz::Reader& in) {
  auto text = [&in]() {
    std::string out;
    while (!in.empty()) {
      const char c = static_cast<char>(in.Byte());
      if (c == '\0') break;
      out.push_back(c);
    }
    return out;
  };
  LogLeaf l;
  l.origin = text();
  l.sequence = in.Int(2);
  l.time_unix_ms = static_cast<std::int64_t>(in.Int(8));
  l.type = static_cast<audit::EntryType>(in.Byte());
  l.request_id = text();
  l.caller = text();
  l.caller_cert_sha256 = text();
  l.role = text();
  l.project = text();
  l.rpc = text();
  l.template_id = text();
  l.template_version = static_cast<std::uint32_t>(in.Int(4));
  l.template_sha256 = text();
  l.canonical_params = text();
  l.decision = text();
  l.reason = text();
  l.rule_set = text();
  l.rules_applied = text();
  l.data_version = text();
  for (std::size_t n = in.Byte() % 4; n > 0; --n) {
    std::string status = text();
    l.cell_counts.push_back({std::move(status), in.Int(2)});
  }
  l.cell_rules = text();
  l.result_sha256 = text();
  for (std::size_t n = in.Byte() % 4; n > 0; --n) l.related.push_back(in.Int(2));
  l.detail = text();
  return l;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view bytes(reinterpret_cast<const char*>(data), size);
  absl::StatusOr<LogLeaf> decoded = DecodeBoth(bytes);
  enclave::fuzz::Say("DecodeLeaf", decoded.status().ToString());

  if (!bytes.starts_with("enclave-log-leaf/")) {
    enclave::fuzz::Reader in(data, size);
    const LogLeaf leaf = LeafFromFields(in);
    absl::StatusOr<std::string> encoded = audit::EncodeLeaf(leaf);
    enclave::fuzz::Say("EncodeLeaf", encoded.status().ToString());
    if (encoded.ok()) {
      absl::StatusOr<LogLeaf> back = DecodeBoth(*encoded);
      FUZZ_CHECK(back.ok(), "an encoded leaf does not decode: " + back.status().ToString());
      FUZZ_CHECK(*back == leaf, "an encoded leaf decodes to another leaf");
    } else {
      FUZZ_CHECK(!encoded.status().message().empty(), "a refusal without a message");
    }
  }

  const std::string clean = audit::SanitizeLeafText(bytes);
  FUZZ_CHECK(audit::SanitizeLeafText(clean) == clean, "SanitizeLeafText is not idempotent");
  LogLeaf probe;
  probe.origin = "enclave.fuzz/log";
  probe.reason = clean.substr(0, 4096);
  absl::StatusOr<std::string> encoded = audit::EncodeLeaf(probe);
  // The sanitised text may end in a cut UTF-8 sequence; only a whole one must be accepted.
  if (clean.size() <= 4096) {
    FUZZ_CHECK(encoded.ok(), "sanitised text refused: " + encoded.status().ToString());
    FUZZ_CHECK(DecodeBoth(*encoded).ok(), "sanitised text does not decode");
  }
  return 0;
}
