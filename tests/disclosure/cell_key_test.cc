// The cell key method (disclosure-control.md §5): ptable constraints, the worked lookups,
// consistency, and statistical tests of the noise with fixed seeds (§7.8: they never flake).
#include "enclave/disclosure/cell_key.h"

#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <random>
#include <set>
#include <string>
#include <vector>

#include "enclave/disclosure/ptable.h"

namespace enclave::disclosure {
namespace {

// A fraction of the key space as a key: floor(f · 2^32).
std::uint32_t Key(double f) {
  return static_cast<std::uint32_t>(std::floor(f * 4294967296.0));
}

double ToDouble(Int128 v) { return static_cast<double>(v); }

TEST_CASE("the shipped ptables meet every constraint of §5.3") {
  CHECK(CheckPtable(PtableD3V1Js2().spec()).ok());
  for (std::int64_t b = 2; b <= 10; ++b) CHECK(CheckPtable(RandomRoundingPtable(b).spec()).ok());
  CHECK(CheckPtable(RandomRoundingPtable(1000).spec()).ok());
  const PtableSpec& d3 = PtableD3V1Js2().spec();
  CHECK(d3.max_deviation == 3);
  CHECK(d3.js == 2);
  CHECK(d3.rows.size() == 7);  // i = 0..D+js and the general row
  // The general row: variance V = 1 up to the published digits, symmetric, mean exactly 0.
  const PtableRow& general = d3.rows.back();
  CHECK(general.SumV() == 0);
  CHECK(std::abs(ToDouble(general.SumV2()) / 4294967296.0 - 1.0) < 0.001);
  // Rows 1 and 2: the published variances 2.46 and 4.00; every row unbiased exactly.
  CHECK(std::abs(ToDouble(d3.rows[1].SumV2()) / 4294967296.0 - 2.46) < 0.01);
  CHECK(std::abs(ToDouble(d3.rows[2].SumV2()) / 4294967296.0 - 4.00) < 0.01);
  for (const PtableRow& row : d3.rows) CHECK(row.SumV() == 0);
  // A 0 stays 0, and no released count is 1 or 2.
  for (std::uint32_t ck : {0U, Key(0.5), 0xffffffffU}) CHECK(PtableD3V1Js2().Perturb(0, ck) == 0);
  for (std::int64_t i = 0; i < 20; ++i) {
    for (std::uint32_t ck = 0; ck < 0xfff00000U; ck += 0x00100000U) {
      const std::int64_t out = PtableD3V1Js2().Perturb(i, ck);
      CHECK((out == 0 || out >= 3));
      CHECK(std::abs(out - i) <= 3);
    }
  }
}

TEST_CASE("the constraint checker refuses each broken ptable") {
  auto broken = [](auto mutate) {
    PtableSpec spec = PtableD3V1Js2().spec();
    mutate(spec);
    return std::string(CheckPtable(spec).message());
  };
  auto has = [](const std::string& message, const char* word) {
    return message.find(word) != std::string::npos;
  };
  // Counts not summing to 2^32.
  CHECK(has(broken([](PtableSpec& s) { s.rows[4].counts[1] += 1; }), "2^32"));
  CHECK(has(broken([](PtableSpec& s) { s.rows[4].counts[1] -= 1; }), "exactly 2^32"));
  // A biased general row (mass moved from -1 to +1, still summing to 2^32).
  CHECK(has(broken([](PtableSpec& s) {
              s.rows.back().counts[2] -= 1000;
              s.rows.back().counts[4] += 1000;
            }),
            "biased"));
  // An asymmetric general row with sum and mean intact: -3 +1, 0 -4, +1 +3.
  CHECK(has(broken([](PtableSpec& s) {
              s.rows.back().counts[0] += 1;
              s.rows.back().counts[3] -= 4;
              s.rows.back().counts[4] += 3;
            }),
            "symmetric"));
  // A deviation beyond D.
  CHECK(has(broken([](PtableSpec& s) { s.max_deviation = 2; }), "beyond D"));
  // Row 1 releasing the blocked value 2 (v = +1), sum and mean intact: +1 +2, -1 -1, +3 -1.
  CHECK(has(broken([](PtableSpec& s) {
              s.rows[1].counts[2] += 2;
              s.rows[1].counts[0] -= 1;
              s.rows[1].counts[4] -= 1;
            }),
            "blocked"));
  // Count 0 moved.
  CHECK(has(broken([](PtableSpec& s) { s.rows[0] = s.rows.back(); }), "count 0"));
  // A negative target: row 1 with row 2's v = -2.
  CHECK(has(broken([](PtableSpec& s) { s.rows[1] = s.rows[2]; }), "below 0"));
  // The general row used from i = 3 on: i = 4 with v = -3 gives the blocked 1.
  CHECK(has(broken([](PtableSpec& s) { s.rows.erase(s.rows.begin() + 3, s.rows.end() - 1); }),
            "blocked"));
  // Random rounding rows only within the documented bias bound.
  PtableSpec r5 = RandomRoundingPtable(5).spec();
  r5.rows[2].counts.front() -= 10;
  r5.rows[2].counts.back() += 10;
  CHECK(has(std::string(CheckPtable(r5).message()), "biased"));
  CHECK(Ptable::Create(r5).status().code() == absl::StatusCode::kInvalidArgument);
}

TEST_CASE("§5.2: the cell key is the fractional part of the key sum, wrapping mod 2^32") {
  CellKey ck;
  for (double f : {0.6148, 0.8533, 0.7210}) ck.AddDistinctUnit(Key(f));
  CHECK(std::abs(ck.value() / 4294967296.0 - 0.1891) < 1e-8);
  CellKey wrap;
  wrap.AddDistinctUnit(0xffffffffU);
  wrap.AddDistinctUnit(2);
  CHECK(wrap.value() == 1);
}

TEST_CASE("§5.4: 57 with ck 0.8302 gives 58 under the D=3 table, one more person changes it") {
  const Ptable& t = PtableD3V1Js2();
  const std::uint32_t ck = Key(0.8302);
  CHECK(t.Deviation(57, ck) == 1);
  CHECK(PerturbCount(57, ck, t) == 58);
  // The same unit set reached as a margin of another template has the same key: 58 again.
  CHECK(PerturbCount(57, ck, t) == 58);
  // One more person with rk 0.3519: ck = frac(1.1821) = 0.1821 -> -1: 58 released as 57.
  CellKey more;
  more.AddDistinctUnit(ck);
  more.AddDistinctUnit(Key(0.3519));
  CHECK(std::abs(more.value() / 4294967296.0 - 0.1821) < 1e-8);
  CHECK(t.Deviation(58, more.value()) == -1);
  CHECK(PerturbCount(58, more.value(), t) == 57);
  // The intervals of the general row, built from the rule set's probabilities (±3: .0045,
  // ±2: .0543, ±1: .2420, 0 the remainder): -2 ends and +2 starts at .0588 from either end. (The
  // reference's worked intervals, .05886 and .94114, come from the unrounded probabilities of the
  // R package; this test never ran before its name lost a ';', and asserted those digits.)
  CHECK(t.Deviation(100, Key(0.0044)) == -3);
  CHECK(t.Deviation(100, Key(0.0046)) == -2);
  CHECK(t.Deviation(100, Key(0.0587)) == -2);
  CHECK(t.Deviation(100, Key(0.0589)) == -1);
  CHECK(t.Deviation(100, Key(0.3008)) == -1);
  CHECK(t.Deviation(100, Key(0.3010)) == 0);
  CHECK(t.Deviation(100, Key(0.6990)) == 0);
  CHECK(t.Deviation(100, Key(0.6993)) == 1);
  CHECK(t.Deviation(100, Key(0.9411)) == 1);
  CHECK(t.Deviation(100, Key(0.9413)) == 2);
  CHECK(t.Deviation(100, Key(0.9954)) == 2);
  CHECK(t.Deviation(100, Key(0.9956)) == 3);
  CHECK(t.Deviation(100, 0xffffffffU) == 3);
}

TEST_CASE("§5.5: random rounding to 5 via the cell key") {
  const Ptable& r5 = RandomRoundingPtable(5);
  CHECK(PerturbCount(57, Key(0.8302), r5) == 60);  // r = 2: down iff ck < 0.6
  CHECK(PerturbCount(58, Key(0.1821), r5) == 55);  // r = 3: down iff ck < 0.4
  CHECK(PerturbCount(55, Key(0.9999), r5) == 55);  // r = 0: never moves
  // The boundary in integers: down iff ck < 2^32 - round(r·2^32/5).
  const std::uint32_t up = static_cast<std::uint32_t>((2ULL * 4294967296ULL * 2 + 5) / 10);
  const std::uint32_t boundary = static_cast<std::uint32_t>(4294967296ULL - up);
  CHECK(PerturbCount(57, boundary - 1, r5) == 55);
  CHECK(PerturbCount(57, boundary, r5) == 60);
  // Every released count is a multiple of 5, at most 4 away.
  std::mt19937_64 rng(5);
  for (int n = 0; n < 10000; ++n) {
    const auto count = static_cast<std::int64_t>(rng() % 100000);
    const std::int64_t out = PerturbCount(count, static_cast<std::uint32_t>(rng()), r5);
    REQUIRE(out % 5 == 0);
    REQUIRE(std::abs(out - count) <= 4);
  }
}

TEST_CASE("the same unit set gives the same value in any row order, with repeats, as a margin") {
  std::mt19937_64 rng(7);
  const Ptable& t = PtableD3V1Js2();
  for (int trial = 0; trial < 200; ++trial) {
    const int n = 10 + static_cast<int>(rng() % 200);
    std::vector<std::pair<std::uint32_t, std::uint32_t>> units;  // (index, record key)
    for (int i = 0; i < n; ++i) {
      units.emplace_back(static_cast<std::uint32_t>(i * 7 + trial), static_cast<std::uint32_t>(rng()));
    }
    CellKey direct;
    for (const auto& u : units) direct.AddDistinctUnit(u.second);
    // Rows in another order, some units repeated (several rows per unit).
    std::vector<std::pair<std::uint32_t, std::uint32_t>> rows = units;
    for (int i = 0; i < n / 3; ++i) rows.push_back(units[rng() % units.size()]);
    std::shuffle(rows.begin(), rows.end(), rng);
    DistinctCellKey with_repeats;
    for (const auto& r : rows) with_repeats.Add(r.first, r.second);
    const std::uint32_t ck = with_repeats.Finish();
    REQUIRE(ck == direct.value());
    // As a margin of two disjoint inner cells.
    const std::size_t split = rng() % units.size();
    CellKey left;
    CellKey right;
    for (std::size_t i = 0; i < units.size(); ++i) {
      (i < split ? left : right).AddDistinctUnit(units[i].second);
    }
    left.Merge(right);
    REQUIRE(left.value() == direct.value());
    REQUIRE(PerturbCount(n, ck, t) == PerturbCount(n, direct.value(), t));
  }
}

TEST_CASE("1,000 repetitions of one cell give one distinct value") {
  std::vector<std::uint32_t> keys;
  std::mt19937_64 rng(11);
  for (int i = 0; i < 57; ++i) keys.push_back(static_cast<std::uint32_t>(rng()));
  std::set<std::int64_t> d3_values;
  std::set<std::int64_t> r5_values;
  for (int rep = 0; rep < 1000; ++rep) {
    std::shuffle(keys.begin(), keys.end(), rng);
    CellKey ck;
    for (std::uint32_t k : keys) ck.AddDistinctUnit(k);
    d3_values.insert(PerturbCount(57, ck.value(), PtableD3V1Js2()));
    r5_values.insert(PerturbCount(57, ck.value(), RandomRoundingPtable(5)));
  }
  CHECK(d3_values.size() == 1);
  CHECK(r5_values.size() == 1);
}

// Deviations of `count` over `n` cells whose keys are sums of random record keys (fixed seed).
struct Moments {
  double mean = 0;
  double variance = 0;
  std::int64_t max_abs = 0;
  std::vector<std::int64_t> histogram;  // index v + 16
};

Moments Sample(const Ptable& t, std::int64_t count, int n, std::uint64_t seed) {
  std::mt19937_64 rng(seed);
  Moments m;
  m.histogram.assign(33, 0);
  double sum = 0;
  double sum2 = 0;
  for (int c = 0; c < n; ++c) {
    CellKey ck;
    const int units = 1 + static_cast<int>(rng() % 50);
    for (int u = 0; u < units; ++u) ck.AddDistinctUnit(static_cast<std::uint32_t>(rng()));
    const std::int64_t v = PerturbCount(count, ck.value(), t) - count;
    sum += static_cast<double>(v);
    sum2 += static_cast<double>(v * v);
    m.max_abs = std::max(m.max_abs, v < 0 ? -v : v);
    ++m.histogram[static_cast<std::size_t>(v + 16)];
  }
  m.mean = sum / n;
  m.variance = sum2 / n - m.mean * m.mean;
  return m;
}

// |mean| within 6 standard errors of 0, given the true variance.
bool Unbiased(const Moments& m, double variance, int n) {
  return std::abs(m.mean) <= 6.0 * std::sqrt(variance / n);
}

// Sample variance within 6 standard errors of the true one (SE from the fourth moment).
bool VarianceMatches(const Moments& m, double variance, double fourth_moment, int n) {
  const double se = std::sqrt((fourth_moment - variance * variance) / n);
  return std::abs(m.variance - variance) <= 6.0 * se;
}

// The variance of unbiased random rounding to base b at residue r is r(b - r): down by r with
// probability 1 - r/b, up by b - r with probability r/b, so E[v^2] = r^2 - r^3/b + r(b - r)^2/b
// = r(b - r). disclosure-control.md §5.5 states r(5 - r)/5 (<= 1.2); that is a factor 5 too
// small (the true maximum is 6 at r = 2, 3), and this test rejects it.
TEST_CASE("statistics: random rounding to 5 is unbiased with variance r(5-r) per residue") {
  constexpr int kN = 200000;
  const Ptable& r5 = RandomRoundingPtable(5);
  for (std::int64_t r = 0; r < 5; ++r) {
    const std::int64_t count = 1000 + r;
    const Moments m = Sample(r5, count, kN, 100 + static_cast<std::uint64_t>(r));
    const double p_up = static_cast<double>(r) / 5.0;
    const double var = static_cast<double>(r * (5 - r));
    const double down = static_cast<double>(-r);
    const double upv = static_cast<double>(5 - r);
    const double mu4 = (1 - p_up) * std::pow(down, 4) + p_up * std::pow(upv, 4);
    CHECK(m.max_abs <= 4);
    if (r == 0) {
      CHECK(m.max_abs == 0);
      continue;
    }
    CHECK(Unbiased(m, var, kN));
    CHECK(VarianceMatches(m, var, mu4, kN));
    CHECK_FALSE(VarianceMatches(m, var / 5.0, mu4, kN));  // the documented value is wrong
  }
}

TEST_CASE("statistics: the D=3 general row is unbiased, variance V, |v| <= D, matches its pmf") {
  constexpr int kN = 400000;
  const Ptable& t = PtableD3V1Js2();
  const PtableRow& row = t.spec().rows.back();
  const Moments m = Sample(t, 500, kN, 2024);
  const double var = ToDouble(row.SumV2()) / 4294967296.0;
  double mu4 = 0;
  for (std::size_t k = 0; k < row.counts.size(); ++k) {
    const double v = row.min_v + static_cast<double>(k);
    mu4 += std::pow(v, 4) * static_cast<double>(row.counts[k]) / 4294967296.0;
  }
  CHECK(m.max_abs <= 3);
  CHECK(Unbiased(m, var, kN));
  CHECK(VarianceMatches(m, 1.0, mu4, kN));  // V = 1 as designed
  // Chi-square on the exact pmf (7 bins, df 6): accept if <= df + 6·sqrt(2·df).
  double chi2 = 0;
  for (std::size_t k = 0; k < row.counts.size(); ++k) {
    const double expected = kN * static_cast<double>(row.counts[k]) / 4294967296.0;
    const double observed =
        static_cast<double>(m.histogram[static_cast<std::size_t>(row.min_v + 16) + k]);
    chi2 += (observed - expected) * (observed - expected) / expected;
  }
  CHECK(chi2 <= 6 + 6 * std::sqrt(12.0));
  // Small counts use their own rows, also unbiased and never released as 1 or 2.
  for (std::int64_t i = 1; i <= 5; ++i) {
    const Moments s = Sample(t, i, 100000, 300 + static_cast<std::uint64_t>(i));
    const double vi = ToDouble(t.spec().rows[static_cast<std::size_t>(i)].SumV2()) / 4294967296.0;
    CHECK(Unbiased(s, vi, 100000));
    CHECK(s.max_abs <= 3);
    CHECK(s.histogram[static_cast<std::size_t>(16 + 1 - i)] == 0);  // never 1
    CHECK(s.histogram[static_cast<std::size_t>(16 + 2 - i)] == 0);  // never 2
  }
}

TEST_CASE("statistics negative control: a biased table and a wrong variance are detected") {
  constexpr int kN = 400000;
  // The general row with 1% of the keys moved from -1 to +1 (mean +0.02): the same test that
  // accepts the real row rejects it.
  PtableRow biased = PtableD3V1Js2().spec().rows.back();
  biased.counts[2] -= 42949673;
  biased.counts[4] += 42949673;
  std::mt19937_64 rng(2024);
  double sum = 0;
  for (int c = 0; c < kN; ++c) sum += biased.Lookup(static_cast<std::uint32_t>(rng()));
  Moments m;
  m.mean = sum / kN;
  CHECK_FALSE(Unbiased(m, 1.0, kN));
  // A variance claim of 0.7 or 1.3 is rejected by the same data that accepts 1.0.
  const Moments good = Sample(PtableD3V1Js2(), 500, kN, 2024);
  const PtableRow& row = PtableD3V1Js2().spec().rows.back();
  double mu4 = 0;
  for (std::size_t k = 0; k < row.counts.size(); ++k) {
    const double v = row.min_v + static_cast<double>(k);
    mu4 += std::pow(v, 4) * static_cast<double>(row.counts[k]) / 4294967296.0;
  }
  CHECK(VarianceMatches(good, 1.0, mu4, kN));
  CHECK_FALSE(VarianceMatches(good, 0.7, mu4, kN));
  CHECK_FALSE(VarianceMatches(good, 1.3, mu4, kN));
  // Rounding residue 2 with the direction threshold at 0.5 instead of 0.6 (mean +0.5).
  PtableSpec wrong = RandomRoundingPtable(5).spec();
  wrong.rows[2].counts.front() = kKeySpace / 2;
  wrong.rows[2].counts.back() = kKeySpace / 2;
  CHECK_FALSE(CheckPtable(wrong).ok());
  wrong.max_bias_numerator = std::int64_t{1} << 40;
  absl::StatusOr<Ptable> w = Ptable::Create(wrong);
  REQUIRE(w.ok());
  CHECK_FALSE(Unbiased(Sample(*w, 1002, kN, 9), 6.0, kN));
  CHECK(Unbiased(Sample(RandomRoundingPtable(5), 1002, kN, 9), 6.0, kN));
}

// --- Magnitudes (§5.7) ---------------------------------------------------------------------

TEST_CASE("§5.7: the worked income example gives 5,259,850 and 5,260,000, mean 43,800") {
  // Keys placing j = 1 at +1 and j = 2 at -1 in the general row.
  const MagnitudeKeyFn key = [](std::string_view variable, std::uint32_t j, std::uint32_t ck) {
    CHECK(variable == "income");
    CHECK(ck == 12345U);
    return j == 1 ? Key(0.80) : Key(0.20);
  };
  const MagnitudeParams params;
  REQUIRE(CheckMagnitudeParams(params).ok());
  const std::vector<std::int64_t> largest = {81000, 96000, 12000};  // any order; k = 2 used
  const PerturbedMagnitude out =
      PerturbMagnitude(5254300, largest, 12345U, "income", params, key, 1000);
  CHECK(out.perturbed == 5259850);
  CHECK(out.released == 5260000);
  CHECK(DerivedMean(out.perturbed, 120, 100) == 43800);
  CHECK(DerivedMean(out.perturbed, 0, 100) == std::nullopt);
}

TEST_CASE("magnitude noise: deterministic, bounded by D·m·Σw|x|, unbiased, uses |x|") {
  const MagnitudeParams params;
  std::mt19937_64 rng(77);
  const MagnitudeKeyFn key = [](std::string_view, std::uint32_t j, std::uint32_t ck) {
    // A stand-in PRF (the enclave uses RecordKeyer::MagnitudeKey).
    std::uint64_t z = (std::uint64_t{ck} << 8) ^ j;
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return static_cast<std::uint32_t>(z >> 32);
  };
  double noise_sum = 0;
  constexpr int kN = 100000;
  for (int c = 0; c < kN; ++c) {
    const auto x1 = static_cast<std::int64_t>(rng() % 100000);
    const auto x2 = static_cast<std::int64_t>(rng() % 100000);
    const std::vector<std::int64_t> largest = {x1, -x2};
    const auto ck = static_cast<std::uint32_t>(rng());
    const PerturbedMagnitude a = PerturbMagnitude(1000000, largest, ck, "v", params, key, 1);
    const PerturbedMagnitude b = PerturbMagnitude(1000000, largest, ck, "v", params, key, 1);
    REQUIRE(a.perturbed == b.perturbed);
    const std::int64_t noise = a.perturbed - 1000000;
    // |noise| <= 3 · 0.1 · (|x1| + 0.5|x2|) + rounding.
    REQUIRE(std::abs(static_cast<double>(noise)) <=
            0.3 * (static_cast<double>(std::max(x1, x2)) + 0.5 * static_cast<double>(std::min(x1, x2))) + 1);
    noise_sum += static_cast<double>(noise) / (0.1 * 100000);
  }
  // Each term's v has variance ~1; scaled noise SD <= ~1.2 per cell.
  CHECK(std::abs(noise_sum / kN) <= 6.0 * 1.2 / std::sqrt(static_cast<double>(kN)));
}

TEST_CASE("magnitude parameters are checked") {
  MagnitudeParams p;
  p.k = 3;
  CHECK_FALSE(CheckMagnitudeParams(p).ok());
  p = MagnitudeParams();
  p.m_permille = 2000;
  CHECK_FALSE(CheckMagnitudeParams(p).ok());
  p = MagnitudeParams();
  p.row = RandomRoundingPtable(5).RowFor(2);  // biased by rounding: refused
  CHECK_FALSE(CheckMagnitudeParams(p).ok());
}

}  // namespace
}  // namespace enclave::disclosure
