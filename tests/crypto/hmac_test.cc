#include "enclave/crypto/hmac.h"
#include "enclave/base/hex.h"
#include "enclave/crypto/pseudonymiser.h"

#include <doctest/doctest.h>

#include <chrono>
#include <cstdint>
#include <set>
#include <thread>
#include <string>
#include <vector>

namespace enclave::crypto {
namespace {

using base::Hex;

std::vector<std::uint8_t> Bytes(std::string_view s) { return {s.begin(), s.end()}; }

Secret SecretOf(std::uint8_t fill) {
  std::array<std::uint8_t, Secret::kSize> b{};
  b.fill(fill);
  return Secret(b);
}

TEST_CASE("HMAC-SHA256 matches RFC 4231 test cases 1, 2 and 6") {
  // Case 1: key = 0x0b * 20, data = "Hi There".
  std::vector<std::uint8_t> key1(20, 0x0b);
  CHECK(Hex(HmacSha256(key1, "Hi There")) ==
        "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7");
  // Case 2: key = "Jefe", data = "what do ya want for nothing?".
  CHECK(Hex(HmacSha256(Bytes("Jefe"), "what do ya want for nothing?")) ==
        "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
  // Case 6: a 131-byte key (longer than the block), hashed first.
  std::vector<std::uint8_t> key6(131, 0xaa);
  CHECK(Hex(HmacSha256(key6, "Test Using Larger Than Block-Size Key - Hash Key First")) ==
        "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54");
}

TEST_CASE("HMAC-SHA256 matches all 7 RFC 4231 test cases (first 128 bits)") {
  struct Case {
    std::string key, data, mac;
  };
  const std::string aa131(131, '\xaa');
  std::string key4;
  for (int i = 1; i <= 25; ++i) key4.push_back(static_cast<char>(i));
  const std::vector<Case> cases = {
      {std::string(20, '\x0b'), "Hi There", "b0344c61d8db38535ca8afceaf0bf12b"},
      {"Jefe", "what do ya want for nothing?", "5bdcc146bf60754e6a042426089575c7"},
      {std::string(20, '\xaa'), std::string(50, '\xdd'), "773ea91e36800e46854db8ebd09181a7"},
      {key4, std::string(50, '\xcd'), "82558a389a443c0ea4cc819899f2083a"},
      {std::string(20, '\x0c'), "Test With Truncation", "a3b6167473100ee06e0c796c2955552b"},
      {aa131, "Test Using Larger Than Block-Size Key - Hash Key First",
       "60e431591ee0b67f0d8a26aacbf5b77f"},
      {aa131,
       "This is a test using a larger than block-size key and a larger than block-size data. "
       "The key needs to be hashed before being used by the HMAC algorithm.",
       "9b09ffa71b942fcb27635fbcd5b0e944"},
  };
  for (std::size_t i = 0; i < cases.size(); ++i) {
    CAPTURE(i + 1);
    // The pseudonymiser of the steward and the generator, and the one-shot MAC, agree.
    auto p = Pseudonymiser::FromKey(cases[i].key);
    REQUIRE(p.ok());
    CHECK((*p)->Pseudonym(cases[i].data) == cases[i].mac);
    CHECK(Hex(HmacSha256(Bytes(cases[i].key), cases[i].data)).substr(0, 32) == cases[i].mac);
  }
}

TEST_CASE("a record key is the first 32 bits of HMAC(K, unit type || 0x00 || pseudonym)") {
  const Secret k = SecretOf(0x42);
  RecordKeyer keyer(k);
  const auto mac = HmacSha256(k.bytes(), std::string("person\0abc123", 13));
  const std::uint32_t expected = (std::uint32_t{mac[0]} << 24) | (std::uint32_t{mac[1]} << 16) |
                                 (std::uint32_t{mac[2]} << 8) | std::uint32_t{mac[3]};
  CHECK(keyer.RecordKey("person", "abc123") == expected);
  // The separator matters: ("person", "x") and ("personx", "") are different inputs.
  CHECK(keyer.RecordKey("person", "xabc") != keyer.RecordKey("personx", "abc"));
}

TEST_CASE("record keys are deterministic per secret and differ across secrets") {
  const Secret a = SecretOf(1);
  const Secret b = SecretOf(2);
  RecordKeyer ka(a);
  RecordKeyer ka2(a);
  RecordKeyer kb(b);
  int equal_across = 0;
  for (int i = 0; i < 10000; ++i) {
    const std::string p = "p" + std::to_string(i);
    REQUIRE(ka.RecordKey("person", p) == ka.RecordKey("person", p));
    REQUIRE(ka.RecordKey("person", p) == ka2.RecordKey("person", p));
    if (ka.RecordKey("person", p) == kb.RecordKey("person", p)) ++equal_across;
  }
  // 32-bit keys: about 10,000 / 2^32 equal by chance.
  CHECK(equal_across <= 1);
  CHECK(ka.KeyId() == ka2.KeyId());
  CHECK(ka.KeyId() != kb.KeyId());
  CHECK(ka.KeyId().size() == 19);
  CHECK(ka.KeyId().rfind("rk-", 0) == 0);
  // The unit type separates key spaces.
  CHECK(ka.RecordKey("person", "p1") != ka.RecordKey("household", "p1"));
}

TEST_CASE("magnitude keys depend on variable, rank and cell key, and are not record keys") {
  const Secret a = SecretOf(7);
  RecordKeyer k(a);
  std::set<std::uint32_t> seen;
  for (std::uint32_t j = 1; j <= 2; ++j) {
    for (std::uint32_t ck : {0U, 1U, 0x80000000U, 0xffffffffU}) {
      seen.insert(k.MagnitudeKey("income", j, ck));
      seen.insert(k.MagnitudeKey("turnover", j, ck));
    }
  }
  CHECK(seen.size() == 16);
  CHECK(k.MagnitudeKey("income", 1, 5) == k.MagnitudeKey("income", 1, 5));
}

TEST_CASE("one RecordKeyer used from several threads gives the same keys") {
  const Secret a = SecretOf(3);
  RecordKeyer k(a);
  std::vector<std::uint32_t> expected;
  for (int i = 0; i < 5000; ++i) expected.push_back(k.RecordKey("person", std::to_string(i)));
  std::vector<int> mismatches(4, 0);
  std::vector<std::thread> threads;
  for (std::size_t t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 5000; ++i) {
        if (k.RecordKey("person", std::to_string(i)) != expected[static_cast<std::size_t>(i)]) {
          ++mismatches[t];
        }
      }
    });
  }
  for (auto& th : threads) th.join();
  for (int m : mismatches) CHECK(m == 0);
}

TEST_CASE("record key throughput (reported, not asserted)") {
  const Secret a = SecretOf(9);
  RecordKeyer k(a);
  constexpr int kN = 200000;
  std::uint32_t acc = 0;
  const auto t0 = std::chrono::steady_clock::now();
  for (int i = 0; i < kN; ++i) acc += k.RecordKey("person", "0123456789abcdef0123456789abcdef");
  const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  MESSAGE("RecordKey: " << static_cast<long long>(kN / secs) << " keys/s (one thread; checksum "
                        << acc << ")");
  CHECK(secs > 0);
}

}  // namespace
}  // namespace enclave::crypto
