#include "enclave/audit/merkle.h"

#include <bit>
#include <string>
#include <utility>

#include "enclave/base/check.h"

namespace enclave::audit {
namespace {

crypto::Sha256Hasher& ThreadHasher() {
  thread_local crypto::Sha256Hasher hasher;
  return hasher;
}

std::string Describe(std::uint64_t a, std::uint64_t b) {
  return std::to_string(a) + ", " + std::to_string(b);
}

}  // namespace

Hash EmptyTreeHash() { return crypto::Sha256(""); }

Hash HashLeaf(std::string_view leaf) {
  crypto::Sha256Hasher& h = ThreadHasher();
  static constexpr std::uint8_t kLeafPrefix = 0x00;
  h.Update(&kLeafPrefix, 1);
  h.Update(leaf);
  return h.Finish();
}

Hash HashChildren(const Hash& left, const Hash& right) {
  crypto::Sha256Hasher& h = ThreadHasher();
  static constexpr std::uint8_t kNodePrefix = 0x01;
  h.Update(&kNodePrefix, 1);
  h.Update(left.data(), left.size());
  h.Update(right.data(), right.size());
  return h.Finish();
}

std::uint64_t SplitPoint(std::uint64_t n) {
  ENCLAVE_CHECK(n >= 2);
  return std::bit_floor(n - 1);
}

Hash RootFromLeafHashes(std::span<const Hash> leaf_hashes) {
  CompactRange range;
  for (const Hash& h : leaf_hashes) range.Append(h);
  return range.Root();
}

absl::StatusOr<Hash> SubtreeHash(const TreeHashStore& store, std::uint64_t begin,
                                 std::uint64_t end) {
  if (end > store.Size() || begin > end) {
    return absl::InvalidArgumentError("merkle: subtree range [" + Describe(begin, end) +
                                      ") is outside the tree of size " +
                                      std::to_string(store.Size()));
  }
  if (begin == end) {
    if (begin != 0) return absl::InvalidArgumentError("merkle: empty subtree not at the start");
    return EmptyTreeHash();
  }
  // The range decomposes into perfect subtrees of strictly decreasing size, left to right.
  std::vector<Hash> pieces;
  std::uint64_t at = begin;
  while (at < end) {
    const std::uint64_t width = std::bit_floor(end - at);
    if (at % width != 0) {
      return absl::InvalidArgumentError("merkle: subtree range [" + Describe(begin, end) +
                                        ") is not aligned");
    }
    const int level = std::countr_zero(width);
    absl::StatusOr<Hash> h = store.PerfectSubtreeHash(level, at >> level);
    if (!h.ok()) return h.status();
    pieces.push_back(*h);
    at += width;
  }
  Hash acc = pieces.back();
  for (std::size_t i = pieces.size() - 1; i-- > 0;) acc = HashChildren(pieces[i], acc);
  return acc;
}

absl::StatusOr<Hash> RootAt(const TreeHashStore& store, std::uint64_t size) {
  return SubtreeHash(store, 0, size);
}

namespace {

// PATH(m, D[begin:end]) with m relative to begin; appends deepest sibling first.
absl::Status Path(const TreeHashStore& store, std::uint64_t m, std::uint64_t begin,
                  std::uint64_t end, std::vector<Hash>& out) {
  const std::uint64_t n = end - begin;
  if (n <= 1) return absl::OkStatus();
  const std::uint64_t k = SplitPoint(n);
  absl::StatusOr<Hash> sibling;
  if (m < k) {
    if (absl::Status s = Path(store, m, begin, begin + k, out); !s.ok()) return s;
    sibling = SubtreeHash(store, begin + k, end);
  } else {
    if (absl::Status s = Path(store, m - k, begin + k, end, out); !s.ok()) return s;
    sibling = SubtreeHash(store, begin, begin + k);
  }
  if (!sibling.ok()) return sibling.status();
  out.push_back(*sibling);
  return absl::OkStatus();
}

// SUBPROOF(m, D[begin:end], b) with m relative to begin.
absl::Status SubProof(const TreeHashStore& store, std::uint64_t m, std::uint64_t begin,
                      std::uint64_t end, bool whole, std::vector<Hash>& out) {
  const std::uint64_t n = end - begin;
  if (m == n) {
    if (whole) return absl::OkStatus();
    absl::StatusOr<Hash> h = SubtreeHash(store, begin, end);
    if (!h.ok()) return h.status();
    out.push_back(*h);
    return absl::OkStatus();
  }
  const std::uint64_t k = SplitPoint(n);
  absl::StatusOr<Hash> sibling;
  if (m <= k) {
    if (absl::Status s = SubProof(store, m, begin, begin + k, whole, out); !s.ok()) return s;
    sibling = SubtreeHash(store, begin + k, end);
  } else {
    if (absl::Status s = SubProof(store, m - k, begin + k, end, false, out); !s.ok()) return s;
    sibling = SubtreeHash(store, begin, begin + k);
  }
  if (!sibling.ok()) return sibling.status();
  out.push_back(*sibling);
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<std::vector<Hash>> InclusionProof(const TreeHashStore& store, std::uint64_t index,
                                                 std::uint64_t size) {
  if (index >= size || size > store.Size()) {
    return absl::InvalidArgumentError("merkle: inclusion proof for leaf " +
                                      std::to_string(index) + " in a tree of size " +
                                      std::to_string(size) + " needs index < size <= " +
                                      std::to_string(store.Size()));
  }
  std::vector<Hash> out;
  if (absl::Status s = Path(store, index, 0, size, out); !s.ok()) return s;
  return out;
}

absl::StatusOr<std::vector<Hash>> ConsistencyProof(const TreeHashStore& store,
                                                   std::uint64_t size1, std::uint64_t size2) {
  if (size1 > size2 || size2 > store.Size()) {
    return absl::InvalidArgumentError("merkle: consistency proof between sizes " +
                                      Describe(size1, size2) + " needs size1 <= size2 <= " +
                                      std::to_string(store.Size()));
  }
  std::vector<Hash> out;
  if (size1 == 0 || size1 == size2) return out;
  if (absl::Status s = SubProof(store, size1, 0, size2, true, out); !s.ok()) return s;
  return out;
}

absl::StatusOr<Hash> RootFromInclusionProof(std::uint64_t index, std::uint64_t size,
                                            const Hash& leaf_hash, std::span<const Hash> proof) {
  if (index >= size) {
    return absl::InvalidArgumentError("merkle: leaf index " + std::to_string(index) +
                                      " is not below the tree size " + std::to_string(size));
  }
  std::uint64_t fn = index;
  std::uint64_t sn = size - 1;
  Hash r = leaf_hash;
  for (const Hash& p : proof) {
    if (sn == 0) return absl::InvalidArgumentError("merkle: inclusion proof is too long");
    if ((fn & 1) != 0 || fn == sn) {
      r = HashChildren(p, r);
      if ((fn & 1) == 0) {
        while ((fn & 1) == 0 && fn != 0) {
          fn >>= 1;
          sn >>= 1;
        }
      }
    } else {
      r = HashChildren(r, p);
    }
    fn >>= 1;
    sn >>= 1;
  }
  if (sn != 0) return absl::InvalidArgumentError("merkle: inclusion proof is too short");
  return r;
}

absl::Status VerifyInclusion(std::uint64_t index, std::uint64_t size, const Hash& leaf_hash,
                             std::span<const Hash> proof, const Hash& root) {
  absl::StatusOr<Hash> got = RootFromInclusionProof(index, size, leaf_hash, proof);
  if (!got.ok()) return absl::DataLossError(std::string(got.status().message()));
  if (*got != root) {
    return absl::DataLossError("merkle: inclusion proof for leaf " + std::to_string(index) +
                               " does not lead to the root of size " + std::to_string(size));
  }
  return absl::OkStatus();
}

absl::Status VerifyConsistency(std::uint64_t size1, std::uint64_t size2,
                               std::span<const Hash> proof, const Hash& root1, const Hash& root2) {
  if (size1 > size2) {
    return absl::InvalidArgumentError("merkle: consistency needs size1 <= size2, got " +
                                      Describe(size1, size2));
  }
  if (size1 == size2) {
    if (!proof.empty()) return absl::DataLossError("merkle: equal sizes need an empty proof");
    if (root1 != root2) {
      return absl::DataLossError("merkle: two different roots for tree size " +
                                 std::to_string(size1));
    }
    return absl::OkStatus();
  }
  if (size1 == 0) {
    if (!proof.empty()) return absl::DataLossError("merkle: size 0 needs an empty proof");
    if (root1 != EmptyTreeHash()) return absl::DataLossError("merkle: wrong empty-tree root");
    return absl::OkStatus();
  }
  if (proof.empty()) return absl::DataLossError("merkle: consistency proof is empty");

  // RFC 9162 §2.1.4.2.
  std::vector<Hash> path;
  path.reserve(proof.size() + 1);
  if (std::has_single_bit(size1)) path.push_back(root1);
  path.insert(path.end(), proof.begin(), proof.end());
  std::uint64_t fn = size1 - 1;
  std::uint64_t sn = size2 - 1;
  while ((fn & 1) != 0) {
    fn >>= 1;
    sn >>= 1;
  }
  Hash fr = path[0];
  Hash sr = path[0];
  for (std::size_t i = 1; i < path.size(); ++i) {
    const Hash& c = path[i];
    if (sn == 0) return absl::DataLossError("merkle: consistency proof is too long");
    if ((fn & 1) != 0 || fn == sn) {
      fr = HashChildren(c, fr);
      sr = HashChildren(c, sr);
      if ((fn & 1) == 0) {
        while ((fn & 1) == 0 && fn != 0) {
          fn >>= 1;
          sn >>= 1;
        }
      }
    } else {
      sr = HashChildren(sr, c);
    }
    fn >>= 1;
    sn >>= 1;
  }
  if (sn != 0) return absl::DataLossError("merkle: consistency proof is too short");
  if (fr != root1) {
    return absl::DataLossError("merkle: consistency proof does not match the root of size " +
                               std::to_string(size1));
  }
  if (sr != root2) {
    return absl::DataLossError("merkle: consistency proof does not match the root of size " +
                               std::to_string(size2));
  }
  return absl::OkStatus();
}

absl::StatusOr<CompactRange> CompactRange::FromHashes(std::uint64_t size,
                                                      std::vector<Hash> hashes) {
  if (hashes.size() != static_cast<std::size_t>(std::popcount(size))) {
    return absl::InvalidArgumentError("merkle: a compact range of size " + std::to_string(size) +
                                      " needs " + std::to_string(std::popcount(size)) +
                                      " hashes");
  }
  CompactRange r;
  r.size_ = size;
  r.hashes_ = std::move(hashes);
  return r;
}

void CompactRange::Append(const Hash& leaf_hash) {
  Hash h = leaf_hash;
  for (std::uint64_t s = size_; (s & 1) != 0; s >>= 1) {
    h = HashChildren(hashes_.back(), h);
    hashes_.pop_back();
  }
  hashes_.push_back(h);
  ++size_;
}

Hash CompactRange::Root() const {
  if (hashes_.empty()) return EmptyTreeHash();
  Hash r = hashes_.back();
  for (std::size_t i = hashes_.size() - 1; i-- > 0;) r = HashChildren(hashes_[i], r);
  return r;
}

void MemoryTree::Append(const Hash& leaf_hash) {
  if (levels_.empty()) levels_.emplace_back();
  levels_[0].push_back(leaf_hash);
  for (std::size_t level = 0; levels_[level].size() % 2 == 0; ++level) {
    const std::vector<Hash>& row = levels_[level];
    Hash parent = HashChildren(row[row.size() - 2], row.back());
    if (levels_.size() == level + 1) levels_.emplace_back();
    levels_[level + 1].push_back(parent);
  }
}

Hash MemoryTree::Root() const {
  absl::StatusOr<Hash> root = RootAt(*this, Size());
  ENCLAVE_CHECK(root.ok());
  return *root;
}

std::uint64_t MemoryTree::Size() const { return levels_.empty() ? 0 : levels_[0].size(); }

absl::StatusOr<Hash> MemoryTree::PerfectSubtreeHash(int level, std::uint64_t index) const {
  if (level < 0 || static_cast<std::size_t>(level) >= levels_.size() ||
      index >= levels_[static_cast<std::size_t>(level)].size()) {
    return absl::InvalidArgumentError("merkle: no perfect subtree at level " +
                                      std::to_string(level) + " index " + std::to_string(index));
  }
  return levels_[static_cast<std::size_t>(level)][index];
}

}  // namespace enclave::audit
