// The CLP adapter of the LpSolver port: optima, warm restarts, and failing closed.
#include "enclave/adapters/clp/clp_solver.h"

#include <doctest/doctest.h>

#include <cmath>
#include <cstddef>
#include <limits>
#include <vector>

#include "enclave/disclosure/lp_solver.h"

namespace enclave::adapters::clp {
namespace {

using disclosure::LpProblem;
using disclosure::LpResult;
using disclosure::LpRow;
using disclosure::LpRowSense;
using disclosure::LpSense;
using disclosure::LpStatus;

double Solve(ClpSolver& solver, std::size_t var, LpSense sense) {
  const LpResult r = solver.Optimize(var, sense);
  REQUIRE(r.status == LpStatus::kOptimal);
  return r.value;
}

// The rectangle of disclosure-control.md §4.5: a + b = 30, c + d = 27, a + c = 19, b + d = 38.
LpProblem Rectangle() {
  LpProblem p;
  p.lower.assign(4, 0.0);
  p.upper.assign(4, 1352.0);
  p.rows.push_back(LpRow{{0, 1}, {1.0, 1.0}, 30.0});
  p.rows.push_back(LpRow{{2, 3}, {1.0, 1.0}, 27.0});
  p.rows.push_back(LpRow{{0, 2}, {1.0, 1.0}, 19.0});
  p.rows.push_back(LpRow{{1, 3}, {1.0, 1.0}, 38.0});
  return p;
}

TEST_SUITE("ClpSolver") {
  TEST_CASE("minimises and maximises each variable of the worked rectangle") {
    ClpSolver solver;
    REQUIRE(solver.Load(Rectangle()).ok());
    const double expected[4][2] = {{0, 19}, {11, 30}, {0, 19}, {8, 27}};
    // Twice round, alternating objectives, so each solve starts from another's basis.
    for (int round = 0; round < 2; ++round) {
      for (std::size_t v = 0; v < 4; ++v) {
        CHECK(Solve(solver, v, LpSense::kMinimize) == doctest::Approx(expected[v][0]));
        CHECK(Solve(solver, v, LpSense::kMaximize) == doctest::Approx(expected[v][1]));
      }
    }
  }

  TEST_CASE("respects the variable bounds") {
    LpProblem p;
    p.lower = {0, 0};
    p.upper = {12, 100};
    p.rows.push_back(LpRow{{0, 1}, {1.0, 1.0}, 30.0});
    ClpSolver solver;
    REQUIRE(solver.Load(p).ok());
    CHECK(Solve(solver, 0, LpSense::kMaximize) == doctest::Approx(12));
    CHECK(Solve(solver, 1, LpSense::kMinimize) == doctest::Approx(18));
  }

  TEST_CASE("<= rows (distinct-unit margins) and the optimal vertex") {
    // met + zonder >= 42 (as -met - zonder <= -42), met <= 42, zonder = 40 by its bounds.
    LpProblem p;
    p.lower = {0, 40};
    p.upper = {100, 40};
    p.rows.push_back(LpRow{{0, 1}, {-1.0, -1.0}, -42.0, LpRowSense::kLessEqual});
    p.rows.push_back(LpRow{{0}, {1.0}, 42.0, LpRowSense::kLessEqual});
    ClpSolver solver;
    REQUIRE(solver.Load(p).ok());
    const LpResult lo = solver.Optimize(0, LpSense::kMinimize);
    REQUIRE(lo.status == LpStatus::kOptimal);
    CHECK(lo.value == doctest::Approx(2));
    REQUIRE(lo.solution.size() == 2);  // the whole vertex, for the integer check's witnesses
    CHECK(lo.solution[0] == doctest::Approx(2));
    CHECK(lo.solution[1] == doctest::Approx(40));
    CHECK(Solve(solver, 0, LpSense::kMaximize) == doctest::Approx(42));
  }

  TEST_CASE("a variable in no row ranges over its bounds") {
    LpProblem p;
    p.lower = {3};
    p.upper = {7};
    ClpSolver solver;
    REQUIRE(solver.Load(p).ok());
    CHECK(Solve(solver, 0, LpSense::kMinimize) == doctest::Approx(3));
    CHECK(Solve(solver, 0, LpSense::kMaximize) == doctest::Approx(7));
  }

  TEST_CASE("an infeasible problem is reported as infeasible, never as a value") {
    LpProblem p;
    p.lower = {0, 0};
    p.upper = {30, 30};
    p.rows.push_back(LpRow{{0, 1}, {1.0, 1.0}, 100.0});
    ClpSolver solver;
    REQUIRE(solver.Load(p).ok());
    CHECK(solver.Optimize(0, LpSense::kMinimize).status == LpStatus::kInfeasible);
    CHECK(solver.Optimize(1, LpSense::kMaximize).status == LpStatus::kInfeasible);
  }

  TEST_CASE("nothing loaded or an unknown variable is not optimal") {
    ClpSolver solver;
    CHECK(solver.Optimize(0, LpSense::kMinimize).status == LpStatus::kOther);
    REQUIRE(solver.Load(Rectangle()).ok());
    CHECK(solver.Optimize(4, LpSense::kMinimize).status == LpStatus::kOther);
  }

  TEST_CASE("malformed problems are refused and unload the previous one") {
    ClpSolver solver;
    REQUIRE(solver.Load(Rectangle()).ok());
    SUBCASE("bounds of different lengths") {
      LpProblem p = Rectangle();
      p.upper.pop_back();
      CHECK(solver.Load(p).code() == absl::StatusCode::kInvalidArgument);
    }
    SUBCASE("lower above upper") {
      LpProblem p = Rectangle();
      p.lower[0] = 2000;
      CHECK(solver.Load(p).code() == absl::StatusCode::kInvalidArgument);
    }
    SUBCASE("an infinite bound") {
      LpProblem p = Rectangle();
      p.upper[1] = std::numeric_limits<double>::infinity();
      CHECK(solver.Load(p).code() == absl::StatusCode::kInvalidArgument);
    }
    SUBCASE("a row naming no variable") {
      LpProblem p = Rectangle();
      p.rows[0].variables[1] = 9;
      CHECK(solver.Load(p).code() == absl::StatusCode::kInvalidArgument);
    }
    SUBCASE("coefficients and variables of different lengths") {
      LpProblem p = Rectangle();
      p.rows[0].coefficients.pop_back();
      CHECK(solver.Load(p).code() == absl::StatusCode::kInvalidArgument);
    }
    CHECK(solver.Optimize(0, LpSense::kMinimize).status == LpStatus::kOther);
  }

  TEST_CASE("a reload replaces the problem") {
    ClpSolver solver;
    REQUIRE(solver.Load(Rectangle()).ok());
    CHECK(Solve(solver, 0, LpSense::kMaximize) == doctest::Approx(19));
    LpProblem p;
    p.lower = {0};
    p.upper = {5};
    REQUIRE(solver.Load(p).ok());
    CHECK(Solve(solver, 0, LpSense::kMaximize) == doctest::Approx(5));
  }
}

}  // namespace
}  // namespace enclave::adapters::clp
