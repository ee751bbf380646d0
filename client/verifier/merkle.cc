// RFC 9162 proof verification, written in the "decomposed proof" style (inner part below the
// point where the paths to the leaf and to the last leaf diverge, then the right border), not in
// the RFC's step-by-step form that enclave/audit uses: two formulations, cross-checked in tests.
#include <bit>
#include <string>

#include "client/verifier/internal.h"
#include "client/verifier/verifier.h"

namespace enclave::verifier {
namespace {

std::string_view View(const Hash& h) {
  return {reinterpret_cast<const char*>(h.data()), h.size()};
}

struct Decomposition {
  std::size_t inner;   // proof elements below the divergence point
  std::size_t border;  // proof elements along the right border above it
};

// For leaf `index` in a tree of `size` leaves.
Decomposition Decompose(std::uint64_t index, std::uint64_t size) {
  const auto inner = static_cast<std::size_t>(std::bit_width(index ^ (size - 1)));
  // inner is 64 when the paths part at the root of a tree of more than 2^63 leaves: nothing is
  // left above it (and shifting a 64-bit value by 64 is undefined).
  const auto border = inner >= 64 ? std::size_t{0}
                                  : static_cast<std::size_t>(std::popcount(index >> inner));
  return {inner, border};
}

// Folds `proof` into `seed` going up from the level where bit 0 of `path` applies.
Hash FoldInner(Hash seed, std::span<const Hash> proof, std::uint64_t path) {
  for (std::size_t i = 0; i < proof.size(); ++i) {
    seed = ((path >> i) & 1) == 0 ? NodeHash(seed, proof[i]) : NodeHash(proof[i], seed);
  }
  return seed;
}

// As FoldInner, but only the siblings on the left (the tree that ends at the leaf).
Hash FoldInnerLeftOnly(Hash seed, std::span<const Hash> proof, std::uint64_t path) {
  for (std::size_t i = 0; i < proof.size(); ++i) {
    if (((path >> i) & 1) == 1) seed = NodeHash(proof[i], seed);
  }
  return seed;
}

Hash FoldBorder(Hash seed, std::span<const Hash> proof) {
  for (const Hash& h : proof) seed = NodeHash(h, seed);
  return seed;
}

}  // namespace

Hash LeafHash(std::string_view leaf_bytes) {
  return internal::Sha256Parts(std::string_view("\x00", 1), leaf_bytes);
}

Hash NodeHash(const Hash& left, const Hash& right) {
  return internal::Sha256Parts("\x01", View(left), View(right));
}

Hash EmptyRoot() { return internal::Sha256Parts(""); }

absl::StatusOr<TreeBuilder> TreeBuilder::Resume(std::uint64_t size, std::span<const Hash> hashes) {
  if (hashes.size() != static_cast<std::size_t>(std::popcount(size))) {
    return absl::InvalidArgumentError("verifier: a compact range of size " + std::to_string(size) +
                                      " must have one hash per set bit");
  }
  TreeBuilder b;
  b.size_ = size;
  b.stack_.assign(hashes.begin(), hashes.end());
  return b;
}

void TreeBuilder::Add(const Hash& leaf_hash) {
  Hash carry = leaf_hash;
  std::uint64_t n = size_;
  while ((n & 1) == 1) {
    carry = NodeHash(stack_.back(), carry);
    stack_.pop_back();
    n >>= 1;
  }
  stack_.push_back(carry);
  ++size_;
}

Hash TreeBuilder::Root() const {
  if (stack_.empty()) return EmptyRoot();
  auto it = stack_.rbegin();
  Hash acc = *it;
  for (++it; it != stack_.rend(); ++it) acc = NodeHash(*it, acc);
  return acc;
}

absl::Status CheckInclusion(std::uint64_t index, std::uint64_t size, const Hash& leaf_hash,
                            std::span<const Hash> proof, const Hash& root) {
  if (index >= size) {
    return absl::InvalidArgumentError("verifier: leaf index " + std::to_string(index) +
                                      " is not below the tree size " + std::to_string(size));
  }
  const Decomposition d = Decompose(index, size);
  if (proof.size() != d.inner + d.border) {
    return absl::DataLossError("verifier: inclusion proof has " + std::to_string(proof.size()) +
                               " hashes, a proof for leaf " + std::to_string(index) + " of " +
                               std::to_string(size) + " has " + std::to_string(d.inner + d.border));
  }
  Hash acc = FoldInner(leaf_hash, proof.first(d.inner), index);
  acc = FoldBorder(acc, proof.subspan(d.inner));
  if (acc != root) {
    return absl::DataLossError("verifier: inclusion proof for leaf " + std::to_string(index) +
                               " does not match the root");
  }
  return absl::OkStatus();
}

absl::Status CheckConsistency(std::uint64_t size1, std::uint64_t size2, std::span<const Hash> proof,
                              const Hash& root1, const Hash& root2) {
  if (size2 < size1) {
    return absl::DataLossError("verifier: tree size went down from " + std::to_string(size1) +
                               " to " + std::to_string(size2));
  }
  if (size1 == size2) {
    if (!proof.empty() || root1 != root2) {
      return absl::DataLossError("verifier: two different trees of size " + std::to_string(size1));
    }
    return absl::OkStatus();
  }
  if (size1 == 0) {
    if (!proof.empty() || root1 != EmptyRoot()) {
      return absl::DataLossError("verifier: bad consistency proof from the empty tree");
    }
    return absl::OkStatus();
  }
  if (proof.empty()) return absl::DataLossError("verifier: empty consistency proof");

  Decomposition d = Decompose(size1 - 1, size2);
  const auto shift = static_cast<std::size_t>(std::countr_zero(size1));
  d.inner -= shift;  // the first shift levels lie inside the old tree's last perfect subtree
  Hash seed = proof[0];
  std::size_t start = 1;
  if (size1 == (std::uint64_t{1} << shift)) {  // the old tree is itself that perfect subtree
    seed = root1;
    start = 0;
  }
  if (proof.size() != start + d.inner + d.border) {
    return absl::DataLossError("verifier: consistency proof has the wrong length for sizes " +
                               std::to_string(size1) + " and " + std::to_string(size2));
  }
  const std::span<const Hash> rest = proof.subspan(start);
  const std::uint64_t path = (size1 - 1) >> shift;
  Hash old_root = FoldInnerLeftOnly(seed, rest.first(d.inner), path);
  old_root = FoldBorder(old_root, rest.subspan(d.inner));
  if (old_root != root1) {
    return absl::DataLossError("verifier: consistency proof does not match the root of size " +
                               std::to_string(size1));
  }
  Hash new_root = FoldInner(seed, rest.first(d.inner), path);
  new_root = FoldBorder(new_root, rest.subspan(d.inner));
  if (new_root != root2) {
    return absl::DataLossError("verifier: consistency proof does not match the root of size " +
                               std::to_string(size2));
  }
  return absl::OkStatus();
}

}  // namespace enclave::verifier
