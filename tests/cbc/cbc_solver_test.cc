// The CBC adapter of the IntegerSolver port: integer optima where the LP optimum is fractional,
// inequality rows, the time limit, and failing closed.
#include "enclave/adapters/cbc/cbc_solver.h"

#include <doctest/doctest.h>

#include <cmath>
#include <cstddef>
#include <limits>
#include <vector>

#include "absl/time/time.h"
#include "enclave/disclosure/integer_solver.h"
#include "enclave/disclosure/lp_solver.h"

namespace enclave::adapters::cbc {
namespace {

using disclosure::IntegerResult;
using disclosure::IntegerStatus;
using disclosure::LpProblem;
using disclosure::LpRow;
using disclosure::LpRowSense;
using disclosure::LpSense;

double Solve(CbcSolver& solver, std::size_t var, LpSense sense) {
  const IntegerResult r = solver.Optimize(var, sense, absl::Seconds(10));
  REQUIRE(r.status == IntegerStatus::kOptimal);
  REQUIRE(r.solution.size() > var);
  return r.solution[var];
}

TEST_SUITE("CbcSolver") {
  TEST_CASE("the integer optimum where the LP optimum is fractional") {
    // 2 x0 + 2 x1 <= 3: the LP reaches x0 = 1.5, whole numbers only 1.
    LpProblem p;
    p.lower = {0, 0};
    p.upper = {10, 10};
    p.rows.push_back(LpRow{{0, 1}, {2.0, 2.0}, 3.0, LpRowSense::kLessEqual});
    CbcSolver solver;
    REQUIRE(solver.Load(p).ok());
    CHECK(Solve(solver, 0, LpSense::kMaximize) == doctest::Approx(1.0));
    CHECK(Solve(solver, 1, LpSense::kMaximize) == doctest::Approx(1.0));
    CHECK(Solve(solver, 0, LpSense::kMinimize) == doctest::Approx(0.0));
  }

  TEST_CASE("equalities and bounds: the worked rectangle of disclosure-control.md §4.5") {
    LpProblem p;
    p.lower.assign(4, 0.0);
    p.upper.assign(4, 1352.0);
    p.rows.push_back(LpRow{{0, 1}, {1.0, 1.0}, 30.0});
    p.rows.push_back(LpRow{{2, 3}, {1.0, 1.0}, 27.0});
    p.rows.push_back(LpRow{{0, 2}, {1.0, 1.0}, 19.0});
    p.rows.push_back(LpRow{{1, 3}, {1.0, 1.0}, 38.0});
    CbcSolver solver;
    REQUIRE(solver.Load(p).ok());
    const double expected[4][2] = {{0, 19}, {11, 30}, {0, 19}, {8, 27}};
    for (std::size_t v = 0; v < 4; ++v) {
      CHECK(Solve(solver, v, LpSense::kMinimize) == doctest::Approx(expected[v][0]));
      CHECK(Solve(solver, v, LpSense::kMaximize) == doctest::Approx(expected[v][1]));
    }
  }

  TEST_CASE("an infeasible integer problem is reported as such, not as an optimum") {
    // 2 x0 = 1: feasible for the LP (x0 = 0.5), not in integers.
    LpProblem p;
    p.lower = {0};
    p.upper = {5};
    p.rows.push_back(LpRow{{0}, {2.0}, 1.0});
    CbcSolver solver;
    REQUIRE(solver.Load(p).ok());
    const IntegerResult r = solver.Optimize(0, LpSense::kMaximize, absl::Seconds(10));
    CHECK(r.status == IntegerStatus::kInfeasible);
  }

  TEST_CASE("fails closed: nothing loaded, a variable out of range, no time, a malformed problem") {
    CbcSolver solver;
    CHECK(solver.Optimize(0, LpSense::kMaximize, absl::Seconds(1)).status == IntegerStatus::kOther);
    LpProblem p;
    p.lower = {0};
    p.upper = {5};
    REQUIRE(solver.Load(p).ok());
    CHECK(solver.Optimize(1, LpSense::kMaximize, absl::Seconds(1)).status == IntegerStatus::kOther);
    CHECK(solver.Optimize(0, LpSense::kMaximize, absl::ZeroDuration()).status ==
          IntegerStatus::kOther);
    CHECK(Solve(solver, 0, LpSense::kMaximize) == doctest::Approx(5.0));
    LpProblem bad;
    bad.lower = {0};
    bad.upper = {std::numeric_limits<double>::infinity()};
    CHECK(solver.Load(bad).code() == absl::StatusCode::kInvalidArgument);
    // A refused load leaves nothing loaded.
    CHECK(solver.Optimize(0, LpSense::kMaximize, absl::Seconds(1)).status == IntegerStatus::kOther);
  }

  TEST_CASE("a problem beyond the time limit stops with kTimeLimit, never kOptimal") {
    // A knapsack equality Σ a_j x_j = b over 0/1 variables whose LP relaxation is feasible: no
    // answer is proven at the root, and a microsecond is not enough for the search.
    LpProblem p;
    const int n = 60;
    LpRow row;
    for (int j = 0; j < n; ++j) {
      p.lower.push_back(0);
      p.upper.push_back(1);
      row.variables.push_back(static_cast<std::size_t>(j));
      row.coefficients.push_back(static_cast<double>(100003 + 2 * j * 7919));
    }
    row.rhs = 0;
    for (int j = 0; j < n; j += 2) row.rhs += row.coefficients[static_cast<std::size_t>(j)];
    row.rhs += 1;  // an odd change that keeps the LP feasible
    p.rows.push_back(row);
    CbcSolver solver;
    REQUIRE(solver.Load(p).ok());
    const IntegerResult r = solver.Optimize(0, LpSense::kMaximize, absl::Microseconds(1));
    CHECK(r.status == IntegerStatus::kTimeLimit);
  }
}

}  // namespace
}  // namespace enclave::adapters::cbc
