// The export bundle reader of the offline verifier (docs/audit-log.md §5; `enclavectl audit
// verify-bundle`). Two modes (first byte):
//   raw    (even): the rest is a bundle file, verified as given against the fuzz key, without and
//          with the empty tree as the trusted checkpoint (which must change nothing).
//   leaves (odd):  the rest is a list of leaves (u16 length, bytes); the harness signs a checkpoint
//          over them with the fuzz key and builds the bundle, optionally starting after a prefix
//          of m leaves with the trusted checkpoint at m. This reaches the checks behind the
//          signature: leaf decoding, sequence, origin, time order, request pairing, root and prefix.
// Properties: no crash; a refusal names what failed; an accepted bundle covers exactly the
// checkpoint's leaves, each of which the writer's strict decoder also accepts, with sequence
// numbers equal to their index.
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "client/verifier/verifier.h"
#include "enclave/audit/bundle.h"
#include "enclave/audit/checkpoint.h"
#include "enclave/audit/leaf.h"
#include "enclave/audit/merkle.h"
#include "enclave/crypto/ed25519.h"
#include "tests/fuzz/fuzz_common.h"
#include "tests/fuzz/fuzz_log_keys.h"

namespace {

namespace audit = enclave::audit;
namespace verifier = enclave::verifier;
using enclave::fuzz::kOrigin;
using enclave::fuzz::Reader;

verifier::Hash ToVerifier(const audit::Hash& h) {
  verifier::Hash out{};
  std::copy(h.begin(), h.end(), out.begin());
  return out;
}

bool Verify(std::string_view bundle, const verifier::BundleOptions& options,
            const std::vector<std::string>* leaves, std::uint64_t first) {
  absl::StatusOr<verifier::BundleReport> report = verifier::VerifyBundle(bundle, options);
  enclave::fuzz::Say("VerifyBundle", report.status().ToString());
  if (!report.ok()) {
    FUZZ_CHECK(!report.status().message().empty(), "a refusal without a message");
    return false;
  }
  FUZZ_CHECK(report->checkpoint.origin == kOrigin, "accepted a bundle of another log");
  FUZZ_CHECK(report->first_index + report->leaves == report->checkpoint.size,
             "an accepted bundle does not cover its checkpoint's leaves");
  if (options.trusted) {
    FUZZ_CHECK(options.trusted->size <= report->checkpoint.size,
               "accepted a checkpoint older than the trusted one");
  }
  if (leaves == nullptr) return true;
  FUZZ_CHECK(report->first_index == first, "the bundle starts elsewhere");
  for (std::uint64_t i = first; i < leaves->size(); ++i) {
    absl::StatusOr<audit::LogLeaf> leaf = audit::DecodeLeaf((*leaves)[i]);
    FUZZ_CHECK(leaf.ok(), "the verifier accepted leaf " + std::to_string(i) +
                              " which the writer refuses: " + leaf.status().ToString());
    FUZZ_CHECK(leaf->sequence == i && leaf->origin == kOrigin,
               "accepted leaf " + std::to_string(i) + " with another sequence or origin");
  }
  return true;
}

void RawMode(std::string_view bundle) {
  const enclave::fuzz::LogKeys& keys = enclave::fuzz::FuzzLogKeys();
  verifier::BundleOptions options{keys.pinned, std::string(kOrigin), std::nullopt};
  const bool alone = Verify(bundle, options, nullptr, 0);
  // Trusting the empty tree adds nothing: every log extends it.
  options.trusted = verifier::CheckpointView{std::string(kOrigin), 0, verifier::EmptyRoot()};
  FUZZ_CHECK(verifier::VerifyBundle(bundle, options).ok() == alone,
             "trusting the empty tree changed the verdict");
}

void LeavesMode(Reader& in) {
  const std::uint8_t how = in.Byte();
  std::vector<std::string> leaves;
  while (!in.empty() && leaves.size() < 64) {
    const auto len = static_cast<std::size_t>(in.Int(2));
    leaves.emplace_back(in.Bytes(len));
  }
  const std::uint64_t n = leaves.size();
  const std::uint64_t first = (how & 0x3F) % (n + 1);
  audit::CompactRange prefix;
  audit::CompactRange all;
  for (std::uint64_t i = 0; i < n; ++i) {
    const audit::Hash h = audit::HashLeaf(leaves[i]);
    if (i < first) prefix.Append(h);
    all.Append(h);
  }
  const enclave::fuzz::LogKeys& keys = enclave::fuzz::FuzzLogKeys();
  absl::StatusOr<std::string> note =
      audit::SignCheckpoint(audit::Checkpoint{std::string(kOrigin), n, all.Root()}, keys.signer);
  FUZZ_CHECK(note.ok(), note.status().ToString());
  const std::vector<std::string> part(leaves.begin() + static_cast<std::ptrdiff_t>(first),
                                      leaves.end());
  absl::StatusOr<std::string> bundle = audit::EncodeBundle(*note, first, prefix.hashes(), part);
  if (!bundle.ok()) return;  // a part too large for the format
  verifier::BundleOptions options{keys.pinned, std::string(kOrigin), std::nullopt};
  // The trusted checkpoint at `first` (needed when first > 0; optional at 0), or, if the input
  // says so, a wrong one (its root flipped) that must make verification fail.
  const bool wrong = (first > 0 || (how & 0x40) != 0) && (how & 0x80) != 0;
  if (first > 0 || (how & 0x40) != 0) {
    verifier::Hash root = ToVerifier(prefix.Root());
    if (wrong) root[0] ^= 1;
    options.trusted = verifier::CheckpointView{std::string(kOrigin), first, root};
  }
  const bool ok = Verify(*bundle, options, &leaves, first);
  FUZZ_CHECK(!ok || !wrong, "accepted a bundle that contradicts the trusted checkpoint");
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  Reader in(data, size);
  if (in.Byte() % 2 == 0) {
    RawMode(in.Rest());
  } else {
    LeavesMode(in);
  }
  return 0;
}
