// The independent offline verifier: known answers, corruption probes, cross-checks against the
// writer (enclave/audit, used here only to produce test data), and tamper detection on bundles.
#include "client/verifier/verifier.h"

#include <doctest/doctest.h>

#include <memory>
#include <random>
#include <string>
#include <vector>

#include "enclave/audit/bundle.h"
#include "enclave/audit/checkpoint.h"
#include "enclave/audit/leaf.h"
#include "enclave/audit/merkle.h"
#include "tests/audit/rfc9162_vectors.h"

namespace enclave::verifier {
namespace {

using enclave::testing::CorruptConsistency;
using enclave::testing::CorruptInclusion;
using enclave::testing::KatConsistencyProofs;
using enclave::testing::KatEmptyRoot;
using enclave::testing::KatInclusionProofs;
using enclave::testing::KatLeaves;
using enclave::testing::KatRoots;

constexpr const char* kOrigin = "enclave.lv.example/log";

TEST_CASE("known roots, inclusion and consistency proofs, every corruption probe rejected") {
  CHECK(EmptyRoot() == KatEmptyRoot());
  CHECK(TreeBuilder().Root() == KatEmptyRoot());
  TreeBuilder b;
  for (std::size_t n = 1; n <= 8; ++n) {
    b.Add(LeafHash(KatLeaves()[n - 1]));
    CHECK(b.Root() == KatRoots()[n - 1]);
  }
  std::size_t probes = 0;
  for (const auto& kat : KatInclusionProofs()) {
    const Hash leaf = LeafHash(KatLeaves()[kat.index]);
    const Hash root = KatRoots()[kat.size - 1];
    CHECK(CheckInclusion(kat.index, kat.size, leaf, kat.proof, root).ok());
    for (const auto& p : CorruptInclusion(kat.index, kat.size, kat.proof, root, leaf)) {
      CAPTURE(p.desc);
      ++probes;
      CHECK_FALSE(CheckInclusion(p.index, p.size, p.leaf_hash, p.proof, p.root).ok());
    }
  }
  for (const auto& kat : KatConsistencyProofs()) {
    const Hash r1 = KatRoots()[kat.size1 - 1];
    const Hash r2 = KatRoots()[kat.size2 - 1];
    CHECK(CheckConsistency(kat.size1, kat.size2, kat.proof, r1, r2).ok());
    if (kat.proof.empty()) continue;
    for (const auto& p : CorruptConsistency(kat.size1, kat.size2, r1, r2, kat.proof)) {
      CAPTURE(p.desc);
      ++probes;
      CHECK_FALSE(CheckConsistency(p.size1, p.size2, p.proof, p.root1, p.root2).ok());
    }
  }
  CHECK(probes > 80);
  CHECK_FALSE(CheckConsistency(3, 3, {}, KatRoots()[0], KatRoots()[1]).ok());
  CHECK_FALSE(CheckConsistency(4, 3, {}, KatRoots()[0], KatRoots()[1]).ok());
  CHECK_FALSE(CheckInclusion(0, 0, KatRoots()[0], {}, KatRoots()[0]).ok());
}

TEST_CASE("proofs in trees of more than 2^63 leaves have the writer's length (fuzz/merkle_proof)") {
  // Leaf 1 of 2^63 + 1 leaves: 63 hashes inside the left perfect subtree, then the last leaf. The
  // verifier's decomposition shifted by 64 here (undefined; on x86 it expected 65 hashes).
  const std::uint64_t size = (std::uint64_t{1} << 63) + 1;
  std::vector<Hash> proof(64);
  for (std::size_t i = 0; i < proof.size(); ++i) proof[i] = LeafHash("node " + std::to_string(i));
  const Hash leaf = LeafHash("leaf 1");
  for (std::uint64_t index : {std::uint64_t{0}, std::uint64_t{1}, std::uint64_t{12345}}) {
    CAPTURE(index);
    absl::StatusOr<audit::Hash> root = audit::RootFromInclusionProof(index, size, leaf, proof);
    REQUIRE(root.ok());
    CHECK(CheckInclusion(index, size, leaf, proof, *root).ok());
    std::vector<Hash> longer = proof;
    longer.push_back(proof[0]);
    CHECK_FALSE(CheckInclusion(index, size, leaf, longer, *root).ok());
  }
}

TEST_CASE("cross-check: the writer's proofs for every tree up to 256 verify here, probes fail") {
  audit::MemoryTree tree;
  std::vector<Hash> leaves;
  for (int i = 0; i < 256; ++i) {
    leaves.push_back(LeafHash("entry " + std::to_string(i)));
    tree.Append(audit::HashLeaf("entry " + std::to_string(i)));
  }
  std::vector<Hash> roots;
  TreeBuilder b;
  roots.push_back(b.Root());
  for (const Hash& h : leaves) {
    b.Add(h);
    roots.push_back(b.Root());
  }
  std::mt19937_64 rng(7);
  std::size_t checked = 0;
  std::size_t false_accepts = 0;
  for (std::uint64_t n = 1; n <= 256; ++n) {
    REQUIRE(*audit::RootAt(tree, n) == roots[n]);
    for (std::uint64_t i = 0; i < n; ++i) {
      const std::vector<Hash> proof = *audit::InclusionProof(tree, i, n);
      if (!CheckInclusion(i, n, leaves[i], proof, roots[n]).ok()) FAIL("inclusion " << i << "/" << n);
      ++checked;
      if (n <= 48 || rng() % 32 == 0) {
        for (const auto& p : CorruptInclusion(i, n, proof, roots[n], leaves[i])) {
          if (CheckInclusion(p.index, p.size, p.leaf_hash, p.proof, p.root).ok()) ++false_accepts;
        }
      }
    }
    for (std::uint64_t m = 0; m <= n; ++m) {
      const std::vector<Hash> proof = *audit::ConsistencyProof(tree, m, n);
      if (!CheckConsistency(m, n, proof, roots[m], roots[n]).ok()) FAIL("consistency " << m << "->" << n);
      ++checked;
      if (!proof.empty() && (n <= 48 || rng() % 32 == 0)) {
        for (const auto& p : CorruptConsistency(m, n, roots[m], roots[n], proof)) {
          if (CheckConsistency(p.size1, p.size2, p.proof, p.root1, p.root2).ok()) ++false_accepts;
        }
      }
    }
  }
  CHECK(checked == 256 * 257 / 2 + 257 * 258 / 2 - 1);
  CHECK(false_accepts == 0);
}

audit::LogLeaf MakeLeaf(std::uint64_t seq, audit::EntryType type, const std::string& request) {
  audit::LogLeaf l;
  l.origin = kOrigin;
  l.sequence = seq;
  l.time_unix_ms = 1767225600000 + static_cast<std::int64_t>(seq) * 7;
  l.type = type;
  l.request_id = request;
  l.caller = "spiffe://lv.example/analyst/anna";
  l.role = "analyst";
  l.rpc = "RunQuery";
  l.template_id = "bijstand_stand";
  l.template_version = 2;
  l.template_sha256 = std::string(32, '\x5a');
  l.canonical_params = "geo=wijkcluster;year=2023";
  l.decision = "allowed";
  if (type == audit::EntryType::kQueryResult) {
    l.rule_set = "cbs-default@1";
    l.rules_applied = "threshold(min_units=10)";
    l.cell_counts = {{"confidential", seq % 5}, {"released", 20}};
    l.cell_rules = "released,threshold";
    l.result_sha256 = std::string(32, '\x42');
    l.related = {seq - 1};
  }
  return l;
}

// A log of `pairs` accepted/result pairs plus start and refused entries, as encoded leaves.
std::vector<std::string> MakeLog(std::size_t pairs) {
  std::vector<std::string> leaves;
  auto add = [&](audit::EntryType t, const std::string& r) {
    leaves.push_back(*audit::EncodeLeaf(MakeLeaf(leaves.size(), t, r)));
  };
  add(audit::EntryType::kServerStart, "");
  for (std::size_t i = 0; i < pairs; ++i) {
    const std::string r = "req-" + std::to_string(i);
    add(audit::EntryType::kQueryAccepted, r);
    add(audit::EntryType::kQueryResult, r);
    if (i % 10 == 3) add(audit::EntryType::kQueryRefused, "ref-" + std::to_string(i));
  }
  return leaves;
}

struct Log {
  std::vector<std::string> leaves;
  std::shared_ptr<const audit::NoteSigner> signer = std::make_shared<const audit::NoteSigner>(
      *audit::NoteSigner::Create(kOrigin, *crypto::Ed25519PrivateKey::Generate()));

  audit::Checkpoint CheckpointAt(std::size_t size) const {
    audit::CompactRange r;
    for (std::size_t i = 0; i < size; ++i) r.Append(audit::HashLeaf(leaves[i]));
    return {kOrigin, size, r.Root()};
  }
  // A bundle of leaves [first, size) signed at `size` by `by` (default: the log's key).
  std::string Bundle(std::size_t first, std::size_t size, const audit::NoteSigner* by = nullptr) const {
    audit::CompactRange r;
    for (std::size_t i = 0; i < first; ++i) r.Append(audit::HashLeaf(leaves[i]));
    const std::string note = *audit::SignCheckpoint(CheckpointAt(size), by ? *by : *signer);
    const std::vector<std::string> part(leaves.begin() + static_cast<std::ptrdiff_t>(first),
                                        leaves.begin() + static_cast<std::ptrdiff_t>(size));
    return *audit::EncodeBundle(note, first, r.hashes(), part);
  }
  BundleOptions Options(std::optional<std::size_t> trusted_size = std::nullopt) const {
    BundleOptions o{*ParseVerifierKey(signer->VerifierKey()), kOrigin, std::nullopt};
    if (trusted_size) {
      const audit::Checkpoint cp = CheckpointAt(*trusted_size);
      o.trusted = CheckpointView{cp.origin, cp.size, cp.root};
    }
    return o;
  }
};

TEST_CASE("leaf decoding agrees with the writer's encoding, field by field and under edits") {
  const audit::LogLeaf l = MakeLeaf(9, audit::EntryType::kQueryResult, "req-x");
  const std::string bytes = *audit::EncodeLeaf(l);
  absl::StatusOr<LeafView> v = ParseLeaf(bytes);
  REQUIRE(v.ok());
  CHECK(v->origin == l.origin);
  CHECK(v->sequence == 9);
  CHECK(v->time_unix_ms == l.time_unix_ms);
  CHECK(v->type_name == "query-result");
  CHECK(v->template_sha256 == l.template_sha256);
  CHECK(v->canonical_params == l.canonical_params);
  CHECK(v->cell_counts.size() == 2);
  CHECK(v->cell_counts[1].first == "released");
  CHECK(v->related == l.related);
  CHECK(v->result_sha256 == l.result_sha256);
  CHECK_FALSE(ParseLeaf(bytes + std::string(1, '\0')).ok());
  std::mt19937_64 rng(3);
  std::size_t disagreements = 0;
  for (int t = 0; t < 5000; ++t) {
    std::string bad = bytes;
    const std::size_t at = rng() % bad.size();
    bad[at] = static_cast<char>(bad[at] ^ static_cast<char>(1 + rng() % 255));
    if (ParseLeaf(bad).ok() != audit::DecodeLeaf(bad).ok()) ++disagreements;
  }
  CHECK(disagreements == 0);
}

TEST_CASE("checkpoint notes: the writer's signature verifies, tampering and wrong keys fail") {
  Log log;
  log.leaves = MakeLog(3);
  const audit::Checkpoint cp = log.CheckpointAt(log.leaves.size());
  const std::string note = *audit::SignCheckpoint(cp, *log.signer);
  const PinnedKey key = *ParseVerifierKey(log.signer->VerifierKey());
  absl::StatusOr<CheckpointView> got = VerifyCheckpointNote(note, key, kOrigin);
  REQUIRE(got.ok());
  CHECK(got->size == cp.size);
  CHECK(got->root == cp.root);
  for (std::size_t i = 0; i < note.size(); ++i) {
    std::string bad = note;
    bad[i] = static_cast<char>(bad[i] ^ 0x20);
    CAPTURE(i);
    CHECK_FALSE(VerifyCheckpointNote(bad, key, kOrigin).ok());
  }
  const audit::NoteSigner other =
      *audit::NoteSigner::Create(kOrigin, *crypto::Ed25519PrivateKey::Generate());
  CHECK(VerifyCheckpointNote(*audit::SignCheckpoint(cp, other), key, kOrigin).status().code() ==
        absl::StatusCode::kUnauthenticated);
  PinnedKey renamed = key;
  renamed.name = "other.example/log";
  CHECK_FALSE(VerifyCheckpointNote(note, renamed, kOrigin).ok());
  CHECK(VerifyCheckpointNote(note, key, "other.example/log").status().code() ==
        absl::StatusCode::kFailedPrecondition);
  // The Go sumdb/note verifier key parses, and manglings do not.
  const char* go = "PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW";
  CHECK(ParseVerifierKey(go).ok());
  CHECK(ParseVerifierKey(go)->key_id == 0xc74f20a3u);
  CHECK_FALSE(ParseVerifierKey("PeterNeumann+c74f20a4+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW").ok());
  CHECK_FALSE(ParseVerifierKey("PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TX").ok());
}

TEST_CASE("a clean bundle of a few thousand entries verifies, whole and from a trusted prefix") {
  Log log;
  log.leaves = MakeLog(1500);
  const std::size_t n = log.leaves.size();
  absl::StatusOr<BundleReport> r = VerifyBundle(log.Bundle(0, n), log.Options());
  REQUIRE(r.ok());
  CHECK(r->leaves == n);
  CHECK(r->open_requests == 0);
  CHECK(r->by_type["query-accepted"] == 1500);
  CHECK(r->by_type["query-refused"] == 150);
  CHECK(VerifyBundle(log.Bundle(0, n), log.Options(1234)).ok());
  CHECK(VerifyBundle(log.Bundle(1234, n), log.Options(1234)).ok());
  CHECK(VerifyBundle(log.Bundle(n, n), log.Options(n)).ok());
  CHECK(VerifyBundle(log.Bundle(1234, n), log.Options()).status().code() ==
        absl::StatusCode::kFailedPrecondition);
  CHECK_FALSE(VerifyBundle(log.Bundle(1234, n), log.Options(1000)).ok());
  // An accepted entry still open at the checkpoint is reported, not an error.
  r = VerifyBundle(log.Bundle(0, 2), log.Options());
  REQUIRE(r.ok());
  CHECK(r->open_requests == 1);
}

TEST_CASE("tampering: random single-byte edits, deleted tails and rewritten history are detected") {
  Log log;
  log.leaves = MakeLog(1500);
  const std::size_t n = log.leaves.size();
  const std::string bundle = log.Bundle(0, n);
  const BundleOptions options = log.Options(n / 2);

  std::mt19937_64 rng(2024);
  std::size_t detected = 0;
  const int kEdits = 200;
  for (int t = 0; t < kEdits; ++t) {
    std::string bad = bundle;
    const std::size_t at = rng() % bad.size();
    bad[at] = static_cast<char>(bad[at] ^ static_cast<char>(1 + rng() % 255));
    if (!VerifyBundle(bad, options).ok()) ++detected;
  }
  CHECK(detected == kEdits);

  // An edit inside one leaf names that leaf, or the root, never passes.
  {
    std::string bad = bundle;
    const std::size_t at = bad.find("req-777\x00", 0);
    REQUIRE(at != std::string::npos);
    bad[at + 4] = '8';  // "req-877"...: still a well-formed leaf
    absl::Status s = VerifyBundle(bad, log.Options()).status();
    CHECK(s.code() == absl::StatusCode::kDataLoss);
  }

  // Deleted trailing leaves under the same checkpoint.
  for (std::size_t k = 1; k <= 10; ++k) {
    Log cut = log;
    const audit::Checkpoint full = log.CheckpointAt(n);
    cut.leaves.resize(n - k);
    const std::string note = *audit::SignCheckpoint(full, *log.signer);
    const std::string b = *audit::EncodeBundle(note, 0, {}, cut.leaves);
    CHECK(VerifyBundle(b, options).status().code() == absl::StatusCode::kDataLoss);
    // ... and re-signed by the real key at the shorter size, against the auditor's checkpoint.
    CHECK_FALSE(VerifyBundle(cut.Bundle(0, n - k), log.Options(n)).ok());
  }

  // Rewritten history: another leaf at index 500, re-signed by another key.
  Log rewritten = log;
  rewritten.leaves[500] =
      *audit::EncodeLeaf(MakeLeaf(500, audit::EntryType::kQueryRefused, "forged"));
  const audit::NoteSigner attacker =
      *audit::NoteSigner::Create(kOrigin, *crypto::Ed25519PrivateKey::Generate());
  CHECK(VerifyBundle(rewritten.Bundle(0, n, &attacker), options).status().code() ==
        absl::StatusCode::kUnauthenticated);
  // ... or re-signed with the real key: the auditor's earlier checkpoint catches it.
  absl::Status s = VerifyBundle(rewritten.Bundle(0, n, log.signer.get()), options).status();
  CHECK(s.code() == absl::StatusCode::kDataLoss);
  CHECK(std::string(s.message()).find("rewritten") != std::string::npos);
}

TEST_CASE("structural checks name the first bad leaf") {
  Log log;
  log.leaves = MakeLog(20);
  // A sequence gap.
  Log gap = log;
  gap.leaves[7] = *audit::EncodeLeaf(MakeLeaf(8, audit::EntryType::kHeartbeat, ""));
  absl::Status s = VerifyBundle(gap.Bundle(0, gap.leaves.size()), gap.Options()).status();
  CHECK(std::string(s.message()).find("leaf 7") != std::string::npos);
  // A result without its accepted entry.
  Log orphan = log;
  orphan.leaves[2] = *audit::EncodeLeaf(MakeLeaf(2, audit::EntryType::kQueryResult, "nobody"));
  s = VerifyBundle(orphan.Bundle(0, orphan.leaves.size()), orphan.Options()).status();
  CHECK(std::string(s.message()).find("leaf 2") != std::string::npos);
  // Time running backwards beyond the tolerance.
  Log back = log;
  audit::LogLeaf l = MakeLeaf(5, audit::EntryType::kHeartbeat, "");
  l.time_unix_ms -= 10 * 60 * 1000;
  back.leaves[5] = *audit::EncodeLeaf(l);
  s = VerifyBundle(back.Bundle(0, back.leaves.size()), back.Options()).status();
  CHECK(std::string(s.message()).find("leaf 5") != std::string::npos);
  // Recovery closes orphaned accepted entries.
  Log rec = log;
  rec.leaves.resize(4);  // start, accepted, result, accepted (open)
  audit::LogLeaf recovery = MakeLeaf(4, audit::EntryType::kRecovery, "");
  recovery.related = {3};
  rec.leaves.push_back(*audit::EncodeLeaf(recovery));
  absl::StatusOr<BundleReport> r = VerifyBundle(rec.Bundle(0, 5), rec.Options());
  REQUIRE(r.ok());
  CHECK(r->open_requests == 0);
  recovery.related = {2};  // a result, not an open accepted entry
  rec.leaves[4] = *audit::EncodeLeaf(recovery);
  CHECK_FALSE(VerifyBundle(rec.Bundle(0, 5), rec.Options()).ok());
  // Truncated file, trailing bytes, wrong header.
  const std::string good = log.Bundle(0, log.leaves.size());
  CHECK_FALSE(VerifyBundle(good.substr(0, good.size() - 1), log.Options()).ok());
  CHECK_FALSE(VerifyBundle(good + "x", log.Options()).ok());
  CHECK_FALSE(VerifyBundle("enclave-log-bundle/2\n", log.Options()).ok());
}

}  // namespace
}  // namespace enclave::verifier
