// RFC 9162 §2.1 Merkle tree hashing, proofs and their verification, for the audit log's writer.
//
//   empty tree  SHA-256("")
//   leaf        SHA-256(0x00 || leaf bytes)
//   node        SHA-256(0x01 || left || right), n leaves split at k = largest power of two < n
//
// Proofs are generated from a TreeHashStore, which hands out the hashes of perfect subtrees (the
// leaf hashes are level 0). MemoryTree keeps every level in memory; the SQLite adapter can store
// the same (level, index) hashes next to each leaf, or compute them from stored leaf hashes.
// CompactRange is the writer's O(log n) state: the right-edge perfect subtree hashes.
//
// The offline verifier (client/verifier) has its own implementation of the verification side;
// the two are cross-checked in tests and share no code.
#pragma once

#include <cstdint>
#include <span>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "enclave/crypto/sha256_hasher.h"

namespace enclave::audit {

using Hash = crypto::Sha256Digest;

Hash EmptyTreeHash();
Hash HashLeaf(std::string_view leaf);
Hash HashChildren(const Hash& left, const Hash& right);

// The largest power of two strictly smaller than n. REQUIRES: n >= 2.
std::uint64_t SplitPoint(std::uint64_t n);

// Root of the tree over `leaf_hashes` (MTH), in O(n) hashes and O(log n) memory.
Hash RootFromLeafHashes(std::span<const Hash> leaf_hashes);

// Read side of a log's tree. Implementations must be safe for concurrent reads if shared.
class TreeHashStore {
 public:
  virtual ~TreeHashStore() = default;
  // Number of leaves.
  virtual std::uint64_t Size() const = 0;
  // Hash of the perfect subtree of 2^level leaves starting at leaf index << level.
  // REQUIRES: ((index + 1) << level) <= Size(). kUnavailable/kDataLoss from storage.
  virtual absl::StatusOr<Hash> PerfectSubtreeHash(int level, std::uint64_t index) const = 0;
};

// MTH(D[begin:end]) for a range that appears in RFC 9162 proofs: begin is a multiple of the
// largest power of two <= end - begin (always true for the ranges the proof algorithms visit).
// kInvalidArgument otherwise or if end > store.Size(). O(log n) store reads and hashes.
absl::StatusOr<Hash> SubtreeHash(const TreeHashStore& store, std::uint64_t begin,
                                 std::uint64_t end);

// Root hash of the first `size` leaves (size <= store.Size()).
absl::StatusOr<Hash> RootAt(const TreeHashStore& store, std::uint64_t size);

// RFC 9162 §2.1.3.1 PATH(index, D[size]). kInvalidArgument unless index < size <= Size().
absl::StatusOr<std::vector<Hash>> InclusionProof(const TreeHashStore& store, std::uint64_t index,
                                                 std::uint64_t size);

// RFC 9162 §2.1.4.1 PROOF(size1, D[size2]); empty when size1 == 0 or size1 == size2.
// kInvalidArgument unless size1 <= size2 <= Size().
absl::StatusOr<std::vector<Hash>> ConsistencyProof(const TreeHashStore& store,
                                                   std::uint64_t size1, std::uint64_t size2);

// RFC 9162 §2.1.3.2. The root implied by an inclusion proof; kInvalidArgument if index >= size
// or the proof has the wrong length for (index, size).
absl::StatusOr<Hash> RootFromInclusionProof(std::uint64_t index, std::uint64_t size,
                                            const Hash& leaf_hash, std::span<const Hash> proof);
// OK, or kDataLoss naming what did not match (kInvalidArgument for impossible arguments).
absl::Status VerifyInclusion(std::uint64_t index, std::uint64_t size, const Hash& leaf_hash,
                             std::span<const Hash> proof, const Hash& root);
// RFC 9162 §2.1.4.2, plus: size1 == size2 needs an empty proof and equal roots; size1 == 0
// needs an empty proof. OK, or kDataLoss / kInvalidArgument.
absl::Status VerifyConsistency(std::uint64_t size1, std::uint64_t size2,
                               std::span<const Hash> proof, const Hash& root1, const Hash& root2);

// The writer's O(log n) state: hashes of the perfect subtrees along the right edge, largest
// (leftmost) first, one per set bit of size().
class CompactRange {
 public:
  CompactRange() = default;
  // Restores a persisted range. kInvalidArgument unless hashes.size() == popcount(size).
  static absl::StatusOr<CompactRange> FromHashes(std::uint64_t size, std::vector<Hash> hashes);

  void Append(const Hash& leaf_hash);
  Hash Root() const;
  std::uint64_t size() const { return size_; }
  const std::vector<Hash>& hashes() const { return hashes_; }

 private:
  std::uint64_t size_ = 0;
  std::vector<Hash> hashes_;
};

// A TreeHashStore that keeps every level in memory (2n hashes). Not thread-safe for writes.
class MemoryTree final : public TreeHashStore {
 public:
  void Append(const Hash& leaf_hash);
  void AppendLeaf(std::string_view leaf) { Append(HashLeaf(leaf)); }
  Hash Root() const;

  std::uint64_t Size() const override;
  absl::StatusOr<Hash> PerfectSubtreeHash(int level, std::uint64_t index) const override;

 private:
  std::vector<std::vector<Hash>> levels_;  // levels_[0] are the leaf hashes
};

}  // namespace enclave::audit
