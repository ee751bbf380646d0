// The differencing guard (disclosure-control.md §6.1), the population codec and the
// decomposition quota (§6.2).
#include "enclave/disclosure/differencing.h"

#include <doctest/doctest.h>

#include <atomic>
#include <cstdint>
#include <memory>
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

const GuardKey kA{"dv1", "person"};

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

// Checks one population (no partitions) without recording it: a guard copy is not possible, so
// the check records into `guard` only when it passes. Tests that must not record use a fresh key.
GuardedPopulation G(Population p, std::vector<std::string> partitions = {}) {
  return GuardedPopulation{std::move(p), std::move(partitions)};
}

absl::Status Release(DifferencingGuard& guard, const GuardKey& key, std::vector<Population> pops,
                     std::uint64_t t = 10, GuardRecord* added = nullptr) {
  std::vector<GuardedPopulation> g;
  for (Population& p : pops) g.push_back(G(std::move(p)));
  return guard.CheckAndRecord(key, g, GuardLimits{t, 0}, added);
}

TEST_CASE("guard: 0 < |P delta Q| < T is refused, 0 and >= T are allowed") {
  const Population q = Range(1000, 1057);  // 57 bijstand recipients aged >= 18
  auto fresh = [&] {
    auto guard = std::make_unique<DifferencingGuard>();
    REQUIRE(Release(*guard, kA, {q}).ok());
    return guard;
  };
  // Identical population again (a repeat, or the same set through another template): allowed.
  CHECK(Release(*fresh(), kA, {q}).ok());
  // Aged >= 19: one person fewer -> refused, for every difference 1..9.
  for (std::size_t k = 1; k <= 9; ++k) {
    const absl::Status s = Release(*fresh(), kA, {Without(q, k)});
    CHECK(s.code() == absl::StatusCode::kFailedPrecondition);
    // The message names the public threshold; no count, no size, no earlier caller.
    CHECK(s.message().find("fewer than 10") != std::string::npos);
    CHECK(s.message().find("57") == std::string::npos);
    CHECK(s.message().find(std::to_string(57 - k)) == std::string::npos);
  }
  // One added person, or one swapped (difference 2): refused.
  CHECK_FALSE(Release(*fresh(), kA, {Range(1000, 1058)}).ok());
  std::vector<std::uint32_t> swapped(q.units().begin(), q.units().end());
  swapped.front() = 5000;
  CHECK_FALSE(Release(*fresh(), kA, {Population::FromIndices(swapped)}).ok());
  // Exactly T = 10 apart: allowed. Far apart: allowed.
  CHECK(Release(*fresh(), kA, {Without(q, 10)}).ok());
  CHECK(Release(*fresh(), kA, {Range(1, 40)}).ok());
  // The threshold follows the rule set: two populations are compared with the smaller of their
  // thresholds (differencing.h), so 10 apart is refused when both were released under T = 11 and
  // allowed when the kept one was released under T = 10.
  {
    DifferencingGuard strict;
    REQUIRE(Release(strict, kA, {q}, 11).ok());
    CHECK_FALSE(Release(strict, kA, {Without(q, 10)}, 11).ok());
    CHECK(Release(strict, kA, {Without(q, 11)}, 11).ok());
  }
  CHECK(Release(*fresh(), kA, {Without(q, 10)}, 11).ok());
  // A threshold outside 1..kMaxMinUnits fails closed.
  CHECK(Release(*fresh(), kA, {Range(1, 40)}, 0).code() == absl::StatusCode::kInternal);
  CHECK(Release(*fresh(), kA, {Range(1, 40)}, 1001).code() == absl::StatusCode::kInternal);
  DifferencingGuard wide;
  CHECK(Release(wide, kA, {Range(1, 40)}, 60).ok());
  CHECK_FALSE(Release(wide, kA, {Range(1, 80)}, 60).ok());
}

// Entity populations (T10's enterprises, disclosure-control.md §6.1): refused when the units
// differ and fewer than T entities do, whatever the number of units (a vestiging is two units, an
// enterprise may have many vestigingen). Negative control: the same unit sets as unit populations.
TEST_CASE("guard: entity populations count entities, and other units of the same entities are refused") {
  const GuardKey kE{"dv1", "enterprise"};
  // Units 2e, 2e+1 (a vestiging's two periods) belong to entity e.
  auto units_of = [](std::uint32_t from, std::uint32_t to) {
    std::vector<std::uint32_t> u;
    for (std::uint32_t e = from; e < to; ++e) {
      u.push_back(2 * e);
      u.push_back(2 * e + 1);
    }
    return Population::FromIndices(u);
  };
  auto entity = [](std::uint32_t from, std::uint32_t to, const Population& units) {
    std::vector<std::uint32_t> e(to - from);
    std::iota(e.begin(), e.end(), from);
    absl::StatusOr<Population> p = EntityPopulation(e, units);
    REQUIRE(p.ok());
    return *p;
  };
  const GuardLimits limits{10, 0};
  auto release = [&](DifferencingGuard& g, const Population& p) {
    const std::vector<GuardedPopulation> one{G(p)};
    return g.CheckAndRecord(kE, one, limits, nullptr, "enterprises");
  };
  const Population control = units_of(0, 30), wider = units_of(0, 37);
  {
    // 7 enterprises (14 units) more: refused as entities, allowed as units.
    DifferencingGuard g;
    REQUIRE(release(g, entity(0, 30, control)).ok());
    CHECK(release(g, entity(0, 30, control)).ok());  // the same units again
    const absl::Status s = release(g, entity(0, 37, wider));
    CHECK(s.code() == absl::StatusCode::kFailedPrecondition);
    CHECK(s.message().find("fewer than 10 enterprises") != std::string::npos);
    CHECK(release(g, entity(0, 40, units_of(0, 40))).ok());  // 10 enterprises more
    DifferencingGuard units;
    REQUIRE(Release(units, kA, {control}).ok());
    CHECK(Release(units, kA, {wider}).ok());  // the gap this closes
  }
  {
    // The same 30 enterprises with 6 more vestigingen (12 units) of three of them: refused.
    DifferencingGuard g;
    REQUIRE(release(g, entity(0, 30, control)).ok());
    std::vector<std::uint32_t> more(control.units().begin(), control.units().end());
    for (std::uint32_t v = 0; v < 6; ++v) more.push_back(2000 + v);
    CHECK_FALSE(release(g, entity(0, 30, Population::FromIndices(more))).ok());
  }
  // An entity index beyond the range fails closed.
  CHECK(EntityPopulation({kMaxEntityIndex + 1}, control).status().code() ==
        absl::StatusCode::kInternal);
}

TEST_CASE("guard: two populations are compared with the smaller of their thresholds") {
  const Population q = Range(0, 500);
  const Population fifty_fewer = Range(50, 500);
  // Kept at T = 10 (a count), asked at T = 100 (income): 50 persons apart is a count of 50.
  {
    DifferencingGuard guard;
    REQUIRE(Release(guard, kA, {q}, 10).ok());
    CHECK(Release(guard, kA, {fifty_fewer}, 100).ok());
  }
  // Both at T = 100: their difference of 50 would describe 50 persons' income.
  {
    DifferencingGuard guard;
    REQUIRE(Release(guard, kA, {q}, 100).ok());
    CHECK_FALSE(Release(guard, kA, {fifty_fewer}, 100).ok());
    CHECK(Release(guard, kA, {fifty_fewer}, 10).ok());  // the pair's T is 10
  }
  // Kept at 10, then released again at 100: the larger threshold is kept.
  {
    DifferencingGuard guard;
    REQUIRE(Release(guard, kA, {q}, 10).ok());
    GuardRecord added;
    REQUIRE(Release(guard, kA, {q}, 100, &added).ok());
    REQUIRE(added.populations.size() == 1);
    CHECK(added.populations[0].min_units == 100);
    CHECK_FALSE(Release(guard, kA, {fifty_fewer}, 100).ok());
    // ... and survives a restore.
    DifferencingGuard restarted;
    REQUIRE(restarted.Restore(kA, added.populations, {}).ok());
    CHECK_FALSE(Release(restarted, kA, {fifty_fewer}, 100).ok());
  }
}

TEST_CASE("guard: finds every near-duplicate among many populations (against brute force)") {
  // Random populations around a few "bases" (cells at adjacent reference dates: many near each
  // other), checked against a brute-force comparison with every recorded population. Sparse
  // (kept delta-encoded) and dense (kept as bitmaps) unit ranges.
  for (const std::uint32_t range : {5000U, 400U}) {
  CAPTURE(range);
  std::mt19937_64 rng(11);
  DifferencingGuard guard;
  std::vector<Population> kept;
  std::vector<std::vector<std::uint32_t>> bases;
  for (int b = 0; b < 20; ++b) {
    std::vector<std::uint32_t> v;
    const std::uint32_t size = 10 + static_cast<std::uint32_t>(rng() % 300);
    for (std::uint32_t i = 0; i < size; ++i) v.push_back(static_cast<std::uint32_t>(rng() % range));
    bases.push_back(v);
  }
  int refused = 0;
  int allowed = 0;
  for (int trial = 0; trial < 3000; ++trial) {
    std::vector<std::uint32_t> v = bases[rng() % bases.size()];
    const int changes = static_cast<int>(rng() % 40);
    for (int c = 0; c < changes; ++c) {
      if (rng() % 2 == 0 && v.size() > 10) {
        v.erase(v.begin() + static_cast<std::ptrdiff_t>(rng() % v.size()));
      } else {
        v.push_back(static_cast<std::uint32_t>(rng() % range));
      }
    }
    const Population p = Population::FromIndices(v);
    if (p.size() < 10) continue;
    bool expect_refused = false;
    for (const Population& q : kept) {
      const std::uint64_t d = SymmetricDifferenceSize(p, q, 10);
      expect_refused = expect_refused || (d > 0 && d < 10);
    }
    const absl::Status s = Release(guard, kA, {p});
    REQUIRE(s.ok() == !expect_refused);
    if (s.ok()) {
      kept.push_back(p);
      ++allowed;
    } else {
      ++refused;
    }
  }
  CHECK(refused > 100);  // the scenario exercises both outcomes
  CHECK(allowed > 50);
  }
}

TEST_CASE("guard: a refused release records nothing, an allowed one records its new populations") {
  DifferencingGuard guard;
  const Population q = Range(0, 100);
  GuardRecord added;
  REQUIRE(Release(guard, kA, {q}, 10, &added).ok());
  CHECK(added.populations.size() == 1);
  CHECK_FALSE(Release(guard, kA, {Range(500, 600), Without(q, 1)}, 10, &added).ok());
  CHECK(guard.RecordedCount(kA) == 1);
  // Populations of one release are not compared with each other (a margin and its big cell).
  const std::vector<Population> table = {Range(200, 260), Range(200, 255), Range(255, 260)};
  REQUIRE(Release(guard, kA, table, 10, &added).ok());
  CHECK(added.populations.size() == 3);
  // Repeating that table is allowed and records nothing new.
  REQUIRE(Release(guard, kA, table, 10, &added).ok());
  CHECK(added.empty());
  CHECK(guard.RecordedCount(kA) == 4);
}

TEST_CASE("guard: one history per data version and unit type, whoever asks") {
  DifferencingGuard guard;
  REQUIRE(Release(guard, kA, {Range(0, 57)}).ok());
  CHECK(Release(guard, GuardKey{"dv2", "person"}, {Range(0, 56)}).ok());
  CHECK(Release(guard, GuardKey{"dv1", "household"}, {Range(0, 56)}).ok());
  // The key has no caller or project: the same key is the same history for everyone.
  CHECK_FALSE(Release(guard, kA, {Range(0, 56)}).ok());
}

TEST_CASE("guard: concurrent near-duplicate releases cannot both pass") {
  for (int trial = 0; trial < 50; ++trial) {
    DifferencingGuard guard;
    std::atomic<int> ok{0};
    std::thread a([&] { ok += Release(guard, kA, {Range(0, 57)}).ok() ? 1 : 0; });
    std::thread b([&] { ok += Release(guard, kA, {Range(0, 56)}).ok() ? 1 : 0; });
    a.join();
    b.join();
    REQUIRE(ok.load() == 1);
  }
}

TEST_CASE("guard: restore is all-or-nothing and restores the protection and the quota") {
  DifferencingGuard first;
  std::vector<GuardedPopulation> pops = {G(Range(0, 57), {"wijk"}), G(Range(100, 300), {"wijk"})};
  GuardRecord added;
  REQUIRE(first.CheckAndRecord(kA, pops, GuardLimits{10, 10}, &added).ok());
  REQUIRE(added.populations.size() == 2);
  REQUIRE(added.partitions.size() == 2);

  DifferencingGuard restarted;
  REQUIRE(restarted.Restore(kA, added.populations, added.partitions).ok());
  CHECK_FALSE(Release(restarted, kA, {Range(0, 56)}).ok());
  CHECK(restarted.PartitionsOf(kA, Range(0, 57)) == 1);

  DifferencingGuard corrupt;
  std::vector<KeptPopulation> bad = added.populations;
  bad.push_back({"\x09garbage", 10});
  CHECK(corrupt.Restore(kA, bad, added.partitions).code() == absl::StatusCode::kDataLoss);
  CHECK(corrupt.RecordedCount(kA) == 0);
  CHECK(corrupt.PartitionsOf(kA, Range(0, 57)) == 0);
}

TEST_CASE("decomposition quota: at most N distinct partitions per population, repeats free") {
  DifferencingGuard guard;
  const Population p = Range(0, 500);
  auto use = [&](std::vector<std::string> parts, std::uint32_t quota = 10) {
    std::vector<GuardedPopulation> g = {G(p, std::move(parts))};
    return guard.CheckAndRecord(kA, g, GuardLimits{10, quota});
  };
  for (int i = 0; i < 10; ++i) REQUIRE(use({"breakdown-" + std::to_string(i)}).ok());
  CHECK(use({"breakdown-3"}).ok());
  const absl::Status s = use({"breakdown-10"});
  CHECK(s.code() == absl::StatusCode::kFailedPrecondition);
  CHECK(s.message().find("10 different ways") != std::string::npos);
  CHECK(guard.PartitionsOf(kA, p) == 10);
  // A refused release records nothing, and a release showing several new partitions at once is
  // counted whole.
  DifferencingGuard g2;
  std::vector<GuardedPopulation> nine = {G(p, {"a", "b", "c", "d", "e", "f", "g", "h", "i"})};
  REQUIRE(g2.CheckAndRecord(kA, nine, GuardLimits{10, 10}).ok());
  std::vector<GuardedPopulation> two = {G(p, {"j", "k"})};
  CHECK_FALSE(g2.CheckAndRecord(kA, two, GuardLimits{10, 10}).ok());
  CHECK(g2.PartitionsOf(kA, p) == 9);
  // The same partition of the same population counted once, also through two cells of one table.
  std::vector<GuardedPopulation> twice = {G(p, {"j"}), G(p, {"j"})};
  CHECK(g2.CheckAndRecord(kA, twice, GuardLimits{10, 10}).ok());
  CHECK(g2.PartitionsOf(kA, p) == 10);
  // Other populations and data versions have their own quota; an officer-approved higher quota
  // (a template's max_partitions) allows more.
  CHECK(use({"breakdown-10"}, 11).ok());
  std::vector<GuardedPopulation> other = {G(Range(1000, 1600), {"breakdown-11"})};
  CHECK(guard.CheckAndRecord(kA, other, GuardLimits{10, 10}).ok());
  CHECK(guard.CheckAndRecord(GuardKey{"dv2", "person"}, std::vector<GuardedPopulation>{G(p, {"x"})},
                             GuardLimits{10, 1})
            .ok());
}

TEST_CASE("population digests are stable, differ for different sets, and round-trip as hex") {
  const PopulationDigest a = DigestOf(Range(0, 100));
  CHECK(a == DigestOf(Range(0, 100)));
  CHECK_FALSE(a == DigestOf(Range(0, 99)));
  CHECK_FALSE(a == DigestOf(Range(1, 101)));
  absl::StatusOr<PopulationDigest> back = PopulationDigest::FromHex(a.Hex());
  REQUIRE(back.ok());
  CHECK(*back == a);
  CHECK(a.Hex().size() == 32);
  CHECK(PopulationDigest::FromHex("xyz").status().code() == absl::StatusCode::kDataLoss);
}

}  // namespace
}  // namespace enclave::disclosure
