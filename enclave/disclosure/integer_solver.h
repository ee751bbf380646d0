// The integer-programming port of the secondary-suppression audit (disclosure-control.md §4.6).
// Pure interface: enclave/adapters/cbc implements it with COIN-OR CBC; only enclaved (and tests)
// link that adapter. Tests use a fake or the adapter.
//
// The LP audit is exact for 1-D tables, hierarchies and 2-D tables with at most one hierarchical
// dimension; for 3-D tables (and the distinct-unit relations of a multi-valued dimension) the LP
// interval of a withheld cell may be wider than the integer one, so an attacker who knows the
// cells are whole numbers may pin down a cell the LP calls protected. The audit then asks this
// solver for the integer optimum over the same problem (lp_solver.h) with every variable integer.
//
//   IntegerSolver& ip = ...;
//   ENCLAVE_RETURN_IF_ERROR(ip.Load(problem));  // LpProblem of lp_solver.h
//   IntegerResult r = ip.Optimize(3, LpSense::kMaximize, absl::Milliseconds(500));
//   if (r.status != IntegerStatus::kOptimal) { /* fail closed, unless a verified witness suffices */ }
#pragma once

#include <cstddef>
#include <vector>

#include "absl/status/status.h"
#include "absl/time/time.h"
#include "enclave/disclosure/lp_solver.h"

namespace enclave::disclosure {

// kOptimal: the solver proved `solution` optimal. kTimeLimit: the time limit passed first
// (`solution` may hold the best integer point found, or be empty). kInfeasible: proved to have no
// integer point. kOther: anything else (numerical trouble, an exception inside the solver).
enum class IntegerStatus { kOptimal, kInfeasible, kTimeLimit, kOther };

struct IntegerResult {
  IntegerStatus status = IntegerStatus::kOther;
  // One value per variable; empty when no integer point was found. The caller verifies it
  // (integral, every row and bound holding exactly) before relying on it.
  std::vector<double> solution;
};

// Not thread-safe: one instance per worker thread.
class IntegerSolver {
 public:
  virtual ~IntegerSolver() = default;

  // Replaces any loaded problem; every variable is integer. kInvalidArgument when malformed
  // (ValidateLpProblem).
  [[nodiscard]] virtual absl::Status Load(const LpProblem& problem) = 0;

  // Optimises one variable of the loaded problem within `limit` (wall-clock). kOther when nothing
  // is loaded, the variable is out of range or the limit is not positive.
  virtual IntegerResult Optimize(std::size_t variable, LpSense sense, absl::Duration limit) = 0;
};

}  // namespace enclave::disclosure
