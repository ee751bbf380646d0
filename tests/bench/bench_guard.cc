// bench_guard: the differencing guard and decomposition quota (disclosure-control.md §6.1, §6.2)
// with a large history, against the guard's previous algorithm (scan every kept population of a
// similar size) run in the same process on the same history.
//
//   build/ci/tests/bench/bench_guard [--persons 78000] [--populations 1000000] [--releases 300]
//                                    [--universes 1]
//
// A synthetic municipality: 78,000 persons with a wijk (13, in 3 clusters), age band, sex, origin
// and education; about 60,000 of them resident at each of a series of quarterly dates, 1.5% moving
// out and 1.5% in per quarter. A table is (date, geography level, up to two breakdowns), and its
// populations are what core::TableBuilder gives the guard: every cell of every dimension
// combination, margins and the universe included, of at least T = 10 persons, each with the
// partitions the table shows. The history is every distinct table of the first dates until it
// holds the asked number of populations (the history of any number of releases of those tables:
// repeats add nothing). --universes U gives each date U filtered universes (all residents and
// U - 1 fixed 70% selections, as other templates select other persons), so that the history
// reaches the asked size in fewer dates. Then new releases are timed: tables at the next dates (many are refused:
// adjacent quarters) and repeats of kept tables.
#include <sys/resource.h>

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <random>
#include <string>
#include <vector>

#include "enclave/disclosure/differencing.h"
#include "tests/bench/bench_stats.h"

namespace {

using enclave::bench::Clock;
using enclave::bench::Median;
using enclave::bench::Ms;
using enclave::bench::Percentile;
using enclave::disclosure::DifferencingGuard;
using enclave::disclosure::GuardedPopulation;
using enclave::disclosure::GuardKey;
using enclave::disclosure::GuardLimits;
using enclave::disclosure::Population;

constexpr std::uint32_t kT = 10;

struct Person {
  std::uint8_t wijk, cluster, age, sex, herkomst, opl;
};

struct Attribute {
  const char* code_list;
  std::uint32_t codes;
  std::uint8_t Person::*field;
};

const Attribute kWijk{"wijk", 13, &Person::wijk};
const Attribute kCluster{"wijkcluster", 3, &Person::cluster};
const Attribute kBreakdowns[] = {{"leeftijd", 3, &Person::age},
                                 {"geslacht", 2, &Person::sex},
                                 {"herkomst", 6, &Person::herkomst},
                                 {"opleiding", 4, &Person::opl}};

struct Shape {
  std::vector<const Attribute*> dims;
};

std::vector<Shape> Shapes() {
  std::vector<Shape> out;
  const Attribute* geos[] = {nullptr, &kCluster, &kWijk};
  for (const Attribute* geo : geos) {
    std::vector<std::vector<const Attribute*>> sets = {{}};
    for (std::size_t i = 0; i < 4; ++i) {
      sets.push_back({&kBreakdowns[i]});
      for (std::size_t j = i + 1; j < 4; ++j) sets.push_back({&kBreakdowns[i], &kBreakdowns[j]});
    }
    for (auto& set : sets) {
      Shape s;
      if (geo != nullptr) s.dims.push_back(geo);
      s.dims.insert(s.dims.end(), set.begin(), set.end());
      if (!s.dims.empty()) out.push_back(std::move(s));
    }
  }
  return out;
}

// The populations of one table, as TableBuilder gives them to the guard.
std::vector<GuardedPopulation> Table(const std::vector<Person>& persons,
                                     const std::vector<std::uint8_t>& resident, const Shape& shape) {
  const std::size_t d = shape.dims.size();
  std::vector<std::size_t> stride(d);
  std::size_t cells = 1;
  for (std::size_t i = d; i-- > 0;) {
    stride[i] = cells;
    cells *= shape.dims[i]->codes + 1;
  }
  std::vector<std::vector<std::uint32_t>> members(cells);
  std::vector<std::size_t> targets;
  for (std::uint32_t u = 0; u < persons.size(); ++u) {
    if (resident[u] == 0) continue;
    targets.assign(1, 0);
    for (std::size_t i = 0; i < d; ++i) {
      const std::size_t code = persons[u].*(shape.dims[i]->field);
      const std::size_t n = targets.size();
      for (std::size_t t = 0; t < n; ++t) {
        targets.push_back(targets[t] + shape.dims[i]->codes * stride[i]);
        targets[t] += code * stride[i];
      }
    }
    for (std::size_t c : targets) members[c].push_back(u);
  }
  std::vector<GuardedPopulation> out;
  for (std::size_t c = 0; c < cells; ++c) {
    if (members[c].size() < kT) continue;
    GuardedPopulation g;
    std::vector<std::string> at_total;
    for (std::size_t i = 0; i < d; ++i) {
      if ((c / stride[i]) % (shape.dims[i]->codes + 1) == shape.dims[i]->codes) {
        at_total.push_back(shape.dims[i]->code_list);
      }
    }
    std::sort(at_total.begin(), at_total.end());
    for (std::size_t m = 1; m < (std::size_t{1} << at_total.size()); ++m) {
      std::string name;
      for (std::size_t b = 0; b < at_total.size(); ++b) {
        if ((m >> b & 1U) == 0) continue;
        if (!name.empty()) name += '+';
        name += at_total[b];
      }
      g.partitions.push_back(std::move(name));
    }
    g.units = Population::FromSorted(std::move(members[c]));
    out.push_back(std::move(g));
  }
  return out;
}

// The guard's previous algorithm: every kept population whose size is within T - 1 is decoded
// and compared. The baseline the prefix index is measured against.
class ScanGuard {
 public:
  void Add(const Population& p) {
    by_size_.emplace(p.size(), enclave::disclosure::EncodePopulation(p));
  }
  bool Refuses(const std::vector<GuardedPopulation>& release) const {
    for (const GuardedPopulation& g : release) {
      const std::size_t n = g.units.size();
      for (auto it = by_size_.lower_bound(n - kT + 1); it != by_size_.end() && it->first <= n + kT - 1;
           ++it) {
        auto q = enclave::disclosure::DecodePopulation(it->second);
        const std::uint64_t d = enclave::disclosure::SymmetricDifferenceSize(g.units, *q, kT);
        if (d > 0 && d < kT) return true;
      }
    }
    return false;
  }

 private:
  std::multimap<std::size_t, std::string> by_size_;
};

long RssMb() {
  FILE* f = std::fopen("/proc/self/status", "r");
  if (f == nullptr) return -1;
  char line[256];
  long kb = -1;
  while (std::fgets(line, sizeof line, f) != nullptr) {
    if (std::strncmp(line, "VmRSS:", 6) == 0) kb = std::strtol(line + 6, nullptr, 10);
  }
  std::fclose(f);
  return kb / 1024;
}

}  // namespace

int main(int argc, char** argv) {
  std::size_t persons_n = 78000;
  std::size_t target_populations = 1000000;
  std::size_t timed_releases = 300;
  std::size_t universes = 1;
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string flag = argv[i];
    const std::size_t v = std::strtoull(argv[i + 1], nullptr, 10);
    if (flag == "--persons") persons_n = v;
    else if (flag == "--populations") target_populations = v;
    else if (flag == "--releases") timed_releases = v;
    else if (flag == "--universes") universes = std::max<std::size_t>(v, 1);
  }
  std::mt19937_64 rng(20261207);
  std::vector<Person> persons(persons_n);
  const double wijk_weight[13] = {9, 12, 10, 3, 8, 5, 7, 9, 11, 10, 6, 5, 5};
  std::discrete_distribution<int> wijk(std::begin(wijk_weight), std::end(wijk_weight));
  for (Person& p : persons) {
    p.wijk = static_cast<std::uint8_t>(wijk(rng));
    p.cluster = static_cast<std::uint8_t>(p.wijk < 4 ? 0 : (p.wijk < 7 ? 1 : 2));
    p.age = static_cast<std::uint8_t>(rng() % 3);
    p.sex = static_cast<std::uint8_t>(rng() % 2);
    const std::uint64_t h = rng() % 100;
    p.herkomst = static_cast<std::uint8_t>(h < 70 ? 0 : (h < 80 ? 1 : (h < 85 ? 2 : (h < 90 ? 3 : (h < 95 ? 4 : 5)))));
    p.opl = static_cast<std::uint8_t>(rng() % 4);
  }
  // Residents per quarter: a random start, then 1.5% out and 1.5% in each quarter.
  std::vector<std::vector<std::uint8_t>> resident;
  resident.emplace_back(persons_n, 0);
  for (std::size_t u = 0; u < persons_n; ++u) resident[0][u] = rng() % 13 < 10 ? 1 : 0;
  auto next_quarter = [&] {
    std::vector<std::uint8_t> r = resident.back();
    for (std::size_t u = 0; u < persons_n; ++u) {
      if (rng() % 1000 < 15) r[u] = static_cast<std::uint8_t>(1 - r[u]);
    }
    resident.push_back(std::move(r));
  };
  const std::vector<Shape> shapes = Shapes();
  // Universe v of a date: the residents a template selects. v = 0: all of them; v > 0: a fixed
  // 70% of them, different per v (other templates' filters: age ranges, flags, registers).
  auto universe = [&](const std::vector<std::uint8_t>& res, std::size_t v) {
    if (v == 0) return res;
    std::vector<std::uint8_t> out(res.size(), 0);
    for (std::size_t u = 0; u < res.size(); ++u) {
      std::uint64_t h = (u + 1) * 0x9e3779b97f4a7c15ULL ^ (v * 0xbf58476d1ce4e5b9ULL);
      h ^= h >> 31;
      h *= 0x94d049bb133111ebULL;
      h ^= h >> 29;
      out[u] = static_cast<std::uint8_t>(res[u] != 0 && h % 100 < 70);
    }
    return out;
  };
  const GuardKey key{"bench-v1", "person"};
  const GuardLimits limits{kT, 0};  // the quota is measured too, without refusing on it

  // The history: every table of date 0, 1, ... until it holds the asked number of populations.
  DifferencingGuard guard;
  ScanGuard scan;
  std::size_t tables = 0;
  std::size_t populations = 0;
  std::size_t elements = 0;
  const long rss_before = RssMb();
  const auto build_start = Clock::now();
  double generate_ms = 0;
  std::size_t dates = 0;
  while (populations < target_populations) {
    if (dates > 0) next_quarter();
    for (std::size_t v = 0; v < universes; ++v) {
    const std::vector<std::uint8_t> selected = universe(resident.back(), v);
    for (const Shape& shape : shapes) {
      const auto g0 = Clock::now();
      std::vector<GuardedPopulation> t = Table(persons, selected, shape);
      generate_ms += Ms(Clock::now() - g0);
      std::vector<enclave::disclosure::KeptPopulation> encodings;
      std::vector<std::pair<enclave::disclosure::PopulationDigest, std::string>> parts;
      for (const GuardedPopulation& g : t) {
        encodings.push_back({enclave::disclosure::EncodePopulation(g.units), kT});
        const enclave::disclosure::PopulationDigest digest = enclave::disclosure::DigestOf(g.units);
        for (const std::string& p : g.partitions) parts.emplace_back(digest, p);
        scan.Add(g.units);
        elements += g.units.size();
      }
      if (!guard.Restore(key, encodings, parts).ok()) return 1;
      populations = guard.RecordedCount(key);
      ++tables;
    }
    }
    ++dates;
  }
  const double restore_ms = Ms(Clock::now() - build_start) - generate_ms;
  const long rss_after = RssMb();
  std::printf("history: %zu populations (%zu elements) from %zu distinct tables over %zu dates\n",
              populations, elements, tables, dates);
  std::printf("restore into the guard (start-up path, excluding generation): %.0f ms; RSS %ld MB "
              "-> %ld MB (guard and the scan baseline's copy)\n",
              restore_ms, rss_before, rss_after);

  // Timed releases: tables at the next two dates, and repeats of kept tables.
  std::vector<double> new_ms, repeat_ms, scan_ms, per_pop_us, digest_ms;
  std::size_t refused = 0;
  std::size_t agree = 0;
  std::size_t compared = 0;
  std::size_t release_pops = 0;
  const auto keep = static_cast<std::ptrdiff_t>(std::min<std::size_t>(3, resident.size()));
  std::vector<std::vector<std::uint8_t>> kept_dates(resident.end() - keep, resident.end());
  next_quarter();
  next_quarter();
  for (std::size_t r = 0; r < timed_releases; ++r) {
    const Shape& shape = shapes[rng() % shapes.size()];
    const bool repeat = r % 3 == 2;
    const auto& res = repeat ? kept_dates[rng() % kept_dates.size()]
                             : resident[resident.size() - 1 - rng() % 2];
    std::vector<GuardedPopulation> t = Table(persons, universe(res, rng() % universes), shape);
    release_pops += t.size();
    const auto d0 = Clock::now();
    std::uint64_t sink = 0;
    for (const GuardedPopulation& g : t) sink += enclave::disclosure::DigestOf(g.units).hi;
    digest_ms.push_back(Ms(Clock::now() - d0) + static_cast<double>(sink % 2) * 1e-12);
    const auto s0 = Clock::now();
    const absl::Status st = guard.CheckAndRecord(key, t, limits);
    const double ms = Ms(Clock::now() - s0);
    (repeat ? repeat_ms : new_ms).push_back(ms);
    if (!t.empty()) per_pop_us.push_back(ms * 1000.0 / static_cast<double>(t.size()));
    if (!st.ok()) ++refused;
    if (r % 10 == 0 && !repeat) {
      const auto b0 = Clock::now();
      const bool scan_refuses = scan.Refuses(t);
      scan_ms.push_back(Ms(Clock::now() - b0));
      ++compared;
      if (scan_refuses == !st.ok()) ++agree;
    }
    if (st.ok()) {
      for (const GuardedPopulation& g : t) scan.Add(g.units);
    }
  }
  std::printf("timed: %zu releases (%.0f populations each on average), %zu refused\n",
              timed_releases, static_cast<double>(release_pops) / static_cast<double>(timed_releases),
              refused);
  std::printf("guard, new tables:  p50 %.2f ms, p95 %.2f ms, max %.2f ms per release\n",
              Median(new_ms), Percentile(new_ms, 0.95), Percentile(new_ms, 1.0));
  std::printf("guard, repeats:     p50 %.2f ms, p95 %.2f ms per release\n", Median(repeat_ms),
              Percentile(repeat_ms, 0.95));
  std::printf("guard, per population: p50 %.1f us; a digest pass alone over a release: p50 %.2f ms, "
              "p95 %.2f ms\n",
              Median(per_pop_us), Median(digest_ms), Percentile(digest_ms, 0.95));
  std::printf("baseline (scan every kept population of a similar size), new tables: p50 %.1f ms; "
              "ratio guard/baseline %.4f; same decision on %zu of %zu\n",
              Median(scan_ms), Median(new_ms) / std::max(Median(scan_ms), 1e-9), agree, compared);
  return agree == compared ? 0 : 2;
}
