// The differencing guard (disclosure-control.md §6.1), the population codec and the
// decomposition quota (§6.2).
#include "enclave/disclosure/differencing.h"

#include <doctest/doctest.h>

#include <atomic>
#include <cstdint>
#include <numeric>
#include <random>
#include <string>
#include <thread>
#include <vector>

namespace enclave::disclosure {
namespace {

Population Range(std::uint32_t from, std::uint32_t to) {  // [from, to)
  std::vector<std::uint32_t> v(to - from);
  std::iota(v.begin(), v.end(), from);
  return Population::FromSorted(std::move(v));
}

Population Without(const Population& p, std::size_t k) {  // drops the first k units
  std::vector<std::uint32_t> v(p.units().begin() + static_cast<std::ptrdiff_t>(k), p.units().end());
  return Population::FromSorted(std::move(v));
}

const GuardKey kA{"project-a", "dv1", "person"};
const GuardKey kB{"project-b", "dv1", "person"};

TEST_CASE("populations are sorted sets") {
  const Population p = Population::FromIndices({5, 1, 3, 1, 5});
  CHECK(std::vector<std::uint32_t>(p.units().begin(), p.units().end()) ==
        std::vector<std::uint32_t>{1, 3, 5});
}

TEST_CASE("symmetric difference size, exact below the limit, early exit above") {
  const Population p = Range(0, 100);
  CHECK(SymmetricDifferenceSize(p, p, 10) == 0);
  CHECK(SymmetricDifferenceSize(p, Without(p, 3), 10) == 3);
  CHECK(SymmetricDifferenceSize(Range(0, 50), Range(45, 95), 1000) == 90);
  CHECK(SymmetricDifferenceSize(Range(0, 50), Range(45, 95), 10) >= 10);
  CHECK(SymmetricDifferenceSize(Range(0, 50), Range(0, 70), 10) >= 10);  // sizes alone
  CHECK(SymmetricDifferenceSize(Population(), Range(0, 4), 10) == 4);
  // Against a naive count on random sets.
  std::mt19937_64 rng(3);
  for (int t = 0; t < 300; ++t) {
    std::vector<std::uint32_t> a;
    std::vector<std::uint32_t> b;
    for (std::uint32_t i = 0; i < 200; ++i) {
      const auto r = rng() % 4;
      if (r == 0 || r == 2) a.push_back(i);
      if (r == 1 || r == 2) b.push_back(i);
    }
    std::uint64_t naive = 0;
    for (std::uint32_t i = 0; i < 200; ++i) {
      naive += (std::count(a.begin(), a.end(), i) != std::count(b.begin(), b.end(), i)) ? 1U : 0U;
    }
    const Population pa = Population::FromSorted(a);
    const Population pb = Population::FromSorted(b);
    REQUIRE(SymmetricDifferenceSize(pa, pb, 1000) == naive);
    REQUIRE(std::min<std::uint64_t>(SymmetricDifferenceSize(pa, pb, 10), 10) ==
            std::min<std::uint64_t>(naive, 10));
  }
}

TEST_CASE("the population codec round-trips, picks the shorter form, and is small") {
  std::mt19937_64 rng(4);
  for (double density : {0.0001, 0.01, 0.2, 0.5, 0.99, 1.0}) {
    std::vector<std::uint32_t> v;
    for (std::uint32_t i = 0; i < 78000; ++i) {
      if (static_cast<double>(rng() % 1000000) < density * 1000000) v.push_back(i + 17);
    }
    const Population p = Population::FromSorted(v);
    const std::string e = EncodePopulation(p);
    absl::StatusOr<Population> back = DecodePopulation(e);
    REQUIRE(back.ok());
    CHECK(*back == p);
    CHECK(e.size() <= 9800 + 16);  // the bitmap bound at 78,000 persons
  }
  for (const Population& p : {Population(), Range(0, 1), Range(4294967290U, 4294967295U)}) {
    absl::StatusOr<Population> back = DecodePopulation(EncodePopulation(p));
    REQUIRE(back.ok());
    CHECK(*back == p);
  }
  CHECK(EncodePopulation(Range(0, 78000)).size() < 9800 + 16);
}

TEST_CASE("a corrupt encoding fails to decode (kDataLoss), never a silent wrong set of the kind") {
  const std::string dense = EncodePopulation(Range(100, 5000));        // bitmap
  const std::string sparse = EncodePopulation(Population::FromIndices({1, 1000, 70000}));  // delta
  CHECK(dense[0] == 0x02);
  CHECK(sparse[0] == 0x01);
  for (const std::string& e : {dense, sparse}) {
    CHECK(DecodePopulation(e.substr(0, e.size() - 1)).status().code() ==
          absl::StatusCode::kDataLoss);
    CHECK(DecodePopulation(e + std::string(1, '\0')).status().code() == absl::StatusCode::kDataLoss);
    std::string kind = e;
    kind[0] = 0x07;
    CHECK(DecodePopulation(kind).status().code() == absl::StatusCode::kDataLoss);
  }
  CHECK(DecodePopulation("").status().code() == absl::StatusCode::kDataLoss);
  // Overlong varint for count 3 (0x83 0x00): not canonical.
  CHECK(DecodePopulation(std::string("\x01\x83\x00\x01\x01\x01", 6)).status().code() ==
        absl::StatusCode::kDataLoss);
  // A count that claims more than the data holds.
  CHECK(DecodePopulation(std::string("\x01\x7f\x01", 3)).status().code() ==
        absl::StatusCode::kDataLoss);
  // A bitmap with a flipped bit no longer matches its count.
  std::string flipped = dense;
  flipped[flipped.size() / 2] = static_cast<char>(flipped[flipped.size() / 2] ^ 0x10);
  CHECK(DecodePopulation(flipped).status().code() == absl::StatusCode::kDataLoss);
}

TEST_CASE("guard: 0 < |P delta Q| < T is refused; 0 and >= T are allowed") {
  DifferencingGuard guard;
  const Population q = Range(1000, 1057);  // 57 bijstand recipients aged >= 18
  REQUIRE(guard.CheckAndRecord(kA, {&q, 1}, 10).ok());
  // Identical population again (a repeat, or the same set through another template): allowed.
  CHECK(guard.Check(kA, {&q, 1}, 10).ok());
  // Aged >= 19: one person fewer -> refused, for every difference 1..9.
  for (std::size_t k = 1; k <= 9; ++k) {
    const Population p = Without(q, k);
    const absl::Status s = guard.Check(kA, {&p, 1}, 10);
    CHECK(s.code() == absl::StatusCode::kFailedPrecondition);
    // The message names the caller's project and the public threshold; no count, no size.
    CHECK(s.message().find("project-a") != std::string::npos);
    CHECK(s.message().find("57") == std::string::npos);
    CHECK(s.message().find(std::to_string(57 - k)) == std::string::npos);
  }
  // One added person, or one swapped (difference 2): refused.
  const Population plus = Range(1000, 1058);
  CHECK_FALSE(guard.Check(kA, {&plus, 1}, 10).ok());
  std::vector<std::uint32_t> swapped(q.units().begin(), q.units().end());
  swapped.front() = 5000;
  const Population sw = Population::FromIndices(swapped);
  CHECK_FALSE(guard.Check(kA, {&sw, 1}, 10).ok());
  // Exactly T = 10 apart: allowed. Far apart: allowed.
  const Population ten = Without(q, 10);
  CHECK(guard.Check(kA, {&ten, 1}, 10).ok());
  const Population other = Range(1, 40);
  CHECK(guard.Check(kA, {&other, 1}, 10).ok());
  // The threshold follows the rule set.
  CHECK_FALSE(guard.Check(kA, {&ten, 1}, 11).ok());
}

TEST_CASE("guard: a refused release records nothing; an allowed one records its new populations") {
  DifferencingGuard guard;
  const Population q = Range(0, 100);
  std::vector<std::string> added;
  REQUIRE(guard.CheckAndRecord(kA, {&q, 1}, 10, &added).ok());
  CHECK(added.size() == 1);
  const std::vector<Population> release = {Range(500, 600), Without(q, 1)};
  CHECK_FALSE(guard.CheckAndRecord(kA, release, 10, &added).ok());
  CHECK(guard.RecordedCount(kA) == 1);
  // Populations of one release are not compared with each other (a margin and its big cell).
  const std::vector<Population> table = {Range(200, 260), Range(200, 255), Range(255, 260)};
  REQUIRE(guard.CheckAndRecord(kA, table, 10, &added).ok());
  CHECK(added.size() == 3);
  // Repeating that table is allowed and records nothing new.
  REQUIRE(guard.CheckAndRecord(kA, table, 10, &added).ok());
  CHECK(added.empty());
  CHECK(guard.RecordedCount(kA) == 4);
}

TEST_CASE("guard: projects, data versions and unit types are separate") {
  DifferencingGuard guard;
  const Population q = Range(0, 57);
  const Population p = Range(0, 56);
  REQUIRE(guard.CheckAndRecord(kA, {&q, 1}, 10).ok());
  CHECK(guard.Check(kB, {&p, 1}, 10).ok());
  CHECK(guard.Check(GuardKey{"project-a", "dv2", "person"}, {&p, 1}, 10).ok());
  CHECK(guard.Check(GuardKey{"project-a", "dv1", "household"}, {&p, 1}, 10).ok());
  CHECK_FALSE(guard.Check(kA, {&p, 1}, 10).ok());
  // Project b's release does not reveal a's history through its message.
  REQUIRE(guard.CheckAndRecord(kB, {&p, 1}, 10).ok());
  const Population p2 = Range(0, 55);
  const absl::Status s = guard.Check(kB, {&p2, 1}, 10);
  CHECK(s.message().find("project-a") == std::string::npos);
}

TEST_CASE("guard: concurrent near-duplicate releases cannot both pass") {
  for (int trial = 0; trial < 50; ++trial) {
    DifferencingGuard guard;
    const Population p = Range(0, 57);
    const Population q = Range(0, 56);
    std::atomic<int> ok{0};
    std::thread a([&] { ok += guard.CheckAndRecord(kA, {&p, 1}, 10).ok() ? 1 : 0; });
    std::thread b([&] { ok += guard.CheckAndRecord(kA, {&q, 1}, 10).ok() ? 1 : 0; });
    a.join();
    b.join();
    REQUIRE(ok.load() == 1);
  }
}

TEST_CASE("guard: restore is all-or-nothing and restores the protection") {
  DifferencingGuard first;
  const std::vector<Population> pops = {Range(0, 57), Range(100, 300)};
  std::vector<std::string> encodings;
  REQUIRE(first.CheckAndRecord(kA, pops, 10, &encodings).ok());

  DifferencingGuard restarted;
  REQUIRE(restarted.Restore(kA, encodings).ok());
  const Population p = Range(0, 56);
  CHECK_FALSE(restarted.Check(kA, {&p, 1}, 10).ok());

  DifferencingGuard corrupt;
  std::vector<std::string> bad = encodings;
  bad.push_back("\x09garbage");
  CHECK(corrupt.Restore(kA, bad).code() == absl::StatusCode::kDataLoss);
  CHECK(corrupt.RecordedCount(kA) == 0);
}

TEST_CASE("decomposition quota: 10 distinct partitions per population, repeats free") {
  DecompositionQuota quota;
  const Population p = Range(0, 500);
  for (int i = 0; i < 10; ++i) REQUIRE(quota.Use(kA, p, "breakdown-" + std::to_string(i)).ok());
  CHECK(quota.Use(kA, p, "breakdown-3").ok());
  const absl::Status s = quota.Use(kA, p, "breakdown-10");
  CHECK(s.code() == absl::StatusCode::kResourceExhausted);
  CHECK(quota.PartitionsOf(kA, p) == 10);
  // Other projects and other populations have their own quota.
  CHECK(quota.Use(kB, p, "breakdown-10").ok());
  const Population other = Range(0, 501);
  CHECK(quota.Use(kA, other, "breakdown-10").ok());
}

}  // namespace
}  // namespace enclave::disclosure
