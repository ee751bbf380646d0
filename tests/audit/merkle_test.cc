// RFC 9162 tree hashing and proofs of the audit log's writer: known answers, corruption probes,
// exhaustive small trees, and a differential check against a naive recursive MTH.
#include "enclave/audit/merkle.h"

#include <doctest/doctest.h>

#include <random>
#include <span>
#include <string>
#include <vector>

#include "tests/audit/rfc9162_vectors.h"

namespace enclave::audit {
namespace {

using enclave::testing::CorruptConsistency;
using enclave::testing::CorruptInclusion;
using enclave::testing::KatConsistencyProofs;
using enclave::testing::KatEmptyRoot;
using enclave::testing::KatInclusionProofs;
using enclave::testing::KatLeaves;
using enclave::testing::KatRoots;

MemoryTree KatTree(std::size_t n) {
  MemoryTree tree;
  for (std::size_t i = 0; i < n; ++i) tree.AppendLeaf(KatLeaves()[i]);
  return tree;
}

// MTH(D[n]) straight from RFC 9162 §2.1.1, recursively over leaf hashes.
Hash NaiveRoot(std::span<const Hash> leaves) {
  if (leaves.empty()) return EmptyTreeHash();
  if (leaves.size() == 1) return leaves[0];
  std::size_t k = 1;
  while (k * 2 < leaves.size()) k *= 2;
  return HashChildren(NaiveRoot(leaves.subspan(0, k)), NaiveRoot(leaves.subspan(k)));
}

Hash SyntheticLeafHash(std::uint64_t i) { return HashLeaf("leaf-" + std::to_string(i)); }

TEST_CASE("empty tree and the roots of the 8-leaf reference set") {
  CHECK(EmptyTreeHash() == KatEmptyRoot());
  CHECK(MemoryTree().Root() == KatEmptyRoot());
  CHECK(CompactRange().Root() == KatEmptyRoot());
  CHECK(RootFromLeafHashes({}) == KatEmptyRoot());
  MemoryTree tree;
  CompactRange range;
  std::vector<Hash> hashes;
  for (std::size_t n = 1; n <= 8; ++n) {
    const Hash leaf = HashLeaf(KatLeaves()[n - 1]);
    tree.Append(leaf);
    range.Append(leaf);
    hashes.push_back(leaf);
    CAPTURE(n);
    CHECK(tree.Root() == KatRoots()[n - 1]);
    CHECK(range.Root() == KatRoots()[n - 1]);
    CHECK(RootFromLeafHashes(hashes) == KatRoots()[n - 1]);
    CHECK(*RootAt(tree, n) == KatRoots()[n - 1]);
  }
}

TEST_CASE("known inclusion proofs are generated, verify, and every corruption is rejected") {
  const MemoryTree tree = KatTree(8);
  for (const auto& kat : KatInclusionProofs()) {
    CAPTURE(kat.index);
    CAPTURE(kat.size);
    absl::StatusOr<std::vector<Hash>> proof = InclusionProof(tree, kat.index, kat.size);
    REQUIRE(proof.ok());
    CHECK(*proof == kat.proof);
    const Hash leaf = HashLeaf(KatLeaves()[kat.index]);
    const Hash root = KatRoots()[kat.size - 1];
    CHECK(*RootFromInclusionProof(kat.index, kat.size, leaf, kat.proof) == root);
    CHECK(VerifyInclusion(kat.index, kat.size, leaf, kat.proof, root).ok());
    for (const auto& p : CorruptInclusion(kat.index, kat.size, kat.proof, root, leaf)) {
      CAPTURE(p.desc);
      CHECK_FALSE(VerifyInclusion(p.index, p.size, p.leaf_hash, p.proof, p.root).ok());
    }
  }
}

TEST_CASE("inclusion verification refuses impossible arguments") {
  const Hash h = HashLeaf("x");
  CHECK_FALSE(VerifyInclusion(0, 0, h, {}, h).ok());
  CHECK_FALSE(VerifyInclusion(1, 1, h, {}, h).ok());
  CHECK_FALSE(VerifyInclusion(2, 1, h, {}, h).ok());
  CHECK(VerifyInclusion(0, 1, h, {}, h).ok());  // a 1-leaf tree's root is its leaf hash
  CHECK_FALSE(VerifyInclusion(0, 1, h, {}, KatEmptyRoot()).ok());
  const MemoryTree tree = KatTree(8);
  CHECK(InclusionProof(tree, 8, 8).status().code() == absl::StatusCode::kInvalidArgument);
  CHECK(InclusionProof(tree, 0, 9).status().code() == absl::StatusCode::kInvalidArgument);
}

TEST_CASE("known consistency proofs are generated, verify, and every corruption is rejected") {
  const MemoryTree tree = KatTree(8);
  for (const auto& kat : KatConsistencyProofs()) {
    CAPTURE(kat.size1);
    CAPTURE(kat.size2);
    absl::StatusOr<std::vector<Hash>> proof = ConsistencyProof(tree, kat.size1, kat.size2);
    REQUIRE(proof.ok());
    CHECK(*proof == kat.proof);
    const Hash root1 = KatRoots()[kat.size1 - 1];
    const Hash root2 = KatRoots()[kat.size2 - 1];
    CHECK(VerifyConsistency(kat.size1, kat.size2, kat.proof, root1, root2).ok());
    if (kat.proof.empty()) continue;
    for (const auto& p : CorruptConsistency(kat.size1, kat.size2, root1, root2, kat.proof)) {
      CAPTURE(p.desc);
      CHECK_FALSE(VerifyConsistency(p.size1, p.size2, p.proof, p.root1, p.root2).ok());
    }
  }
}

TEST_CASE("consistency edge cases: equal sizes, size 0, shrinking") {
  const Hash a = KatRoots()[0];
  const Hash b = KatRoots()[1];
  CHECK(VerifyConsistency(0, 0, {}, KatEmptyRoot(), KatEmptyRoot()).ok());
  CHECK(VerifyConsistency(0, 5, {}, KatEmptyRoot(), b).ok());
  CHECK_FALSE(VerifyConsistency(0, 5, {}, a, b).ok());
  CHECK(VerifyConsistency(3, 3, {}, a, a).ok());
  CHECK_FALSE(VerifyConsistency(3, 3, {}, a, b).ok());  // same size, two roots: misbehaviour
  const std::vector<Hash> one = {KatEmptyRoot()};
  CHECK_FALSE(VerifyConsistency(3, 3, one, a, a).ok());
  CHECK_FALSE(VerifyConsistency(0, 1, one, KatEmptyRoot(), a).ok());
  CHECK_FALSE(VerifyConsistency(2, 1, {}, b, a).ok());
  CHECK_FALSE(VerifyConsistency(1, 2, {}, a, b).ok());
}

TEST_CASE("exhaustive: every inclusion and consistency proof of every tree up to 256 leaves") {
  MemoryTree tree;
  for (std::uint64_t i = 0; i < 256; ++i) tree.Append(SyntheticLeafHash(i));
  std::vector<Hash> roots(257);
  for (std::uint64_t n = 0; n <= 256; ++n) roots[n] = *RootAt(tree, n);
  std::mt19937_64 rng(4);
  std::size_t inclusion = 0;
  std::size_t consistency = 0;
  std::size_t probes = 0;
  std::size_t false_accepts = 0;
  for (std::uint64_t n = 1; n <= 256; ++n) {
    for (std::uint64_t i = 0; i < n; ++i) {
      const std::vector<Hash> proof = *InclusionProof(tree, i, n);
      const Hash leaf = SyntheticLeafHash(i);
      if (!VerifyInclusion(i, n, leaf, proof, roots[n]).ok()) {
        FAIL("inclusion " << i << " in " << n);
      }
      ++inclusion;
      if (n <= 64 || rng() % 16 == 0) {
        for (const auto& p : CorruptInclusion(i, n, proof, roots[n], leaf)) {
          ++probes;
          if (VerifyInclusion(p.index, p.size, p.leaf_hash, p.proof, p.root).ok()) ++false_accepts;
        }
      }
    }
    for (std::uint64_t m = 0; m <= n; ++m) {
      const std::vector<Hash> proof = *ConsistencyProof(tree, m, n);
      if (!VerifyConsistency(m, n, proof, roots[m], roots[n]).ok()) {
        FAIL("consistency " << m << " -> " << n);
      }
      ++consistency;
      if (!proof.empty() && (n <= 64 || rng() % 16 == 0)) {
        for (const auto& p : CorruptConsistency(m, n, roots[m], roots[n], proof)) {
          ++probes;
          if (VerifyConsistency(p.size1, p.size2, p.proof, p.root1, p.root2).ok()) {
            ++false_accepts;
          }
        }
      }
    }
  }
  CHECK(inclusion == 256 * 257 / 2);
  CHECK(consistency == 257 * 258 / 2 - 1);
  MESSAGE("corruption probes: " << probes);
  CHECK(probes > 100000);
  CHECK(false_accepts == 0);
}

TEST_CASE("roots equal a naive recursive MTH for random sizes, compact ranges restore") {
  std::vector<Hash> leaves;
  for (std::uint64_t i = 0; i < 5000; ++i) leaves.push_back(SyntheticLeafHash(i));
  MemoryTree tree;
  for (const Hash& h : leaves) tree.Append(h);
  std::mt19937_64 rng(9);
  for (int trial = 0; trial < 100; ++trial) {
    const std::uint64_t n = rng() % 5001;
    CAPTURE(n);
    const std::span<const Hash> prefix(leaves.data(), n);
    const Hash want = NaiveRoot(prefix);
    CHECK(*RootAt(tree, n) == want);
    CompactRange range;
    for (const Hash& h : prefix) range.Append(h);
    CHECK(range.Root() == want);
    CHECK(range.hashes().size() == static_cast<std::size_t>(std::popcount(n)));
    absl::StatusOr<CompactRange> restored = CompactRange::FromHashes(n, range.hashes());
    REQUIRE(restored.ok());
    if (n < leaves.size()) {
      restored->Append(leaves[n]);
      CHECK(restored->Root() == NaiveRoot(std::span<const Hash>(leaves.data(), n + 1)));
    }
  }
  CHECK(CompactRange::FromHashes(3, {HashLeaf("a")}).status().code() ==
        absl::StatusCode::kInvalidArgument);
}

TEST_CASE("subtree hashes refuse unaligned and out-of-range requests") {
  const MemoryTree tree = KatTree(8);
  CHECK(SubtreeHash(tree, 1, 3).status().code() == absl::StatusCode::kInvalidArgument);
  CHECK(SubtreeHash(tree, 0, 9).status().code() == absl::StatusCode::kInvalidArgument);
  CHECK(*SubtreeHash(tree, 4, 6) == HashChildren(HashLeaf(KatLeaves()[4]), HashLeaf(KatLeaves()[5])));
  CHECK(ConsistencyProof(tree, 5, 4).status().code() == absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace enclave::audit
