// Inclusion and consistency proof checking (RFC 9162 §2.1.3.2 and §2.1.4.2; docs/audit-log.md §4).
// The writer's audit::VerifyInclusion / VerifyConsistency and the offline verifier's
// CheckInclusion / CheckConsistency are independent implementations. Two modes (first byte):
//   raw  (even): indices, sizes, hashes and a proof straight from the input. Both implementations
//        must agree, and never crash or loop on any size up to 2^64 - 1.
//   tree (odd):  a real tree of up to 300 leaves; the input picks (index, size) or (size1, size2)
//        and edits the true proof, the sizes, the leaf or a root. With the tree's true root(s) for
//        the claimed size(s) (as a signed checkpoint binds them), both must accept exactly when the
//        claim is true and the proof is the tree's own (soundness: no proof of anything false;
//        completeness: every true proof). A flipped root must always be refused.
#include <algorithm>
#include <string>
#include <vector>

#include "client/verifier/verifier.h"
#include "enclave/audit/merkle.h"
#include "tests/fuzz/fuzz_common.h"

namespace {

namespace audit = enclave::audit;
namespace verifier = enclave::verifier;
using audit::Hash;
using enclave::fuzz::Reader;

constexpr std::uint64_t kMaxLeaves = 300;

Hash ReadHash(Reader& in) {
  Hash h{};
  const std::string_view b = in.Bytes(h.size());
  std::copy(b.begin(), b.end(), h.begin());
  return h;
}

std::vector<Hash> ReadProof(Reader& in) {
  std::vector<Hash> proof(in.Byte() % 72);
  for (Hash& h : proof) h = ReadHash(in);
  return proof;
}

bool Inclusion(std::uint64_t index, std::uint64_t size, const Hash& leaf,
               const std::vector<Hash>& proof, const Hash& root) {
  const absl::Status w = audit::VerifyInclusion(index, size, leaf, proof, root);
  const absl::Status v = verifier::CheckInclusion(index, size, leaf, proof, root);
  FUZZ_CHECK(w.ok() == v.ok(), "inclusion: writer " + w.ToString() + " but verifier " + v.ToString());
  FUZZ_CHECK(w.ok() || (!w.message().empty() && !v.message().empty()), "a refusal without a message");
  absl::StatusOr<Hash> implied = audit::RootFromInclusionProof(index, size, leaf, proof);
  FUZZ_CHECK(!w.ok() || (implied.ok() && *implied == root), "the implied root is not the root");
  return w.ok();
}

bool Consistency(std::uint64_t size1, std::uint64_t size2, const std::vector<Hash>& proof,
                 const Hash& root1, const Hash& root2) {
  const absl::Status w = audit::VerifyConsistency(size1, size2, proof, root1, root2);
  const absl::Status v = verifier::CheckConsistency(size1, size2, proof, root1, root2);
  FUZZ_CHECK(w.ok() == v.ok(),
             "consistency: writer " + w.ToString() + " but verifier " + v.ToString());
  FUZZ_CHECK(w.ok() || (!w.message().empty() && !v.message().empty()), "a refusal without a message");
  return w.ok();
}

// Edits `proof` as the input says: flip a bit, drop, duplicate or swap hashes, or add one.
void Edit(Reader& in, std::vector<Hash>& proof) {
  for (int edits = in.Byte() % 4; edits > 0; --edits) {
    const std::uint8_t op = in.Byte();
    const std::size_t at = proof.empty() ? 0 : in.Byte() % proof.size();
    switch (op % 5) {
      case 0:
        if (!proof.empty()) proof[at][in.Byte() % 32] ^= static_cast<std::uint8_t>(1u << (op >> 5));
        break;
      case 1:
        if (!proof.empty()) proof.erase(proof.begin() + static_cast<std::ptrdiff_t>(at));
        break;
      case 2:
        if (!proof.empty()) proof.insert(proof.begin() + static_cast<std::ptrdiff_t>(at), proof[at]);
        break;
      case 3:
        if (proof.size() >= 2) std::swap(proof[at], proof[(at + 1) % proof.size()]);
        break;
      default:
        proof.push_back(ReadHash(in));
        break;
    }
  }
}

void RawMode(Reader& in) {
  const std::uint64_t index = in.Int(8);
  const std::uint64_t size = in.Int(8);
  const Hash leaf = ReadHash(in);
  const Hash root = ReadHash(in);
  Inclusion(index, size, leaf, ReadProof(in), root);
  const std::uint64_t size1 = in.Int(8);
  const std::uint64_t size2 = in.Int(8);
  const Hash root1 = ReadHash(in);
  const Hash root2 = ReadHash(in);
  Consistency(size1, size2, ReadProof(in), root1, root2);
}

void TreeMode(Reader& in) {
  const std::uint64_t n = 1 + in.Int(2) % kMaxLeaves;
  audit::MemoryTree tree;
  std::vector<Hash> leaves;
  for (std::uint64_t i = 0; i < n; ++i) {
    leaves.push_back(audit::HashLeaf("leaf " + std::to_string(i)));
    tree.Append(leaves.back());
  }
  auto root_at = [&tree](std::uint64_t size) {
    absl::StatusOr<Hash> r = audit::RootAt(tree, size);
    FUZZ_CHECK(r.ok(), r.status().ToString());
    return *r;
  };
  // A small signed change to a size, as the input says (mostly none).
  auto nudge = [&in](std::uint64_t v) -> std::uint64_t {
    const std::uint8_t b = in.Byte();
    if (b < 192) return v;
    if (b == 255) return ~std::uint64_t{0} - v;  // far away
    const auto d = static_cast<std::int64_t>(b % 16) - 8;
    return static_cast<std::uint64_t>(static_cast<std::int64_t>(v) + d);
  };

  if (in.Byte() % 2 == 0) {
    const std::uint64_t size = 1 + in.Int(2) % n;
    const std::uint64_t index = in.Int(2) % size;
    absl::StatusOr<std::vector<Hash>> truth = audit::InclusionProof(tree, index, size);
    FUZZ_CHECK(truth.ok(), truth.status().ToString());
    const Hash root = root_at(size);
    FUZZ_CHECK(Inclusion(index, size, leaves[index], *truth, root), "a true inclusion proof fails");
    std::vector<Hash> proof = *truth;
    Edit(in, proof);
    const std::uint64_t claimed_index = nudge(index);
    const std::uint64_t claimed_size = nudge(size);
    const std::uint64_t leaf_of = in.Byte() < 224 ? index : in.Int(2) % n;
    const bool flip = in.Byte() >= 240;
    // The root is the tree's true root at the claimed size (a signed checkpoint binds the two),
    // possibly with a bit flipped. Beyond the tree there is no true root: only agreement counts.
    Hash claimed_root = claimed_size <= n ? root_at(claimed_size) : root;
    if (flip) claimed_root[0] ^= 1;
    const bool ok = Inclusion(claimed_index, claimed_size, leaves[leaf_of], proof, claimed_root);
    if (claimed_size <= n) {
      bool expect = !flip && claimed_index == leaf_of && claimed_index < claimed_size;
      if (expect) {
        absl::StatusOr<std::vector<Hash>> own =
            audit::InclusionProof(tree, claimed_index, claimed_size);
        expect = own.ok() && *own == proof;
      }
      FUZZ_CHECK(ok == expect, std::string("inclusion proof ") + (ok ? "accepted" : "refused") +
                                   " for leaf " + std::to_string(leaf_of) + " claimed at " +
                                   std::to_string(claimed_index) + " of " +
                                   std::to_string(claimed_size) + (flip ? " (root flipped)" : "") +
                                   " (proof of " + std::to_string(index) + " of " +
                                   std::to_string(size) + ", tree " + std::to_string(n) + ")");
    }
  } else {
    const std::uint64_t size2 = in.Int(2) % (n + 1);
    const std::uint64_t size1 = size2 == 0 ? 0 : in.Int(2) % (size2 + 1);
    absl::StatusOr<std::vector<Hash>> truth = audit::ConsistencyProof(tree, size1, size2);
    FUZZ_CHECK(truth.ok(), truth.status().ToString());
    const Hash root1 = root_at(size1);
    const Hash root2 = root_at(size2);
    FUZZ_CHECK(Consistency(size1, size2, *truth, root1, root2), "a true consistency proof fails");
    std::vector<Hash> proof = *truth;
    Edit(in, proof);
    const std::uint64_t claimed1 = nudge(size1);
    const std::uint64_t claimed2 = nudge(size2);
    const std::uint8_t flip = in.Byte();  // >= 240: flip a bit of root1 (odd) or root2 (even)
    const bool known = claimed1 <= n && claimed2 <= n;
    Hash claimed_root1 = known ? root_at(claimed1) : root1;
    Hash claimed_root2 = known ? root_at(claimed2) : root2;
    if (flip >= 240) (flip % 2 == 1 ? claimed_root1 : claimed_root2)[0] ^= 1;
    const bool ok = Consistency(claimed1, claimed2, proof, claimed_root1, claimed_root2);
    // Every tree extends the empty one: from size 0 a proof binds no root2, so a flipped root2 is
    // still consistent (with the empty proof).
    const bool wrong = flip >= 240 && !(claimed1 == 0 && claimed2 > 0 && flip % 2 == 0);
    if (known) {
      bool expect = !wrong && claimed1 <= claimed2;
      if (expect) {
        absl::StatusOr<std::vector<Hash>> own = audit::ConsistencyProof(tree, claimed1, claimed2);
        expect = own.ok() && *own == proof;
      }
      FUZZ_CHECK(ok == expect, std::string("consistency proof ") + (ok ? "accepted" : "refused") +
                                   " for " + std::to_string(claimed1) + " -> " +
                                   std::to_string(claimed2) + (flip >= 240 ? " (root flipped)" : "") +
                                   " (proof of " + std::to_string(size1) + " -> " +
                                   std::to_string(size2) + ", tree " + std::to_string(n) + ")");
    }
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  Reader in(data, size);
  if (in.Byte() % 2 == 0) {
    RawMode(in);
  } else {
    TreeMode(in);
  }
  return 0;
}
