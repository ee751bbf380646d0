#include "enclave/core/record_keys.h"

#include <doctest/doctest.h>

#include <atomic>
#include <chrono>
#include <set>
#include <string>
#include <thread>
#include <vector>

namespace enclave::core {
namespace {

// A deterministic stand-in for the HMAC (the enclave uses crypto::RecordKeyerSource), counting
// calls so that the cache is observable.
class FakeKeys final : public RecordKeySource {
 public:
  std::uint32_t KeyFor(std::string_view unit_type, std::string_view unit) override {
    ++calls;
    std::uint32_t h = 2166136261U;
    for (char c : unit_type) h = (h ^ static_cast<std::uint8_t>(c)) * 16777619U;
    h = (h ^ 0xffU) * 16777619U;
    for (char c : unit) h = (h ^ static_cast<std::uint8_t>(c)) * 16777619U;
    return h;
  }
  std::atomic<int> calls{0};
};

std::vector<std::string> Units(int n) {
  std::vector<std::string> out;
  for (int i = 0; i < n; ++i) out.push_back("pseudonym-" + std::to_string(i));
  return out;
}

TEST_CASE("growing mode: dense indices in first-seen order, record key computed once") {
  FakeKeys keys;
  UnitIndex index("person", keys);
  const auto a = index.Lookup("a");
  const auto b = index.Lookup("b");
  const auto a2 = index.Lookup("a");
  REQUIRE(a.has_value());
  CHECK(a->index == 0);
  CHECK(b->index == 1);
  CHECK(a2->index == 0);
  CHECK(a2->record_key == a->record_key);
  CHECK(a->record_key == FakeKeys().KeyFor("person", "a"));
  CHECK(keys.calls == 2);
  CHECK(index.size() == 2);
  CHECK(index.basis().empty());  // not for persisted populations
}

TEST_CASE("universe mode: index = rank in sorted order, same for any input order") {
  FakeKeys keys;
  std::vector<std::string> units = {"c", "a", "b", "a"};
  auto first = UnitIndex::FromUniverse("person", units, keys);
  std::vector<std::string> again = {"b", "c", "a"};
  auto second = UnitIndex::FromUniverse("person", again, keys);
  CHECK(first->size() == 3);
  CHECK(first->Lookup("a")->index == 0);
  CHECK(first->Lookup("b")->index == 1);
  CHECK(first->Lookup("c")->index == 2);
  CHECK(first->basis() == second->basis());
  CHECK(first->basis().rfind("universe/3/", 0) == 0);
  // A unit outside the universe is not indexed (fail closed).
  CHECK_FALSE(first->Lookup("d").has_value());
  // A different universe has a different basis.
  std::vector<std::string> other = {"a", "b", "c", "d"};
  CHECK(UnitIndex::FromUniverse("person", other, keys)->basis() != first->basis());
  // Keys are computed lazily and once.
  auto lazy = UnitIndex::FromUniverse("person", again, keys);
  const int before = keys.calls;
  CHECK(lazy->Lookup("b")->record_key == FakeKeys().KeyFor("person", "b"));
  lazy->Lookup("b");
  CHECK(keys.calls == before + 1);
}

TEST_CASE("concurrent lookups agree") {
  for (bool universe : {false, true}) {
    FakeKeys keys;
    const std::vector<std::string> units = Units(20000);
    std::unique_ptr<UnitIndex> index = universe ? UnitIndex::FromUniverse("person", units, keys)
                                                : std::make_unique<UnitIndex>("person", keys);
    std::vector<std::vector<UnitIndex::Entry>> seen(4);
    std::vector<std::thread> threads;
    for (int t = 0; t < 4; ++t) {
      threads.emplace_back([&, t] {
        for (std::size_t i = 0; i < units.size(); ++i) {
          const std::size_t j = (i * 7919 + static_cast<std::size_t>(t) * 104729) % units.size();
          seen[static_cast<std::size_t>(t)].resize(units.size());
          seen[static_cast<std::size_t>(t)][j] = *index->Lookup(units[j]);
        }
      });
    }
    for (auto& th : threads) th.join();
    std::set<std::uint32_t> indices;
    for (std::size_t j = 0; j < units.size(); ++j) {
      for (int t = 1; t < 4; ++t) {
        REQUIRE(seen[static_cast<std::size_t>(t)][j].index == seen[0][j].index);
        REQUIRE(seen[static_cast<std::size_t>(t)][j].record_key == seen[0][j].record_key);
      }
      indices.insert(seen[0][j].index);
    }
    CHECK(indices.size() == units.size());
    CHECK(*indices.rbegin() == units.size() - 1);  // dense
  }
}

TEST_CASE("lookup cost (reported, not asserted)") {
  FakeKeys keys;
  const std::vector<std::string> units = Units(78000);
  auto index = UnitIndex::FromUniverse("person", units, keys);
  UnitIndex growing("person", keys);
  for (const auto& u : units) {
    index->Lookup(u);
    growing.Lookup(u);
  }
  constexpr int kRounds = 10;
  std::uint64_t acc = 0;
  auto t0 = std::chrono::steady_clock::now();
  for (int r = 0; r < kRounds; ++r) {
    for (const auto& u : units) acc += index->Lookup(u)->record_key;
  }
  const double universe_ns =
      std::chrono::duration<double, std::nano>(std::chrono::steady_clock::now() - t0).count() /
      (kRounds * static_cast<double>(units.size()));
  t0 = std::chrono::steady_clock::now();
  for (int r = 0; r < kRounds; ++r) {
    for (const auto& u : units) acc += growing.Lookup(u)->record_key;
  }
  const double growing_ns =
      std::chrono::duration<double, std::nano>(std::chrono::steady_clock::now() - t0).count() /
      (kRounds * static_cast<double>(units.size()));
  MESSAGE("UnitIndex cached lookup, 78,000 units: universe " << universe_ns << " ns, growing "
                                                             << growing_ns << " ns (checksum "
                                                             << acc << ")");
  CHECK(universe_ns > 0);
}

}  // namespace
}  // namespace enclave::core
