// Known-answer vectors for RFC 9162 §2.1 Merkle trees, transcribed from transparency-dev/merkle
// proof/verify_test.go (Apache-2.0; the "RFC 6962 test vectors" also used by
// certificate-transparency-go): eight leaves, the roots of the trees of sizes 1-8, inclusion
// proofs (leaf numbers there are 1-based; here `index` is 0-based) and consistency proofs.
// Shared by tests/audit (the writer) and tests/verifier (the independent verifier), together
// with the corruption probes of the same file.
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <vector>

namespace enclave::testing {

using Digest = std::array<std::uint8_t, 32>;

inline Digest D(const char* hex) {
  Digest d{};
  for (std::size_t i = 0; i < 32; ++i) {
    const auto nib = [](char c) { return c <= '9' ? c - '0' : c - 'a' + 10; };
    d[i] = static_cast<std::uint8_t>(nib(hex[2 * i]) * 16 + nib(hex[2 * i + 1]));
  }
  return d;
}

inline std::string Bytes(std::initializer_list<int> b) {
  std::string s;
  for (int v : b) s.push_back(static_cast<char>(v));
  return s;
}

inline const std::vector<std::string>& KatLeaves() {
  static const std::vector<std::string> leaves = {
      "",
      Bytes({0x00}),
      Bytes({0x10}),
      Bytes({0x20, 0x21}),
      Bytes({0x30, 0x31}),
      Bytes({0x40, 0x41, 0x42, 0x43}),
      Bytes({0x50, 0x51, 0x52, 0x53, 0x54, 0x55, 0x56, 0x57}),
      Bytes({0x60, 0x61, 0x62, 0x63, 0x64, 0x65, 0x66, 0x67, 0x68, 0x69, 0x6a, 0x6b, 0x6c, 0x6d,
             0x6e, 0x6f}),
  };
  return leaves;
}

inline Digest KatEmptyRoot() {
  return D("e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
}
inline Digest KatSomeHash() {
  return D("abacaba000000000000000000000000000000000000000000060061e00123456");
}

// KatRoots()[n - 1] is the root of the first n leaves.
inline const std::vector<Digest>& KatRoots() {
  static const std::vector<Digest> roots = {
      D("6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d"),
      D("fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125"),
      D("aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77"),
      D("d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7"),
      D("4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4"),
      D("76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef"),
      D("ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c"),
      D("5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328"),
  };
  return roots;
}

struct KatInclusion {
  std::uint64_t index;  // 0-based
  std::uint64_t size;
  std::vector<Digest> proof;
};

inline const std::vector<KatInclusion>& KatInclusionProofs() {
  static const std::vector<KatInclusion> v = {
      {0, 1, {}},
      {0, 8,
       {D("96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7"),
        D("5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e"),
        D("6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4")}},
      {5, 8,
       {D("bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b"),
        D("ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0"),
        D("d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7")}},
      {2, 3, {D("fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125")}},
      {1, 5,
       {D("6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d"),
        D("5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e"),
        D("bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b")}},
  };
  return v;
}

struct KatConsistency {
  std::uint64_t size1;
  std::uint64_t size2;
  std::vector<Digest> proof;
};

inline const std::vector<KatConsistency>& KatConsistencyProofs() {
  static const std::vector<KatConsistency> v = {
      {1, 1, {}},
      {1, 8,
       {D("96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7"),
        D("5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e"),
        D("6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4")}},
      {6, 8,
       {D("0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a"),
        D("ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0"),
        D("d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7")}},
      {2, 5,
       {D("5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e"),
        D("bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b")}},
      {6, 7,
       {D("0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a"),
        D("b08693ec2e721597130641e8211e7eedccb4c26413963eee6c1e2ed16ffb1a5f"),
        D("d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7")}},
  };
  return v;
}

// Corruption probes, after corruptInclusionProof/corruptConsistencyProof in verify_test.go
// (adapted to fixed 32-byte hashes: "garbage" elements are a fixed non-hash value).
struct InclusionProbe {
  std::uint64_t index;
  std::uint64_t size;
  Digest root;
  Digest leaf_hash;
  std::vector<Digest> proof;
  std::string desc;
};

inline Digest Flip(Digest d, std::size_t byte, std::uint8_t mask) {
  d[byte] = static_cast<std::uint8_t>(d[byte] ^ mask);
  return d;
}

inline std::vector<InclusionProbe> CorruptInclusion(std::uint64_t index, std::uint64_t size,
                                                    const std::vector<Digest>& proof,
                                                    const Digest& root, const Digest& leaf) {
  const Digest garbage{};
  auto with = [&](std::vector<Digest> p, const Digest& d, bool front) {
    if (front) {
      p.insert(p.begin(), d);
    } else {
      p.push_back(d);
    }
    return p;
  };
  std::vector<InclusionProbe> ret = {
      {index - 1, size, root, leaf, proof, "index - 1"},
      {index + 1, size, root, leaf, proof, "index + 1"},
      {index ^ 2, size, root, leaf, proof, "index ^ 2"},
      {index, size * 2, root, leaf, proof, "size * 2"},
      {index, size / 2, root, leaf, proof, "size / 2"},
      {index, size, root, Flip(leaf, 31, 1), proof, "wrong leaf"},
      {index, size, KatEmptyRoot(), leaf, proof, "empty root"},
      {index, size, KatSomeHash(), leaf, proof, "random root"},
      {index, size, root, leaf, with(proof, garbage, false), "trailing garbage"},
      {index, size, root, leaf, with(proof, root, false), "trailing root"},
      {index, size, root, leaf, with(proof, garbage, true), "preceding garbage"},
      {index, size, root, leaf, with(proof, root, true), "preceding root"},
  };
  for (std::size_t i = 0; i < proof.size(); ++i) {
    std::vector<Digest> p = proof;
    p[i] = Flip(p[i], 0, 8);
    ret.push_back({index, size, root, leaf, p, "flipped bit 3 of proof[" + std::to_string(i) + "]"});
  }
  if (!proof.empty()) {
    ret.push_back({index, size, root, leaf,
                   std::vector<Digest>(proof.begin(), proof.end() - 1), "removed component"});
  }
  if (proof.size() > 1) {
    std::vector<Digest> p = proof;
    p.insert(p.begin() + 1, KatSomeHash());
    ret.push_back({index, size, root, leaf, p, "inserted component"});
  }
  return ret;
}

struct ConsistencyProbe {
  std::uint64_t size1;
  std::uint64_t size2;
  Digest root1;
  Digest root2;
  std::vector<Digest> proof;
  std::string desc;
};

// REQUIRES: a non-empty proof (0 < size1 < size2).
inline std::vector<ConsistencyProbe> CorruptConsistency(std::uint64_t size1, std::uint64_t size2,
                                                        const Digest& root1, const Digest& root2,
                                                        const std::vector<Digest>& proof) {
  const Digest garbage{};
  auto with = [&](std::vector<Digest> p, const Digest& d, bool front) {
    if (front) {
      p.insert(p.begin(), d);
    } else {
      p.push_back(d);
    }
    return p;
  };
  const Digest wrong = KatSomeHash();
  std::vector<ConsistencyProbe> ret = {
      {size1 - 1, size2, root1, root2, proof, "size1 - 1"},
      {size1 + 1, size2, root1, root2, proof, "size1 + 1"},
      {size1 ^ 2, size2, root1, root2, proof, "size1 ^ 2"},
      {size1, size2 * 2, root1, root2, proof, "size2 * 2"},
      {size1, size2 / 2, root1, root2, proof, "size2 / 2"},
      {size1, size2, wrong, root2, proof, "wrong root1"},
      {size1, size2, root1, wrong, proof, "wrong root2"},
      {size1, size2, root2, root1, proof, "swapped roots"},
      {size1, size2, root1, root2, {}, "empty proof"},
      {size1, size2, root1, root2, with(proof, garbage, false), "trailing garbage"},
      {size1, size2, root1, root2, with(proof, root1, false), "trailing root1"},
      {size1, size2, root1, root2, with(proof, root2, false), "trailing root2"},
      {size1, size2, root1, root2, with(proof, garbage, true), "preceding garbage"},
      {size1, size2, root1, root2, with(proof, root1, true), "preceding root1"},
      {size1, size2, root1, root2, with(proof, root2, true), "preceding root2"},
      {size1, size2, root1, root2, with(proof, proof[0], true), "preceding proof[0]"},
      {size1, size2, root1, root2, std::vector<Digest>(proof.begin(), proof.end() - 1),
       "truncated proof"},
  };
  for (std::size_t i = 0; i < proof.size(); ++i) {
    std::vector<Digest> p = proof;
    p[i] = Flip(p[i], 0, 16);
    ret.push_back({size1, size2, root1, root2, p, "flipped bit 4 of proof[" + std::to_string(i) + "]"});
  }
  return ret;
}

}  // namespace enclave::testing
