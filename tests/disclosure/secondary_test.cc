// Secondary suppression and the attacker's LP audit (disclosure-control.md §4): the worked
// examples, generated tables checked by an independent LP built here (not through AuditTable),
// a negative control, determinism, and failing closed.
#include "enclave/disclosure/secondary.h"

#include <doctest/doctest.h>

#include <chrono>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "CbcModel.hpp"
#include "ClpSimplex.hpp"
#include "CoinFinite.hpp"
#include "CoinPackedMatrix.hpp"
#include "OsiClpSolverInterface.hpp"
#include "enclave/adapters/cbc/cbc_solver.h"
#include "enclave/adapters/clp/clp_solver.h"
#include "enclave/disclosure/lp_solver.h"
#include "enclave/disclosure/protection.h"
#include "enclave/disclosure/table_structure.h"

namespace enclave::disclosure {
namespace {

constexpr std::int64_t kT = 10;

ProtectionRequirement ZerosSafe() { return ProtectionRequirement{true, 0, true, kT}; }
ProtectionRequirement Sensitive() { return ProtectionRequirement{false, 0, true, kT}; }

// ---------------------------------------------------------------------------------------------
// Test doubles.

// Delegates to CLP for the first `optimal_calls` optimisations, then reports `failure`.
class FailingSolver final : public LpSolver {
 public:
  FailingSolver(int optimal_calls, LpStatus failure) : left_(optimal_calls), failure_(failure) {}
  absl::Status Load(const LpProblem& problem) override { return real_.Load(problem); }
  LpResult Optimize(std::size_t variable, LpSense sense) override {
    if (left_ <= 0) return LpResult{failure_, 0.0, {}};
    --left_;
    return real_.Optimize(variable, sense);
  }

 private:
  adapters::clp::ClpSolver real_;
  int left_;
  LpStatus failure_;
};

// ---------------------------------------------------------------------------------------------
// An independent attacker, sharing no code with AuditTable: every cell is a CLP column (released
// cells fixed by their bounds, suppressed ones in [0, U]), the relations are enumerated here from
// coordinate tuples, and each bound is a dual-simplex solve on a fresh model.

struct Shape {
  std::vector<std::size_t> codes;          // per dimension
  std::vector<std::vector<int>> parent;    // per dimension: empty or per code (-1: the total)
};

// Children of node x (a code, or codes[d] for the total) in dimension d.
std::vector<std::size_t> ChildrenOf(const Shape& s, std::size_t d, std::size_t x) {
  std::vector<std::size_t> out;
  for (std::size_t c = 0; c < s.codes[d]; ++c) {
    const int p = s.parent[d].empty() ? -1 : s.parent[d][c];
    const std::size_t parent_node = p < 0 ? s.codes[d] : static_cast<std::size_t>(p);
    if (parent_node == x) out.push_back(c);
  }
  return out;
}

// Leaves under node x in dimension d (x itself when it has no children).
std::vector<std::size_t> LeavesUnder(const Shape& s, std::size_t d, std::size_t x) {
  std::vector<std::size_t> kids = ChildrenOf(s, d, x);
  if (kids.empty()) return {x};
  std::vector<std::size_t> out;
  for (std::size_t k : kids) {
    for (std::size_t l : LeavesUnder(s, d, k)) out.push_back(l);
  }
  return out;
}

std::size_t Horner(const Shape& s, const std::vector<std::size_t>& t) {
  std::size_t index = 0;
  for (std::size_t d = 0; d < t.size(); ++d) index = index * (s.codes[d] + 1) + t[d];
  return index;
}

void ForEachTuple(const Shape& s, const std::function<void(const std::vector<std::size_t>&)>& f) {
  std::vector<std::size_t> t(s.codes.size(), 0);
  for (;;) {
    f(t);
    std::size_t d = t.size();
    while (d > 0) {
      --d;
      if (++t[d] <= s.codes[d]) break;
      t[d] = 0;
      if (d == 0) return;
    }
    if (t.empty()) return;
  }
}

std::size_t CellCount(const Shape& s) {
  std::size_t n = 1;
  for (std::size_t c : s.codes) n *= c + 1;
  return n;
}

struct IndependentRelation {
  std::size_t total;
  std::vector<std::size_t> parts;
};

std::vector<IndependentRelation> IndependentRelations(const Shape& s) {
  std::vector<IndependentRelation> out;
  ForEachTuple(s, [&](const std::vector<std::size_t>& t) {
    for (std::size_t d = 0; d < t.size(); ++d) {
      const std::vector<std::size_t> kids = ChildrenOf(s, d, t[d]);
      if (kids.empty()) continue;
      IndependentRelation r{Horner(s, t), {}};
      std::vector<std::size_t> u = t;
      for (std::size_t k : kids) {
        u[d] = k;
        r.parts.push_back(Horner(s, u));
      }
      out.push_back(std::move(r));
    }
  });
  return out;
}

struct Interval {
  std::int64_t lo;
  std::int64_t hi;
};

// Intervals of the given cells, by an independent LP.
std::vector<Interval> IndependentIntervals(const Shape& s, const std::vector<std::int64_t>& values,
                                           const std::vector<bool>& suppressed,
                                           const std::vector<std::size_t>& cells) {
  const std::size_t n = CellCount(s);
  std::int64_t upper = 0;
  for (std::int64_t v : values) upper = std::max(upper, v);
  std::vector<double> col_lo(n), col_hi(n), obj(n, 0.0);
  for (std::size_t c = 0; c < n; ++c) {
    col_lo[c] = suppressed[c] ? 0.0 : static_cast<double>(values[c]);
    col_hi[c] = suppressed[c] ? static_cast<double>(upper) : static_cast<double>(values[c]);
  }
  CoinPackedMatrix m(false, 0, 0);
  m.setDimensions(0, static_cast<int>(n));
  std::vector<double> zero;
  for (const IndependentRelation& r : IndependentRelations(s)) {
    std::vector<int> idx{static_cast<int>(r.total)};
    std::vector<double> el{-1.0};
    for (std::size_t p : r.parts) {
      idx.push_back(static_cast<int>(p));
      el.push_back(1.0);
    }
    m.appendRow(static_cast<int>(idx.size()), idx.data(), el.data());
    zero.push_back(0.0);
  }
  std::vector<Interval> out;
  for (std::size_t cell : cells) {
    Interval iv{};
    for (int dir : {1, -1}) {
      ClpSimplex model;
      model.setLogLevel(0);
      model.loadProblem(m, col_lo.data(), col_hi.data(), obj.data(), zero.data(), zero.data());
      model.setObjectiveCoefficient(static_cast<int>(cell), 1.0);
      model.setOptimizationDirection(dir);
      model.dual();
      REQUIRE(model.isProvenOptimal());
      const double x = model.getColSolution()[cell];
      if (dir == 1) {
        iv.lo = static_cast<std::int64_t>(std::ceil(x - 1e-6));
      } else {
        iv.hi = static_cast<std::int64_t>(std::floor(x + 1e-6));
      }
    }
    out.push_back(iv);
  }
  return out;
}

// Whether the attacker narrows the primary into its protection range.
bool Recoverable(const ProtectionRequirement& req, const Interval& iv) {
  return !Satisfied(req, iv.lo, iv.hi);
}

// ---------------------------------------------------------------------------------------------
// Generated tables.

class Rng {
 public:
  explicit Rng(std::uint64_t seed) : s_(seed) {}
  std::uint64_t Next() {  // splitmix64
    std::uint64_t z = (s_ += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
  }
  std::int64_t Uniform(std::int64_t lo, std::int64_t hi) {  // inclusive; tiny ranges only
    return lo + static_cast<std::int64_t>(Next() % static_cast<std::uint64_t>(hi - lo + 1));
  }

 private:
  std::uint64_t s_;
};

// Inner (leaf) cells random: 10% zero, 25% in [1, 9], else [10, 150]; every other cell the sum of
// the leaves below it, computed here without the relations.
std::vector<std::int64_t> GenerateValues(const Shape& s, Rng& rng) {
  const std::size_t n = CellCount(s);
  std::vector<std::int64_t> leaf(n, 0);
  ForEachTuple(s, [&](const std::vector<std::size_t>& t) {
    for (std::size_t d = 0; d < t.size(); ++d) {
      if (!ChildrenOf(s, d, t[d]).empty()) return;
    }
    const std::int64_t roll = rng.Uniform(0, 99);
    leaf[Horner(s, t)] = roll < 10 ? 0 : roll < 35 ? rng.Uniform(1, 9) : rng.Uniform(10, 150);
  });
  std::vector<std::int64_t> values(n, 0);
  ForEachTuple(s, [&](const std::vector<std::size_t>& t) {
    std::vector<std::vector<std::size_t>> leaves;
    for (std::size_t d = 0; d < t.size(); ++d) leaves.push_back(LeavesUnder(s, d, t[d]));
    std::int64_t sum = 0;
    std::vector<std::size_t> pick(t.size(), 0);
    for (;;) {
      std::vector<std::size_t> u(t.size());
      for (std::size_t d = 0; d < t.size(); ++d) u[d] = leaves[d][pick[d]];
      sum += leaf[Horner(s, u)];
      std::size_t d = 0;
      while (d < t.size() && ++pick[d] == leaves[d].size()) pick[d++] = 0;
      if (d == t.size()) break;
    }
    values[Horner(s, t)] = sum;
  });
  return values;
}

std::vector<DimensionShape> ToDimensions(const Shape& s) {
  std::vector<DimensionShape> dims;
  for (std::size_t d = 0; d < s.codes.size(); ++d) dims.push_back({s.codes[d], s.parent[d]});
  return dims;
}

// 13 wijken in 3 clusters (5, 4, 4), then the clusters: 16 codes, the total is the gemeente.
std::vector<int> Wijken13() {
  std::vector<int> parent;
  for (int w = 0; w < 13; ++w) parent.push_back(w < 5 ? 13 : w < 9 ? 14 : 15);
  for (int c = 0; c < 3; ++c) parent.push_back(-1);
  return parent;
}

struct Outcome {
  int tables = 0;
  int with_primaries = 0;
  int refused = 0;
  int negative_control_hits = 0;
  int lonely = 0;  // tables where a relation has exactly one suppressed member, a primary
  int secondaries = 0;
};

// Protects each table, then checks with the independent attacker that no primary is recoverable;
// and that with only the primaries suppressed the same attacker recovers one.
void RunGenerated(const std::vector<Shape>& shapes, std::uint64_t seed, Outcome& o) {
  Rng rng(seed);
  adapters::clp::ClpSolver solver;
  for (const Shape& s : shapes) {
    ++o.tables;
    const bool sensitive = rng.Uniform(0, 2) == 0;
    const std::vector<std::int64_t> values = GenerateValues(s, rng);
    absl::StatusOr<TableStructure> cube = BuildCube(ToDimensions(s));
    REQUIRE(cube.ok());
    std::vector<PrimaryCell> primaries;
    std::vector<std::size_t> primary_cells;
    for (std::size_t c = 0; c < values.size(); ++c) {
      const bool unsafe = sensitive ? values[c] < kT : (values[c] > 0 && values[c] < kT);
      if (!unsafe) continue;
      primaries.push_back({c, sensitive ? Sensitive() : ZerosSafe()});
      primary_cells.push_back(c);
    }
    if (primaries.empty()) continue;
    ++o.with_primaries;
    CAPTURE(o.tables);

    // Negative control: secondary suppression switched off. Wherever a relation has a single
    // suppressed member, that primary is plainly recoverable, and the attacker must say so.
    std::vector<bool> only_primary(values.size(), false);
    for (std::size_t c : primary_cells) only_primary[c] = true;
    bool lonely = false;
    for (const IndependentRelation& r : IndependentRelations(s)) {
      int members = only_primary[r.total] ? 1 : 0;
      for (std::size_t part : r.parts) members += only_primary[part] ? 1 : 0;
      lonely = lonely || members == 1;
    }
    const std::vector<Interval> before = IndependentIntervals(s, values, only_primary, primary_cells);
    bool hit = false;
    for (std::size_t i = 0; i < primaries.size(); ++i) {
      hit = hit || Recoverable(primaries[i].requirement, before[i]);
    }
    if (lonely) {
      ++o.lonely;
      CHECK(hit);
    }
    if (hit) ++o.negative_control_hits;

    absl::StatusOr<Protection> p = ProtectTable(*cube, values, primaries, solver);
    if (!p.ok()) {
      CHECK(p.status().code() == absl::StatusCode::kFailedPrecondition);
      ++o.refused;
      continue;
    }
    o.secondaries += static_cast<int>(p->secondary.size());
    for (std::size_t c : primary_cells) CHECK(p->suppressed[c]);
    const std::vector<Interval> after = IndependentIntervals(s, values, p->suppressed, primary_cells);
    for (std::size_t i = 0; i < primaries.size(); ++i) {
      CAPTURE(primaries[i].cell);
      CHECK_FALSE(Recoverable(primaries[i].requirement, after[i]));
      // The audit's own interval agrees with the independent one (1-D, 2-D: exact LP bounds).
      const CellInterval* own = p->audit.Find(primaries[i].cell);
      REQUIRE(own != nullptr);
      CHECK(own->lo == after[i].lo);
      CHECK(own->hi == after[i].hi);
    }
  }
}

Shape Flat(std::vector<std::size_t> codes) {
  Shape s;
  s.codes = std::move(codes);
  s.parent.assign(s.codes.size(), {});
  return s;
}

// ---------------------------------------------------------------------------------------------
// The tables of disclosure-control.md §4.1 and §4.5.

// Wijken A, B, C (rows; the last row is the cluster) × bijstand, WW, none (the last column the
// total).
const std::vector<std::int64_t> kWorked = {
    7,  23, 412,  442,   //
    31, 18, 536,  585,   //
    12, 15, 298,  325,   //
    50, 56, 1246, 1352,  //
};

TEST_SUITE("TableStructure") {
  TEST_CASE("a 2-D cube is laid out as core lays out a release: first dimension slowest") {
    absl::StatusOr<TableStructure> t = BuildCube({{3, {}}, {3, {}}});
    REQUIRE(t.ok());
    CHECK(t->cell_count == 16);
    CHECK(t->CellIndex({0, 0}) == 0);
    CHECK(t->CellIndex({0, 3}) == 3);   // row A, total column
    CHECK(t->CellIndex({3, 0}) == 12);  // cluster row, bijstand
    CHECK(t->Coordinates(13) == std::vector<std::size_t>{3, 1});
    CHECK(CheckValues(*t, kWorked).ok());
    // 4 rows + 4 columns, each a relation.
    REQUIRE(t->relations.size() == 8);
    bool found_row_a = false;
    bool found_col_bij = false;
    for (const Relation& r : t->relations) {
      if (r.total == 3) found_row_a = r.parts == std::vector<std::size_t>{0, 1, 2};
      if (r.total == 12) found_col_bij = r.parts == std::vector<std::size_t>{0, 4, 8};
    }
    CHECK(found_row_a);
    CHECK(found_col_bij);
  }

  TEST_CASE("a hierarchy relates each parent to its own children and the total to the top level") {
    // w1, w2 in c1; w3, w4 in c2: codes {w1, w2, w3, w4, c1, c2}.
    absl::StatusOr<TableStructure> t = BuildCube({{6, {4, 4, 5, 5, kRoot, kRoot}}});
    REQUIRE(t.ok());
    REQUIRE(t->relations.size() == 3);
    CHECK(CheckValues(*t, {1, 2, 3, 4, 3, 7, 10}).ok());
    CHECK(CheckValues(*t, {1, 2, 3, 4, 3, 7, 20}).code() == absl::StatusCode::kInvalidArgument);
  }

  TEST_CASE("a 3-D cube matches the independently enumerated relations") {
    const Shape s = Flat({2, 3, 2});
    absl::StatusOr<TableStructure> t = BuildCube(ToDimensions(s));
    REQUIRE(t.ok());
    CHECK(t->cell_count == 36);
    const std::vector<IndependentRelation> expected = IndependentRelations(s);
    CHECK(t->relations.size() == expected.size());
    for (const IndependentRelation& e : expected) {
      bool found = false;
      for (const Relation& r : t->relations) found = found || (r.total == e.total && r.parts == e.parts);
      CHECK(found);
    }
    Rng rng(7);
    CHECK(CheckValues(*t, GenerateValues(s, rng)).ok());
  }

  TEST_CASE("malformed hierarchies and values are refused") {
    CHECK(BuildCube({{3, {kRoot, 0}}}).status().code() == absl::StatusCode::kInvalidArgument);
    CHECK(BuildCube({{2, {1, 0}}}).status().code() == absl::StatusCode::kInvalidArgument);
    CHECK(BuildCube({{2, {0, kRoot}}}).status().code() == absl::StatusCode::kInvalidArgument);
    CHECK(BuildCube({{2, {5, kRoot}}}).status().code() == absl::StatusCode::kInvalidArgument);
    CHECK(BuildCube({{4096, {}}, {4096, {}}}).status().code() ==
          absl::StatusCode::kInvalidArgument);
    absl::StatusOr<TableStructure> t = BuildCube({{2, {}}});
    REQUIRE(t.ok());
    CHECK(CheckValues(*t, {1, 2}).code() == absl::StatusCode::kInvalidArgument);
    CHECK(CheckValues(*t, {-1, 2, 1}).code() == absl::StatusCode::kInvalidArgument);
    CHECK(CheckValues(*t, {1, 2, 3}).ok());
  }

  TEST_CASE("only 1-D, hierarchical 1-D and 2-D tables with one hierarchy have exact LP bounds") {
    CHECK(LpIsExact(*BuildCube({{13, {}}})));
    CHECK(LpIsExact(*BuildCube({{16, Wijken13()}, {4, {}}})));
    CHECK(LpIsExact(*BuildCube({{13, {}}, {50, {}}})));
    CHECK_FALSE(LpIsExact(*BuildCube({{13, {}}, {2, {}}, {3, {}}})));
    CHECK_FALSE(LpIsExact(*BuildCube({{16, Wijken13()}, {16, Wijken13()}})));
    // Distinct-unit relations of a multi-valued dimension: even 1-D goes to the integer check.
    CHECK_FALSE(LpIsExact(*BuildCube({{3, {}, true}})));
    CHECK_FALSE(LpIsExact(*BuildCube({{13, {}}, {3, {}, true}})));
  }

  TEST_CASE("a multi-valued dimension relates distinct-unit counts: part <= total <= sum of parts") {
    // met verblijf 3, zonder 40, total 42: one young person has both kinds of trajectory.
    absl::StatusOr<TableStructure> t = BuildCube({{3, {}, true}});
    REQUIRE(t.ok());
    REQUIRE(t->relations.size() == 1);
    CHECK(t->relations[0].kind == RelationKind::kUnion);
    CHECK(CheckValues(*t, {3, 40, 0, 42}).ok());
    CHECK(CheckValues(*t, {3, 40, 0, 43}).ok());  // nobody in two codes: still a union
    CHECK(CheckValues(*t, {3, 40, 0, 44}).code() == absl::StatusCode::kInvalidArgument);  // > sum
    CHECK(CheckValues(*t, {3, 40, 0, 39}).code() == absl::StatusCode::kInvalidArgument);  // < part
    // The same counts under a dimension that is not multi-valued are not a table.
    absl::StatusOr<TableStructure> flat = BuildCube({{3, {}}});
    REQUIRE(flat.ok());
    CHECK(CheckValues(*flat, {3, 40, 0, 42}).code() == absl::StatusCode::kInvalidArgument);
    // wijk (2, one code each) x verblijf (2, multi-valued): the wijk relations stay sums.
    absl::StatusOr<TableStructure> two = BuildCube({{2, {}}, {2, {}, true}});
    REQUIRE(two.ok());
    int sums = 0;
    int unions = 0;
    for (const Relation& r : two->relations) (r.kind == RelationKind::kSum ? sums : unions)++;
    CHECK(sums == 3);    // one per verblijf column (2 codes and the total)
    CHECK(unions == 3);  // one per wijk row (2 codes and the total)
    // Rows: (2, 5 | 6), (4, 4 | 7); total (6, 9 | 13): 1 and 1 persons in both codes.
    CHECK(CheckValues(*two, {2, 5, 6, 4, 4, 7, 6, 9, 13}).ok());
    CHECK(CheckValues(*two, {2, 5, 6, 4, 4, 7, 6, 9, 12}).code() ==
          absl::StatusCode::kInvalidArgument);  // the column of totals must add up
  }
}

TEST_SUITE("AuditTable") {
  TEST_CASE("suppressing the 7 alone is recoverable from the row: [7, 7] (§4.1)") {
    absl::StatusOr<TableStructure> t = BuildCube({{3, {}}});
    REQUIRE(t.ok());
    const std::vector<std::int64_t> row = {7, 23, 412, 442};
    adapters::clp::ClpSolver solver;
    absl::StatusOr<AuditResult> a =
        AuditTable(*t, row, {true, false, false, false}, {{0, ZerosSafe()}}, solver);
    REQUIRE(a.ok());
    REQUIRE(a->intervals.size() == 1);
    CHECK(a->intervals[0].lo == 7);
    CHECK(a->intervals[0].hi == 7);
    CHECK(a->unprotected == std::vector<std::size_t>{0});
  }

  TEST_CASE("a pair in one row is still recovered from the column (§4.5, first attempt)") {
    absl::StatusOr<TableStructure> t = BuildCube({{3, {}}, {3, {}}});
    REQUIRE(t.ok());
    std::vector<bool> s(16, false);
    s[0] = s[1] = true;
    adapters::clp::ClpSolver solver;
    absl::StatusOr<AuditResult> a = AuditTable(*t, kWorked, s, {{0, Sensitive()}}, solver);
    REQUIRE(a.ok());
    CHECK(a->Find(0)->lo == 7);
    CHECK(a->Find(0)->hi == 7);
    CHECK_FALSE(a->AllProtected());
  }

  TEST_CASE("the rectangle with row C gives the worked intervals (§4.5)") {
    absl::StatusOr<TableStructure> t = BuildCube({{3, {}}, {3, {}}});
    REQUIRE(t.ok());
    std::vector<bool> s(16, false);
    s[0] = s[1] = s[8] = s[9] = true;
    adapters::clp::ClpSolver solver;
    absl::StatusOr<AuditResult> a = AuditTable(*t, kWorked, s, {{0, Sensitive()}}, solver);
    REQUIRE(a.ok());
    CHECK(a->AllProtected());
    CHECK(a->Find(0)->lo == 0);
    CHECK(a->Find(0)->hi == 19);
    CHECK(a->Find(1)->lo == 11);
    CHECK(a->Find(1)->hi == 30);
    CHECK(a->Find(8)->lo == 0);
    CHECK(a->Find(8)->hi == 19);
    CHECK(a->Find(9)->lo == 8);
    CHECK(a->Find(9)->hi == 27);
    CHECK(a->Find(2) == nullptr);
  }

  TEST_CASE("the attacker's upper bound tightens the audit") {
    // Suppressing the 7 and the row total: only the grand-total bound limits them.
    absl::StatusOr<TableStructure> t = BuildCube({{3, {}}});
    REQUIRE(t.ok());
    const std::vector<std::int64_t> row = {7, 23, 412, 442};
    const std::vector<bool> s = {true, false, false, true};
    adapters::clp::ClpSolver solver;
    absl::StatusOr<AuditResult> a = AuditTable(*t, row, s, {{0, Sensitive()}}, solver);
    REQUIRE(a.ok());
    CHECK(a->Find(0)->hi == 7);  // x_total <= 442 (the largest value) and x_total - x_0 = 435
    CHECK_FALSE(a->AllProtected());
    AuditOptions wide;
    wide.upper_bound = 1000;
    a = AuditTable(*t, row, s, {{0, Sensitive()}}, solver, wide);
    REQUIRE(a.ok());
    CHECK(a->Find(0)->hi == 565);
    CHECK(a->AllProtected());
    wide.upper_bound = 100;  // below the total: the true table would be infeasible
    CHECK(AuditTable(*t, row, s, {{0, Sensitive()}}, solver, wide).status().code() ==
          absl::StatusCode::kInvalidArgument);
  }

  TEST_CASE("inconsistent inputs are refused") {
    absl::StatusOr<TableStructure> t = BuildCube({{3, {}}});
    REQUIRE(t.ok());
    adapters::clp::ClpSolver solver;
    const std::vector<std::int64_t> row = {7, 23, 412, 442};
    CHECK(AuditTable(*t, row, {false, true, true, false}, {{0, ZerosSafe()}}, solver)
              .status()
              .code() == absl::StatusCode::kInvalidArgument);  // primary released
    CHECK(AuditTable(*t, row, {true, true}, {{0, ZerosSafe()}}, solver).status().code() ==
          absl::StatusCode::kInvalidArgument);
    CHECK(AuditTable(*t, {7, 23, 412, 443}, {true, true, false, false}, {{0, ZerosSafe()}}, solver)
              .status()
              .code() == absl::StatusCode::kInvalidArgument);
    CHECK(AuditTable(*t, row, {true, true, false, false}, {{9, ZerosSafe()}}, solver)
              .status()
              .code() == absl::StatusCode::kInvalidArgument);
  }

  TEST_CASE("a solver that does not reach an optimum fails the audit closed") {
    absl::StatusOr<TableStructure> t = BuildCube({{3, {}}, {3, {}}});
    REQUIRE(t.ok());
    std::vector<bool> s(16, false);
    s[0] = s[1] = s[8] = s[9] = true;
    for (LpStatus failure : {LpStatus::kOther, LpStatus::kInfeasible}) {
      for (int after : {0, 3, 7}) {
        FailingSolver solver(after, failure);
        CHECK(AuditTable(*t, kWorked, s, {{0, Sensitive()}}, solver).status().code() ==
              absl::StatusCode::kInternal);
      }
    }
  }
}

TEST_SUITE("ProtectTable") {
  TEST_CASE("the worked example picks the rectangle with row C (§4.5)") {
    absl::StatusOr<TableStructure> t = BuildCube({{3, {}}, {3, {}}});
    REQUIRE(t.ok());
    adapters::clp::ClpSolver solver;
    absl::StatusOr<Protection> p = ProtectTable(*t, kWorked, {{0, Sensitive()}}, solver);
    REQUIRE(p.ok());
    CHECK(p->secondary == std::vector<std::size_t>{1, 8, 9});
    CHECK(p->iterations == 1);
    REQUIRE(p->audit.intervals.size() == 4);
    CHECK(p->audit.Find(0)->hi == 19);
    CHECK(p->audit.Find(1)->lo == 11);
    CHECK(p->audit.Find(9)->hi == 27);
    CHECK(p->audit.AllProtected());
  }

  TEST_CASE("the cost decides between rectangles: costly row C gives row B") {
    absl::StatusOr<TableStructure> t = BuildCube({{3, {}}, {3, {}}});
    REQUIRE(t.ok());
    ProtectOptions options;
    options.cost = kWorked;
    options.cost[8] = 1000;  // (C, bijstand) now expensive
    adapters::clp::ClpSolver solver;
    absl::StatusOr<Protection> p = ProtectTable(*t, kWorked, {{0, Sensitive()}}, solver, options);
    REQUIRE(p.ok());
    CHECK(p->secondary == std::vector<std::size_t>{1, 4, 5});
    CHECK(p->audit.Find(0)->hi == 30);
  }

  TEST_CASE("the same table gives the same pattern every time") {
    Rng rng(42);
    const Shape s = Flat({13, 50});
    const std::vector<std::int64_t> values = GenerateValues(s, rng);
    absl::StatusOr<TableStructure> t = BuildCube(ToDimensions(s));
    REQUIRE(t.ok());
    std::vector<PrimaryCell> primaries;
    for (std::size_t c = 0; c < values.size(); ++c) {
      if (values[c] > 0 && values[c] < kT) primaries.push_back({c, ZerosSafe()});
    }
    adapters::clp::ClpSolver first_solver;
    absl::StatusOr<Protection> first = ProtectTable(*t, values, primaries, first_solver);
    REQUIRE(first.ok());
    CHECK_FALSE(first->secondary.empty());
    for (int run = 0; run < 2; ++run) {
      adapters::clp::ClpSolver solver;
      absl::StatusOr<Protection> again = ProtectTable(*t, values, primaries, solver);
      REQUIRE(again.ok());
      CHECK(again->suppressed == first->suppressed);
      CHECK(again->secondary == first->secondary);
    }
  }

  TEST_CASE("a primary margin is protected too") {
    // Row B is 3 + 4 = 7: both cells and the row total are primary.
    absl::StatusOr<TableStructure> t = BuildCube({{3, {}}, {2, {}}});
    REQUIRE(t.ok());
    const std::vector<std::int64_t> values = {
        40, 25, 65,   //
        3,  4,  7,    //
        30, 31, 61,   //
        73, 60, 133,  //
    };
    std::vector<PrimaryCell> primaries = {{3, ZerosSafe()}, {4, ZerosSafe()}, {5, ZerosSafe()}};
    adapters::clp::ClpSolver solver;
    absl::StatusOr<Protection> p = ProtectTable(*t, values, primaries, solver);
    REQUIRE(p.ok());
    CHECK_FALSE(p->secondary.empty());
    std::vector<bool> s = p->suppressed;
    const std::vector<Interval> iv = IndependentIntervals(Flat({3, 2}), values, s, {3, 4, 5});
    for (std::size_t i = 0; i < 3; ++i) CHECK_FALSE(Recoverable(ZerosSafe(), iv[i]));
  }

  TEST_CASE("zero cells: safe zeros need nothing, a sensitive zero needs room to rise") {
    absl::StatusOr<TableStructure> t = BuildCube({{3, {}}, {2, {}}});
    REQUIRE(t.ok());
    const std::vector<std::int64_t> values = {
        0,  25, 25,   //
        12, 14, 26,   //
        30, 31, 61,   //
        42, 70, 112,  //
    };
    adapters::clp::ClpSolver solver;
    absl::StatusOr<Protection> safe = ProtectTable(*t, values, {{0, ZerosSafe()}}, solver);
    REQUIRE(safe.ok());
    CHECK(safe->secondary.empty());
    absl::StatusOr<Protection> sensitive = ProtectTable(*t, values, {{0, Sensitive()}}, solver);
    REQUIRE(sensitive.ok());
    CHECK_FALSE(sensitive->secondary.empty());
    CHECK(sensitive->audit.Find(0)->hi >= kT);
  }

  TEST_CASE("a table that cannot be protected is refused") {
    absl::StatusOr<TableStructure> t = BuildCube({{2, {}}});
    REQUIRE(t.ok());
    adapters::clp::ClpSolver solver;
    SUBCASE("no candidate left: the whole table is below the threshold") {
      // A sensitive count of 3 + 4 = 7 can never be shown to reach 10 when the total is 7.
      absl::StatusOr<Protection> p =
          ProtectTable(*t, {3, 4, 7}, {{0, Sensitive()}, {1, Sensitive()}, {2, Sensitive()}}, solver);
      CHECK(p.status().code() == absl::StatusCode::kFailedPrecondition);
      CHECK(std::string(p.status().message()).find("table cannot be protected") == 0);
    }
    SUBCASE("the iteration limit") {
      ProtectOptions options;
      options.max_iterations = 0;
      CHECK(ProtectTable(*t, {3, 40, 43}, {{0, ZerosSafe()}}, solver, options).status().code() ==
            absl::StatusCode::kFailedPrecondition);
      options.max_iterations = 1;
      CHECK(ProtectTable(*t, {3, 40, 43}, {{0, ZerosSafe()}}, solver, options).ok());
    }
    SUBCASE("a requirement with no bound") {
      CHECK(ProtectTable(*t, {3, 40, 43}, {{0, ProtectionRequirement{}}}, solver).status().code() ==
            absl::StatusCode::kFailedPrecondition);
    }
    SUBCASE("a structure that is not a cube") {
      TableStructure hand;
      hand.cell_count = 3;
      hand.relations.push_back(Relation{2, {0, 1}});
      CHECK(ProtectTable(hand, {3, 40, 43}, {{0, ZerosSafe()}}, solver).status().code() ==
            absl::StatusCode::kInvalidArgument);
    }
  }

  TEST_CASE("any solver status but optimal refuses the table") {
    absl::StatusOr<TableStructure> t = BuildCube({{3, {}}, {3, {}}});
    REQUIRE(t.ok());
    for (LpStatus failure : {LpStatus::kOther, LpStatus::kInfeasible}) {
      // 0: the first solve fails; 1: the re-audit; 2 and 5: the final audit.
      for (int after : {0, 1, 2, 5}) {
        CAPTURE(after);
        FailingSolver solver(after, failure);
        absl::StatusOr<Protection> p = ProtectTable(*t, kWorked, {{0, Sensitive()}}, solver);
        CHECK(p.status().code() == absl::StatusCode::kFailedPrecondition);
      }
    }
    FailingSolver enough(1000, LpStatus::kOther);
    CHECK(ProtectTable(*t, kWorked, {{0, Sensitive()}}, enough).ok());
  }

  TEST_CASE("generated 1-D tables: protected, and recoverable without secondaries") {
    Rng rng(1);
    std::vector<Shape> shapes;
    for (int i = 0; i < 150; ++i) shapes.push_back(Flat({static_cast<std::size_t>(rng.Uniform(2, 12))}));
    Outcome o;
    RunGenerated(shapes, 101, o);
    MESSAGE("1-D: tables=" << o.tables << " with_primaries=" << o.with_primaries
                           << " refused=" << o.refused << " negative_control_hits="
                           << o.negative_control_hits << " lonely=" << o.lonely
                           << " secondaries=" << o.secondaries);
    CHECK(o.with_primaries >= 100);
    CHECK(o.refused * 10 <= o.with_primaries);
    CHECK(o.lonely >= 40);
    CHECK(o.negative_control_hits >= o.lonely);
  }

  TEST_CASE("generated 2-D tables with margins: protected, and recoverable without secondaries") {
    Rng rng(2);
    std::vector<Shape> shapes;
    for (int i = 0; i < 150; ++i) {
      shapes.push_back(Flat({static_cast<std::size_t>(rng.Uniform(2, 8)),
                             static_cast<std::size_t>(rng.Uniform(2, 10))}));
    }
    Outcome o;
    RunGenerated(shapes, 202, o);
    MESSAGE("2-D: tables=" << o.tables << " with_primaries=" << o.with_primaries
                           << " refused=" << o.refused << " negative_control_hits="
                           << o.negative_control_hits << " lonely=" << o.lonely
                           << " secondaries=" << o.secondaries);
    CHECK(o.with_primaries >= 140);
    CHECK(o.refused * 10 <= o.with_primaries);
    CHECK(o.lonely * 10 >= o.with_primaries * 9);
    CHECK(o.negative_control_hits >= o.lonely);
  }

  TEST_CASE("generated wijk -> wijkcluster -> gemeente tables: protected at every level") {
    std::vector<Shape> shapes;
    for (int i = 0; i < 40; ++i) {
      Shape s;
      s.codes = {16};
      s.parent = {Wijken13()};
      shapes.push_back(s);
    }
    for (std::size_t cols : {2U, 3U, 4U, 2U, 3U, 4U, 2U, 3U, 4U, 5U, 6U, 2U, 3U, 4U, 5U, 6U, 2U, 3U, 4U, 5U}) {
      Shape s;
      s.codes = {16, cols};
      s.parent = {Wijken13(), {}};
      shapes.push_back(s);
    }
    Outcome o;
    RunGenerated(shapes, 303, o);
    MESSAGE("hierarchy: tables=" << o.tables << " with_primaries=" << o.with_primaries
                                 << " refused=" << o.refused << " negative_control_hits="
                                 << o.negative_control_hits << " lonely=" << o.lonely
                           << " secondaries=" << o.secondaries);
    CHECK(o.with_primaries >= 55);
    CHECK(o.refused * 10 <= o.with_primaries);
    CHECK(o.lonely * 10 >= o.with_primaries * 8);
    CHECK(o.negative_control_hits >= o.lonely);
  }

  TEST_CASE("timing: the issue's 13 x 50 table and the shipped templates' shapes") {
    struct Case {
      std::string name;
      Shape shape;
    };
    Shape hier;
    hier.codes = {16, 4};
    hier.parent = {Wijken13(), {}};
    const std::vector<Case> cases = {
        {"13x50", Flat({13, 50})},        {"13x2", Flat({13, 2})},
        {"13x22", Flat({13, 22})},        {"13x3x2", Flat({13, 3, 2})},
        {"13x22x3", Flat({13, 22, 3})},   {"wijk+cluster(16)x4", hier},
        {"280x3", Flat({280, 3})},
    };
    for (const Case& c : cases) {
      Rng rng(9);
      const std::vector<std::int64_t> values = GenerateValues(c.shape, rng);
      absl::StatusOr<TableStructure> t = BuildCube(ToDimensions(c.shape));
      REQUIRE(t.ok());
      std::vector<PrimaryCell> primaries;
      for (std::size_t i = 0; i < values.size(); ++i) {
        if (values[i] > 0 && values[i] < kT) primaries.push_back({i, ZerosSafe()});
      }
      adapters::clp::ClpSolver solver;
      adapters::cbc::CbcSolver cbc;  // the 3-D shapes need the integer check
      ProtectOptions options;
      options.audit.integer.solver = &cbc;
      // This case measures; the product's wall-clock limits (tested elsewhere) must not turn a
      // slow sanitizer build or a loaded machine into a refusal here.
      options.audit.integer.per_solve = absl::Seconds(60);
      options.audit.integer.per_table = absl::Seconds(300);
      const auto start = std::chrono::steady_clock::now();
      absl::StatusOr<Protection> p = ProtectTable(*t, values, primaries, solver, options);
      const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                          std::chrono::steady_clock::now() - start)
                          .count();
      REQUIRE(p.ok());
      CHECK(p->audit.AllProtected());
      MESSAGE("bench=protect_table shape=" << c.name << " cells=" << values.size()
                                           << " primaries=" << primaries.size()
                                           << " secondaries=" << p->secondary.size()
                                           << " iterations=" << p->iterations << " ms=" << ms);
    }
  }
}


// ---------------------------------------------------------------------------------------------
// Linked tables (disclosure-control.md §4.6): a template releases one statistic by wijk in one
// request and by wijkcluster in another. The attacker holds both releases: every cell released by
// either is known, and the hierarchy's relations tie them together.

// The hierarchical table H: dimension 0 the 13 wijken, then the 3 clusters (Wijken13), the total;
// further flat dimensions as given.
Shape Hierarchical(const std::vector<std::size_t>& flat) {
  Shape s;
  s.codes = {16};
  s.parent = {Wijken13()};
  for (std::size_t c : flat) {
    s.codes.push_back(c);
    s.parent.emplace_back();
  }
  return s;
}

// A release of one level of H as a flat table of its own (level 0: wijken, 1: clusters), with
// each of its cells' index in H.
struct LevelSlice {
  Shape shape;
  std::vector<std::size_t> h_cell;  // per slice cell
};

LevelSlice Slice(const Shape& h, int level) {
  LevelSlice out;
  out.shape = Flat(h.codes);
  out.shape.codes[0] = level == 0 ? 13 : 3;
  out.h_cell.resize(CellCount(out.shape));
  ForEachTuple(out.shape, [&](const std::vector<std::size_t>& t) {
    std::vector<std::size_t> u = t;
    const std::size_t codes = out.shape.codes[0];
    u[0] = t[0] == codes ? 16 : (level == 0 ? t[0] : 13 + t[0]);
    out.h_cell[Horner(out.shape, t)] = Horner(h, u);
  });
  return out;
}

bool Unsafe(std::int64_t v) { return v > 0 && v < kT; }

// The union of both releases when each is protected alone, as a suppression pattern on H: a cell
// of H is unknown only when every release that contains it suppresses it. Empty when a release
// is refused.
std::optional<std::vector<bool>> SeparatelyProtected(const Shape& h,
                                                     const std::vector<std::int64_t>& values) {
  std::vector<int> releases_of(values.size(), 0);
  std::vector<int> suppressions_of(values.size(), 0);
  adapters::clp::ClpSolver solver;
  for (int level : {0, 1}) {
    const LevelSlice slice = Slice(h, level);
    std::vector<std::int64_t> v(slice.h_cell.size());
    std::vector<PrimaryCell> primaries;
    for (std::size_t c = 0; c < v.size(); ++c) {
      v[c] = values[slice.h_cell[c]];
      if (Unsafe(v[c])) primaries.push_back({c, ZerosSafe()});
    }
    std::vector<bool> suppressed(v.size(), false);
    if (!primaries.empty()) {
      absl::StatusOr<TableStructure> cube = BuildCube(ToDimensions(slice.shape));
      REQUIRE(cube.ok());
      absl::StatusOr<Protection> p = ProtectTable(*cube, v, primaries, solver);
      if (!p.ok()) return std::nullopt;
      suppressed = p->suppressed;
    }
    for (std::size_t c = 0; c < v.size(); ++c) {
      ++releases_of[slice.h_cell[c]];
      if (suppressed[c]) ++suppressions_of[slice.h_cell[c]];
    }
  }
  std::vector<bool> unknown(values.size(), false);
  for (std::size_t c = 0; c < values.size(); ++c) {
    unknown[c] = releases_of[c] > 0 && suppressions_of[c] == releases_of[c];
  }
  return unknown;
}

// The suppressed primary cells of H (either level) with their intervals from the independent LP
// over the union of both releases' released cells and H's relations.
std::vector<std::pair<std::size_t, Interval>> UnsafeIntervals(const Shape& h,
                                                              const std::vector<std::int64_t>& values,
                                                              const std::vector<bool>& unknown) {
  std::vector<std::size_t> cells;
  for (std::size_t c = 0; c < values.size(); ++c) {
    if (Unsafe(values[c]) && unknown[c]) cells.push_back(c);
  }
  const std::vector<Interval> iv = IndependentIntervals(h, values, unknown, cells);
  std::vector<std::pair<std::size_t, Interval>> out;
  for (std::size_t i = 0; i < cells.size(); ++i) out.emplace_back(cells[i], iv[i]);
  return out;
}

// H's values from its leaves (wijk x other codes), as the generator does.
std::vector<std::int64_t> FromWijken(const Shape& h, const std::vector<std::int64_t>& wijken) {
  std::vector<std::int64_t> values(CellCount(h), 0);
  ForEachTuple(h, [&](const std::vector<std::size_t>& t) {
    const std::vector<std::size_t> w = LeavesUnder(h, 0, t[0]);
    for (std::size_t wijk : w) values[Horner(h, t)] += wijken[wijk];
  });
  return values;
}

TEST_SUITE("linked tables: wijk and wijkcluster releases") {
  // Cluster 0 is wijken 0-4, cluster 1 wijken 5-8, cluster 2 wijken 9-12. Wijk 0 (4) is unsafe;
  // alone, the wijk table protects it with the cheapest partner, wijk 5 (12), in another cluster;
  // the cluster table has nothing to protect.
  const std::vector<std::int64_t> kWijken = {4,  50, 60, 70, 80,   //
                                             12, 40, 45, 55,       //
                                             30, 35, 65, 75};

  TEST_CASE("negative control: each release protected alone, their union recovers wijk 0") {
    const Shape h = Hierarchical({});
    const std::vector<std::int64_t> values = FromWijken(h, kWijken);
    const std::optional<std::vector<bool>> unknown = SeparatelyProtected(h, values);
    REQUIRE(unknown.has_value());
    REQUIRE((*unknown)[0]);  // the wijk release withholds wijk 0 ...
    CHECK((*unknown)[5]);    // ... with its partner in another cluster
    CHECK_FALSE((*unknown)[13]);  // the cluster release shows cluster 0
    const auto intervals = UnsafeIntervals(h, values, *unknown);
    REQUIRE(intervals.size() == 1);
    CHECK(intervals[0].first == 0);
    CHECK(intervals[0].second.lo == 4);  // cluster 0 minus wijken 1-4: exactly 4
    CHECK(intervals[0].second.hi == 4);
    CHECK(Recoverable(ZerosSafe(), intervals[0].second));
  }

  TEST_CASE("protected jointly on the full hierarchy, the union recovers nothing") {
    const Shape h = Hierarchical({});
    const std::vector<std::int64_t> values = FromWijken(h, kWijken);
    absl::StatusOr<TableStructure> cube = BuildCube(ToDimensions(h));
    REQUIRE(cube.ok());
    std::vector<PrimaryCell> primaries;
    for (std::size_t c = 0; c < values.size(); ++c) {
      if (Unsafe(values[c])) primaries.push_back({c, ZerosSafe()});
    }
    adapters::clp::ClpSolver solver;
    absl::StatusOr<Protection> p = ProtectTable(*cube, values, primaries, solver);
    REQUIRE(p.ok());
    // Both releases are slices of one pattern: their union is that pattern.
    const auto intervals = UnsafeIntervals(h, values, p->suppressed);
    REQUIRE(intervals.size() == 1);
    CHECK_FALSE(Recoverable(ZerosSafe(), intervals[0].second));
    // The pattern keeps wijk 0's partner inside cluster 0 or suppresses the cluster with it.
    bool balanced_in_cluster = false;
    for (std::size_t w = 1; w < 5; ++w) balanced_in_cluster = balanced_in_cluster || p->suppressed[w];
    CHECK((balanced_in_cluster || p->suppressed[13]));
  }

  TEST_CASE("generated wijk x breakdown tables: separately leaky, jointly safe at both levels") {
    Rng rng(404);
    int tables = 0;
    int leaky_separately = 0;
    int refused = 0;
    for (int i = 0; i < 40; ++i) {
      const Shape h = i < 20 ? Hierarchical({}) : Hierarchical({static_cast<std::size_t>(rng.Uniform(2, 4))});
      const std::vector<std::int64_t> values = GenerateValues(h, rng);
      std::vector<PrimaryCell> primaries;
      for (std::size_t c = 0; c < values.size(); ++c) {
        if (Unsafe(values[c])) primaries.push_back({c, ZerosSafe()});
      }
      if (primaries.empty()) continue;
      ++tables;
      CAPTURE(i);
      if (const std::optional<std::vector<bool>> unknown = SeparatelyProtected(h, values)) {
        bool leak = false;
        for (const auto& [cell, iv] : UnsafeIntervals(h, values, *unknown)) {
          leak = leak || Recoverable(ZerosSafe(), iv);
        }
        if (leak) ++leaky_separately;
      }
      absl::StatusOr<TableStructure> cube = BuildCube(ToDimensions(h));
      REQUIRE(cube.ok());
      adapters::clp::ClpSolver solver;
      absl::StatusOr<Protection> p = ProtectTable(*cube, values, primaries, solver);
      if (!p.ok()) {
        ++refused;
        continue;
      }
      for (const auto& [cell, iv] : UnsafeIntervals(h, values, p->suppressed)) {
        CAPTURE(cell);
        CHECK_FALSE(Recoverable(ZerosSafe(), iv));
      }
    }
    MESSAGE("linked: tables=" << tables << " leaky_separately=" << leaky_separately
                              << " refused_jointly=" << refused);
    CHECK(tables >= 30);
    CHECK(leaky_separately >= 1);
    CHECK(refused * 10 <= tables);
  }
}


// ---------------------------------------------------------------------------------------------
// The integer check (disclosure-control.md §4.6): 3-D tables and multi-valued dimensions, where
// the LP may call a cell protected that an attacker who uses whole numbers pins down.

// An independent integer attacker, sharing no code with the audit: every cell is an integer CBC
// column (released cells fixed by their bounds, suppressed ones in [0, U]), relations enumerated
// here from coordinate tuples; those of a multi-valued dimension as part <= total <= Σ parts.
// nullopt when CBC does not prove an optimum within 60 s.
std::optional<std::int64_t> IndependentIntegerBound(const Shape& s, const std::vector<bool>& multi,
                                                    const std::vector<std::int64_t>& values,
                                                    const std::vector<bool>& suppressed,
                                                    std::size_t cell, bool maximise) {
  const std::size_t n = CellCount(s);
  std::int64_t upper = 0;
  for (std::int64_t v : values) upper = std::max(upper, v);
  std::vector<double> col_lo(n), col_hi(n), obj(n, 0.0);
  for (std::size_t c = 0; c < n; ++c) {
    col_lo[c] = suppressed[c] ? 0.0 : static_cast<double>(values[c]);
    col_hi[c] = suppressed[c] ? static_cast<double>(upper) : static_cast<double>(values[c]);
  }
  obj[cell] = maximise ? -1.0 : 1.0;
  CoinPackedMatrix m(false, 0, 0);
  m.setDimensions(0, static_cast<int>(n));
  std::vector<double> row_lo, row_hi;
  auto add_row = [&](std::vector<int> idx, std::vector<double> el, double lo, double hi) {
    m.appendRow(static_cast<int>(idx.size()), idx.data(), el.data());
    row_lo.push_back(lo);
    row_hi.push_back(hi);
  };
  ForEachTuple(s, [&](const std::vector<std::size_t>& t) {
    for (std::size_t d = 0; d < t.size(); ++d) {
      const std::vector<std::size_t> kids = ChildrenOf(s, d, t[d]);
      if (kids.empty()) continue;
      std::vector<int> idx{static_cast<int>(Horner(s, t))};
      std::vector<double> el{-1.0};
      std::vector<std::size_t> u = t;
      for (std::size_t k : kids) {
        u[d] = k;
        idx.push_back(static_cast<int>(Horner(s, u)));
        el.push_back(1.0);
        if (multi[d]) add_row({static_cast<int>(Horner(s, u)), idx[0]}, {1.0, -1.0}, -COIN_DBL_MAX, 0.0);
      }
      if (multi[d]) {
        add_row(idx, el, 0.0, COIN_DBL_MAX);  // Σ parts - total >= 0
      } else {
        add_row(idx, el, 0.0, 0.0);
      }
    }
  });
  OsiClpSolverInterface osi;
  osi.messageHandler()->setLogLevel(0);
  osi.loadProblem(m, col_lo.data(), col_hi.data(), obj.data(), row_lo.data(), row_hi.data());
  for (std::size_t c = 0; c < n; ++c) osi.setInteger(static_cast<int>(c));
  CbcModel model(osi);
  model.setLogLevel(0);
  model.solver()->messageHandler()->setLogLevel(0);
  model.setMaximumSeconds(60);
  model.initialSolve();
  model.branchAndBound();
  if (!model.isProvenOptimal()) return std::nullopt;
  return static_cast<std::int64_t>(std::llround(model.bestSolution()[cell]));
}

// A 4 x 3 x 3 table and a pattern (26 withheld cells) found by search: the LP lets cell 34 (true
// value 23) fall to 0, but no integer table does: its integer minimum is 1.
const std::vector<std::int64_t> kGapValues = {
    82,  131, 17,  230, 56,  8,   27,  91,  7,   139, 22,  168, 145, 278, 66,  489,
    0,   101, 3,   104, 0,   50,  104, 154, 9,   1,   135, 145, 9,   152, 242, 403,
    28,  66,  23,  117, 73,  146, 115, 334, 85,  125, 101, 311, 186, 337, 239, 762,
    121, 25,  0,   146, 4,   80,  43,  127, 0,   93,  0,   93,  125, 198, 43,  366,
    231, 323, 43,  597, 133, 284, 289, 706, 101, 358, 258, 717, 465, 965, 590, 2020};
const std::vector<std::size_t> kGapSuppressed = {1,  2,  4,  9,  10, 17, 20, 21, 24,
                                                 32, 33, 34, 37, 38, 40, 42, 48, 50,
                                                 52, 53, 54, 56, 57, 63, 70, 78};
constexpr std::size_t kGapCell = 34;

std::vector<bool> GapPattern() {
  std::vector<bool> s(kGapValues.size(), false);
  for (std::size_t c : kGapSuppressed) s[c] = true;
  return s;
}

// Requirement "the attacker must not exclude 0" (a group-disclosure style lower bound).
ProtectionRequirement ReachZero() { return ProtectionRequirement{true, 0, false, 0}; }

// Every withheld cell of the gap pattern as a primary: the gap cell needing ReachZero, the others
// a requirement their true value already meets (so only the gap cell can need more).
std::vector<PrimaryCell> GapPrimaries() {
  std::vector<PrimaryCell> out;
  for (std::size_t c : kGapSuppressed) {
    if (c == kGapCell) {
      out.push_back({c, ReachZero()});
    } else {
      out.push_back({c, ProtectionRequirement{false, 0, true, kGapValues[c]}});
    }
  }
  return out;
}

// Delegates to CBC, then reports `status` instead (keeping or dropping CBC's solution).
class ScriptedIntegerSolver final : public IntegerSolver {
 public:
  ScriptedIntegerSolver(IntegerStatus status, bool keep_solution, int honest_calls = 0)
      : status_(status), keep_(keep_solution), honest_(honest_calls) {}
  absl::Status Load(const LpProblem& problem) override { return real_.Load(problem); }
  IntegerResult Optimize(std::size_t variable, LpSense sense, absl::Duration limit) override {
    ++calls;
    IntegerResult r = real_.Optimize(variable, sense, limit);
    if (honest_ > 0) {
      --honest_;
      return r;
    }
    r.status = status_;
    if (!keep_) r.solution.clear();
    return r;
  }
  int calls = 0;

 private:
  adapters::cbc::CbcSolver real_;
  IntegerStatus status_;
  bool keep_;
  int honest_;
};

// Returns a solution that does not satisfy the problem, claiming it optimal.
class LyingIntegerSolver final : public IntegerSolver {
 public:
  absl::Status Load(const LpProblem& problem) override {
    n_ = problem.lower.size();
    return absl::OkStatus();
  }
  IntegerResult Optimize(std::size_t, LpSense, absl::Duration) override {
    return IntegerResult{IntegerStatus::kOptimal, std::vector<double>(n_, 0.0)};
  }

 private:
  std::size_t n_ = 0;
};

TEST_SUITE("integer check") {
  TEST_CASE("3-D: the LP calls the cell protected, the integer interval does not (and CBC agrees)") {
    const Shape s = Flat({4, 3, 3});
    absl::StatusOr<TableStructure> t = BuildCube(ToDimensions(s));
    REQUIRE(t.ok());
    REQUIRE_FALSE(LpIsExact(*t));
    REQUIRE(CheckValues(*t, kGapValues).ok());
    adapters::clp::ClpSolver clp;
    const std::vector<bool> pattern = GapPattern();
    const std::vector<PrimaryCell> primary = {{kGapCell, ReachZero()}};
    // Without an integer solver the audit refuses to judge a 3-D table.
    CHECK(AuditTable(*t, kGapValues, pattern, primary, clp).status().code() ==
          absl::StatusCode::kFailedPrecondition);
    adapters::cbc::CbcSolver cbc;
    AuditOptions options;
    options.integer.solver = &cbc;
    absl::StatusOr<AuditResult> a = AuditTable(*t, kGapValues, pattern, primary, clp, options);
    REQUIRE(a.ok());
    CHECK(a->integer_checked);
    // Negative control: the LP interval reaches 0, so an LP-only audit accepts the pattern ...
    REQUIRE(a->Find(kGapCell) != nullptr);
    CHECK(a->Find(kGapCell)->lo == 0);
    CHECK(Satisfied(ReachZero(), a->Find(kGapCell)->lo, a->Find(kGapCell)->hi));
    // ... but in whole numbers the cell is at least 1: the integer check refuses it.
    CHECK(a->unprotected == std::vector<std::size_t>{kGapCell});
    REQUIRE(a->FindInteger(kGapCell) != nullptr);
    CHECK(a->FindInteger(kGapCell)->lo == 1);
    CHECK(a->FindInteger(kGapCell)->hi >= kGapValues[kGapCell]);
    // The independent integer attacker agrees.
    const std::vector<bool> no_multi(3, false);
    CHECK(IndependentIntegerBound(s, no_multi, kGapValues, pattern, kGapCell, false) ==
          std::optional<std::int64_t>(1));
  }

  TEST_CASE("ProtectTable continues the greedy until the integer interval is protected") {
    const Shape s = Flat({4, 3, 3});
    absl::StatusOr<TableStructure> t = BuildCube(ToDimensions(s));
    REQUIRE(t.ok());
    adapters::clp::ClpSolver clp;
    adapters::cbc::CbcSolver cbc;
    ProtectOptions options;
    options.audit.integer.solver = &cbc;
    const std::vector<PrimaryCell> primaries = GapPrimaries();
    // Without the integer solver: refused, never released on the LP alone.
    absl::StatusOr<Protection> lp_only = ProtectTable(*t, kGapValues, primaries, clp);
    CHECK(lp_only.status().code() == absl::StatusCode::kFailedPrecondition);
    absl::StatusOr<Protection> p = ProtectTable(*t, kGapValues, primaries, clp, options);
    REQUIRE_MESSAGE(p.ok(), p.status().message());
    // The starting pattern (the primaries) was LP-protected; the integer check added cells.
    CHECK(p->iterations >= 1);
    CHECK_FALSE(p->secondary.empty());
    CHECK(p->audit.integer_checked);
    CHECK(p->audit.AllProtected());
    REQUIRE(p->audit.FindInteger(kGapCell) != nullptr);
    CHECK(p->audit.FindInteger(kGapCell)->lo == 0);
    const std::vector<bool> no_multi(3, false);
    CHECK(IndependentIntegerBound(s, no_multi, kGapValues, p->suppressed, kGapCell, false) ==
          std::optional<std::int64_t>(0));
    // Deterministic: a fresh pair of solvers gives the same pattern.
    adapters::clp::ClpSolver clp2;
    adapters::cbc::CbcSolver cbc2;
    ProtectOptions again = options;
    again.audit.integer.solver = &cbc2;
    absl::StatusOr<Protection> q = ProtectTable(*t, kGapValues, primaries, clp2, again);
    REQUIRE(q.ok());
    CHECK(q->suppressed == p->suppressed);
    CHECK(q->secondary == p->secondary);
  }

  TEST_CASE("fails closed: out of time, a solver that stops or lies") {
    const Shape s = Flat({4, 3, 3});
    absl::StatusOr<TableStructure> t = BuildCube(ToDimensions(s));
    REQUIRE(t.ok());
    adapters::clp::ClpSolver clp;
    const std::vector<PrimaryCell> primaries = GapPrimaries();
    auto protect = [&](IntegerSolver& ip, const IntegerCheck& base = {}) {
      ProtectOptions options;
      options.audit.integer = base;
      options.audit.integer.solver = &ip;
      return ProtectTable(*t, kGapValues, primaries, clp, options);
    };
    auto refused_for_time = [](const absl::StatusOr<Protection>& p) {
      return p.status().code() == absl::StatusCode::kFailedPrecondition &&
             std::string(p.status().message()).find("ran out of time") != std::string::npos;
    };
    SUBCASE("a solve that hits its time limit without a solution") {
      ScriptedIntegerSolver ip(IntegerStatus::kTimeLimit, false);
      CHECK(refused_for_time(protect(ip)));
      CHECK(ip.calls == 1);
      AuditOptions audit;
      audit.integer.solver = &ip;
      CHECK(AuditTable(*t, kGapValues, GapPattern(), {{kGapCell, ReachZero()}}, clp, audit)
                .status()
                .code() == absl::StatusCode::kDeadlineExceeded);
    }
    SUBCASE("a best point that is not proven optimal is no proof of 'unprotected'") {
      // CBC's own optimum (the cell at 1), reported as a time-out: the cell stays undecided.
      ScriptedIntegerSolver ip(IntegerStatus::kTimeLimit, true);
      CHECK(refused_for_time(protect(ip)));
    }
    SUBCASE("the per-table limit") {
      adapters::cbc::CbcSolver cbc;
      IntegerCheck none;
      none.per_table = absl::ZeroDuration();
      CHECK(refused_for_time(protect(cbc, none)));
      // A clock that moves 1 s per reading, with 5 s for the table.
      IntegerCheck slow;
      slow.per_table = absl::Seconds(5);
      auto now = std::make_shared<absl::Time>(absl::UnixEpoch());
      slow.clock = [now] { return *now += absl::Seconds(1); };
      CHECK(refused_for_time(protect(cbc, slow)));
      // The same table with time enough is released.
      CHECK(protect(cbc).ok());
    }
    SUBCASE("any other status, or an 'optimum' that does not verify") {
      for (IntegerStatus status : {IntegerStatus::kOther, IntegerStatus::kInfeasible}) {
        ScriptedIntegerSolver ip(status, false);
        absl::StatusOr<Protection> p = protect(ip);
        CHECK(p.status().code() == absl::StatusCode::kFailedPrecondition);
        CHECK_FALSE(refused_for_time(p));
      }
      LyingIntegerSolver liar;
      CHECK(protect(liar).status().code() == absl::StatusCode::kFailedPrecondition);
      AuditOptions audit;
      audit.integer.solver = &liar;
      CHECK(AuditTable(*t, kGapValues, GapPattern(), {{kGapCell, ReachZero()}}, clp, audit)
                .status()
                .code() == absl::StatusCode::kInternal);
    }
  }

  TEST_CASE("inequality relations: a multi-valued row gives the right intervals") {
    // met 3 (withheld), zonder 40, total 42: as a union, 42 <= met + 40 and met <= 42, so met lies
    // in [2, 42]; had the row been a sum it would read 2 exactly (and the table be inconsistent).
    absl::StatusOr<TableStructure> t = BuildCube({{3, {}, true}});
    REQUIRE(t.ok());
    adapters::clp::ClpSolver clp;
    adapters::cbc::CbcSolver cbc;
    AuditOptions options;
    options.integer.solver = &cbc;
    absl::StatusOr<AuditResult> a =
        AuditTable(*t, {3, 40, 0, 42}, {true, false, false, false}, {{0, Sensitive()}}, clp, options);
    REQUIRE(a.ok());
    CHECK(a->Find(0)->lo == 2);
    CHECK(a->Find(0)->hi == 42);
    CHECK(a->AllProtected());
    // met 3 and zonder 6 withheld, total 8: met in [0, 8]. A sensitive count needs 10: unprotected;
    // a count whose zero is safe is protected (the attacker cannot exclude 0).
    a = AuditTable(*t, {3, 6, 0, 8}, {true, true, false, false}, {{0, Sensitive()}}, clp, options);
    REQUIRE(a.ok());
    CHECK(a->Find(0)->lo == 0);
    CHECK(a->Find(0)->hi == 8);
    CHECK(a->FindInteger(0)->hi == 8);
    CHECK(a->unprotected == std::vector<std::size_t>{0});
    a = AuditTable(*t, {3, 6, 0, 8}, {true, true, false, false}, {{0, ZerosSafe()}}, clp, options);
    REQUIRE(a.ok());
    CHECK(a->AllProtected());
    // The total is withheld too: met <= total, total <= met + 6 and total <= U (the largest value).
    a = AuditTable(*t, {3, 6, 0, 8}, {true, false, false, true}, {{0, Sensitive()}}, clp, options);
    REQUIRE(a.ok());
    CHECK(a->Find(0)->lo == 0);
    CHECK(a->Find(3)->lo == 6);
  }
}

// Why one multi-valued dimension is modelled exactly and two are refused (disclosure-control.md
// §4.6): the tables units can produce, enumerated, against the integer points of the relations.
TEST_SUITE("multi-valued relations") {
  TEST_CASE("one multi-valued dimension: the relations allow exactly the tables units can make") {
    // verblijf-like dimension (3 codes, multi-valued) x wijk-like dimension (2 codes), at most 4
    // units. A unit: one wijk and a non-empty set of verblijf codes. Cube (3+1) x (2+1).
    absl::StatusOr<TableStructure> t = BuildCube({{3, {}, true}, {2, {}}});
    REQUIRE(t.ok());
    constexpr int kUnits = 4;
    std::set<std::vector<std::int64_t>> made;
    std::vector<std::pair<int, int>> profiles;  // (wijk, verblijf bit set)
    for (int w = 0; w < 2; ++w) {
      for (int set = 1; set < 8; ++set) profiles.emplace_back(w, set);
    }
    std::function<void(std::size_t, int, std::vector<std::int64_t>&)> grow =
        [&](std::size_t from, int left, std::vector<std::int64_t>& v) {
          made.insert(v);
          if (left == 0) return;
          for (std::size_t p = from; p < profiles.size(); ++p) {
            const auto [w, set] = profiles[p];
            std::vector<std::int64_t> before = v;
            for (std::size_t vb = 0; vb <= 3; ++vb) {
              const bool in = vb == 3 ? true : ((set >> vb) & 1) != 0;
              if (!in) continue;
              ++v[t->CellIndex({vb, static_cast<std::size_t>(w)})];
              ++v[t->CellIndex({vb, 2})];
            }
            grow(p, left - 1, v);
            v = before;
          }
        };
    std::vector<std::int64_t> empty(t->cell_count, 0);
    grow(0, kUnits, empty);
    // Every integer point of the relations with at most 4 units is a table units can make. Free
    // cells: the 3 x 2 inner cells and the 2 wijk totals (the rest follow by the sum relations).
    std::size_t points = 0;
    std::vector<std::int64_t> free(8, 0);
    for (;;) {
      std::vector<std::int64_t> v(t->cell_count, 0);
      for (std::size_t vb = 0; vb < 3; ++vb) {
        for (std::size_t w = 0; w < 2; ++w) v[t->CellIndex({vb, w})] = free[vb * 2 + w];
      }
      v[t->CellIndex({3, 0})] = free[6];
      v[t->CellIndex({3, 1})] = free[7];
      for (std::size_t vb = 0; vb <= 3; ++vb) {
        v[t->CellIndex({vb, 2})] = v[t->CellIndex({vb, 0})] + v[t->CellIndex({vb, 1})];
      }
      if (v[t->CellIndex({3, 2})] <= kUnits && CheckValues(*t, v).ok()) {
        ++points;
        CAPTURE(points);
        CHECK(made.count(v) == 1);
      }
      std::size_t k = 0;
      while (k < free.size() && ++free[k] > kUnits) free[k++] = 0;
      if (k == free.size()) break;
    }
    CHECK(points == made.size());
    MESSAGE("one multi-valued dimension: " << points << " tables, all made by units");
  }

  TEST_CASE("two multi-valued dimensions: the relations allow a table no units can make") {
    // verblijf x verwijzer, 2 codes each, both multi-valued. Pairs (met, huisarts) = 1,
    // (met, jeugdarts) = 1, (zonder, huisarts) = 2, (zonder, jeugdarts) = 0; margins met 1,
    // zonder 2, huisarts 2, jeugdarts 1, total 3.
    absl::StatusOr<TableStructure> t = BuildCube({{2, {}, true}, {2, {}, true}});
    REQUIRE(t.ok());
    const std::vector<std::int64_t> v = {1, 1, 1, 2, 0, 2, 2, 1, 3};
    CHECK(CheckValues(*t, v).ok());  // every part <= margin <= sum of parts
    // A unit is a non-empty set of (verblijf, verwijzer) pairs (4 bits); no 3 units give these
    // counts (met = 1 forces one unit to hold both met pairs, and the margins then leave no
    // third unit). Every multiset of 3 units is tried.
    auto counts = [](const std::vector<int>& units) {
      std::vector<std::int64_t> c(9, 0);
      for (int set : units) {
        for (std::size_t a = 0; a <= 2; ++a) {
          for (std::size_t b = 0; b <= 2; ++b) {
            bool in = false;
            for (std::size_t pa = 0; pa < 2; ++pa) {
              for (std::size_t pb = 0; pb < 2; ++pb) {
                const bool has = ((set >> (pa * 2 + pb)) & 1) != 0;
                in = in || (has && (a == 2 || a == pa) && (b == 2 || b == pb));
              }
            }
            if (in) ++c[a * 3 + b];
          }
        }
      }
      return c;
    };
    int tried = 0;
    for (int x = 1; x < 16; ++x) {
      for (int y = x; y < 16; ++y) {
        for (int z = y; z < 16; ++z) {
          ++tried;
          CHECK(counts({x, y, z}) != v);
        }
      }
    }
    CHECK(tried == 680);
  }
}

// Generated 3-D tables: with the hierarchy (16 geo codes) or flat, and with one multi-valued
// dimension whose counts come from generated units (each unit one code in the other dimensions and
// one or two codes in the multi-valued one). Protected with the integer check, the independent
// integer attacker narrows no primary into its protection range; with only the primaries withheld
// it does.
struct Units3D {
  Shape shape;
  std::vector<bool> multi;
  std::vector<std::int64_t> values;
};

Units3D GenerateUnits(const Shape& shape, std::size_t multi_dim, int units, Rng& rng) {
  Units3D out;
  out.shape = shape;
  out.multi.assign(shape.codes.size(), false);
  if (multi_dim < shape.codes.size()) out.multi[multi_dim] = true;
  const std::size_t n = CellCount(shape);
  out.values.assign(n, 0);
  for (int u = 0; u < units; ++u) {
    // Leaves: in each dimension a code without children; skewed so that some cells are small.
    std::vector<std::vector<std::size_t>> codes(shape.codes.size());
    for (std::size_t d = 0; d < shape.codes.size(); ++d) {
      const std::vector<std::size_t> leaves = LeavesUnder(shape, d, shape.codes[d]);
      const std::size_t a = static_cast<std::size_t>(rng.Uniform(0, static_cast<std::int64_t>(leaves.size()) - 1));
      const std::size_t b = static_cast<std::size_t>(rng.Uniform(0, static_cast<std::int64_t>(leaves.size()) - 1));
      codes[d].push_back(leaves[std::min(a, b)]);
      if (out.multi[d] && rng.Uniform(0, 3) == 0) {
        const std::size_t c = leaves[static_cast<std::size_t>(rng.Uniform(0, static_cast<std::int64_t>(leaves.size()) - 1))];
        if (c != codes[d][0]) codes[d].push_back(c);
      }
    }
    // The unit counts once in every cell whose coordinate in each dimension is an ancestor (or
    // equal) of one of its codes there.
    ForEachTuple(shape, [&](const std::vector<std::size_t>& t) {
      for (std::size_t d = 0; d < t.size(); ++d) {
        bool in = false;
        for (std::size_t leaf : codes[d]) {
          const std::vector<std::size_t> under = LeavesUnder(shape, d, t[d]);
          in = in || std::find(under.begin(), under.end(), leaf) != under.end();
        }
        if (!in) return;
      }
      ++out.values[Horner(shape, t)];
    });
  }
  return out;
}

TEST_SUITE("integer check: generated 3-D tables") {
  TEST_CASE("protected on whole numbers, recoverable with only the primaries withheld") {
    Rng rng(505);
    adapters::clp::ClpSolver clp;
    adapters::cbc::CbcSolver cbc;
    int tables = 0, refused = 0, control_hits = 0, attacked = 0;
    std::int64_t slowest_ms = 0;
    for (int i = 0; i < 24; ++i) {
      Shape shape;
      std::size_t multi_dim = 99;
      if (i % 3 == 0) {
        shape = Hierarchical({2, 2});
      } else {
        shape = Flat({static_cast<std::size_t>(rng.Uniform(3, 5)),
                      static_cast<std::size_t>(rng.Uniform(2, 3)),
                      static_cast<std::size_t>(rng.Uniform(2, 4))});
      }
      if (i % 2 == 1) multi_dim = shape.codes.size() - 1;
      const Units3D u = GenerateUnits(shape, multi_dim, static_cast<int>(rng.Uniform(60, 400)), rng);
      std::vector<DimensionShape> dims = ToDimensions(shape);
      for (std::size_t d = 0; d < dims.size(); ++d) dims[d].multi_valued = u.multi[d];
      absl::StatusOr<TableStructure> t = BuildCube(dims);
      REQUIRE(t.ok());
      REQUIRE(CheckValues(*t, u.values).ok());
      std::vector<PrimaryCell> primaries;
      for (std::size_t c = 0; c < u.values.size(); ++c) {
        if (Unsafe(u.values[c])) primaries.push_back({c, ZerosSafe()});
      }
      if (primaries.empty()) continue;
      ++tables;
      CAPTURE(i);
      // Negative control: only the primaries withheld.
      std::vector<bool> only(u.values.size(), false);
      for (const PrimaryCell& p : primaries) only[p.cell] = true;
      for (const PrimaryCell& p : primaries) {
        const auto lo = IndependentIntegerBound(shape, u.multi, u.values, only, p.cell, false);
        const auto hi = IndependentIntegerBound(shape, u.multi, u.values, only, p.cell, true);
        REQUIRE((lo.has_value() && hi.has_value()));
        if (!Satisfied(p.requirement, *lo, *hi)) {
          ++control_hits;
          break;
        }
      }
      ProtectOptions options;
      options.audit.integer.solver = &cbc;
      const auto start = std::chrono::steady_clock::now();
      absl::StatusOr<Protection> p = ProtectTable(*t, u.values, primaries, clp, options);
      slowest_ms = std::max<std::int64_t>(
          slowest_ms, std::chrono::duration_cast<std::chrono::milliseconds>(
                          std::chrono::steady_clock::now() - start).count());
      if (!p.ok()) {
        CHECK(p.status().code() == absl::StatusCode::kFailedPrecondition);
        ++refused;
        continue;
      }
      for (const PrimaryCell& q : primaries) {
        CAPTURE(q.cell);
        const auto lo = IndependentIntegerBound(shape, u.multi, u.values, p->suppressed, q.cell, false);
        const auto hi = IndependentIntegerBound(shape, u.multi, u.values, p->suppressed, q.cell, true);
        REQUIRE((lo.has_value() && hi.has_value()));
        CHECK(Satisfied(q.requirement, *lo, *hi));
        ++attacked;
      }
    }
    MESSAGE("3-D: tables=" << tables << " refused=" << refused << " primaries_attacked=" << attacked
                           << " control_tables_recovered=" << control_hits
                           << " slowest_ms=" << slowest_ms);
    CHECK(tables >= 20);
    CHECK(refused * 5 <= tables);
    CHECK(control_hits * 2 >= tables);
  }
}

}  // namespace
}  // namespace enclave::disclosure
