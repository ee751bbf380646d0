// LpSolver (enclave/disclosure/lp_solver.h) with COIN-OR CLP's primal simplex. The CLP headers
// stay in clp_solver.cc; only enclaved (and tests) link this adapter (style.md §2.3).
//
//   adapters::clp::ClpSolver solver;
//   absl::StatusOr<disclosure::Protection> p = disclosure::ProtectTable(cube, values, primary, solver);
#pragma once

#include <cstddef>
#include <memory>

#include "absl/status/status.h"
#include "enclave/disclosure/lp_solver.h"

namespace enclave::adapters::clp {

// Loads a problem into one ClpSimplex model; each Optimize sets a ±1 objective on one variable and
// re-solves with the primal simplex from the previous basis (only the objective changes, so the
// last solution stays feasible: a warm start). Any CLP status other than proven optimal is
// kInfeasible (primal infeasible) or kOther; exceptions from CLP (CoinError) are caught and
// reported as kOther. Not thread-safe: one instance per worker thread.
class ClpSolver final : public disclosure::LpSolver {
 public:
  ClpSolver();
  ~ClpSolver() override;
  ClpSolver(const ClpSolver&) = delete;
  ClpSolver& operator=(const ClpSolver&) = delete;

  [[nodiscard]] absl::Status Load(const disclosure::LpProblem& problem) override;
  disclosure::LpResult Optimize(std::size_t variable, disclosure::LpSense sense) override;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace enclave::adapters::clp
