// The linear-programming port of the secondary-suppression audit (disclosure-control.md §4.2).
// Pure interface: enclave/adapters/clp implements it with COIN-OR CLP; only enclaved links that
// adapter (style.md §2.3). Tests use a fake or the adapter.
//
// The problem: variables x_0..x_{n-1} with bounds lo_j <= x_j <= hi_j, and rows
// Σ_j a_ij x_j = b_i (or <= b_i: the distinct-unit relations of a multi-valued dimension). The
// audit loads one problem and then minimises and maximises single
// variables in turn, so an implementation may warm-start each solve from the previous basis.
//
//   LpProblem p;  p.lower = {0, 0};  p.upper = {30, 30};
//   p.rows.push_back({{0, 1}, {1.0, 1.0}, 30.0});   // x0 + x1 = 30
//   ENCLAVE_RETURN_IF_ERROR(solver.Load(p));
//   LpResult r = solver.Optimize(0, LpSense::kMaximize);
//   if (r.status != LpStatus::kOptimal) { /* fail closed */ }
#pragma once

#include <cmath>
#include <cstddef>
#include <vector>

#include "absl/status/status.h"

namespace enclave::disclosure {

enum class LpRowSense { kEqual, kLessEqual };

// Σ coefficients[k] · x_{variables[k]} = rhs (kEqual) or <= rhs (kLessEqual).
struct LpRow {
  std::vector<std::size_t> variables;
  std::vector<double> coefficients;  // parallel to variables
  double rhs = 0;
  LpRowSense sense = LpRowSense::kEqual;
};

struct LpProblem {
  std::vector<double> lower;  // one per variable; finite
  std::vector<double> upper;  // one per variable; finite, >= lower
  std::vector<LpRow> rows;
};

enum class LpSense { kMinimize, kMaximize };

// kOptimal: `value` is the optimum of the variable. Anything else (infeasible, unbounded, an
// iteration or time limit, numerical trouble, an exception inside the solver): `value` means
// nothing and the caller must fail closed.
enum class LpStatus { kOptimal, kInfeasible, kOther };

struct LpResult {
  LpStatus status = LpStatus::kOther;
  double value = 0;
  // kOptimal: the optimal vertex, one value per variable (the audit keeps it as a witness when it
  // happens to be integral). May be left empty by an implementation.
  std::vector<double> solution;
};

// Not thread-safe: one instance per worker thread.
class LpSolver {
 public:
  virtual ~LpSolver() = default;

  // Replaces any loaded problem. kInvalidArgument when the problem is malformed (lengths differ, a
  // variable index is out of range, a bound is not finite or lower > upper).
  [[nodiscard]] virtual absl::Status Load(const LpProblem& problem) = 0;

  // Optimises one variable of the loaded problem. kOther when nothing is loaded or the variable is
  // out of range.
  virtual LpResult Optimize(std::size_t variable, LpSense sense) = 0;
};

// The checks Load must make, shared by implementations: kInvalidArgument naming what is wrong.
[[nodiscard]] inline absl::Status ValidateLpProblem(const LpProblem& problem) {
  const std::size_t n = problem.lower.size();
  if (problem.upper.size() != n) {
    return absl::InvalidArgumentError("LP: lower and upper bounds differ in length");
  }
  for (std::size_t j = 0; j < n; ++j) {
    if (!std::isfinite(problem.lower[j]) || !std::isfinite(problem.upper[j]) ||
        problem.lower[j] > problem.upper[j]) {
      return absl::InvalidArgumentError("LP: variable bounds must be finite with lower <= upper");
    }
  }
  for (const LpRow& row : problem.rows) {
    if (row.variables.size() != row.coefficients.size()) {
      return absl::InvalidArgumentError("LP: a row's variables and coefficients differ in length");
    }
    if (!std::isfinite(row.rhs)) return absl::InvalidArgumentError("LP: a right-hand side is not finite");
    for (std::size_t k = 0; k < row.variables.size(); ++k) {
      if (row.variables[k] >= n) return absl::InvalidArgumentError("LP: a row names no variable");
      if (!std::isfinite(row.coefficients[k])) {
        return absl::InvalidArgumentError("LP: a coefficient is not finite");
      }
    }
  }
  return absl::OkStatus();
}

}  // namespace enclave::disclosure
