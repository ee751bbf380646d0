// IntegerSolver (enclave/disclosure/integer_solver.h) with COIN-OR CBC's branch and bound over
// CLP. The CBC headers stay in cbc_solver.cc; only enclaved (and tests) link this adapter.
//
//   adapters::cbc::CbcSolver cbc;
//   disclosure::ProtectOptions options;
//   options.audit.integer.solver = &cbc;
//   absl::StatusOr<disclosure::Protection> p =
//       disclosure::ProtectTable(cube, values, primary, clp, options);
#pragma once

#include <cstddef>
#include <memory>

#include "absl/status/status.h"
#include "absl/time/time.h"
#include "enclave/disclosure/integer_solver.h"

namespace enclave::adapters::cbc {

// Loads a problem once (every column integer); each Optimize copies it, sets a ±1 objective on one
// variable and runs CBC's branch and bound single-threaded (deterministic: the same problem gives
// the same answer) with a wall-clock limit. Proven optimal is kOptimal, proven infeasible
// kInfeasible, the limit reached kTimeLimit (with CBC's best integer point, if any); anything else,
// including exceptions from CBC, kOther. Not thread-safe: one instance per worker thread.
class CbcSolver final : public disclosure::IntegerSolver {
 public:
  CbcSolver();
  ~CbcSolver() override;
  CbcSolver(const CbcSolver&) = delete;
  CbcSolver& operator=(const CbcSolver&) = delete;

  [[nodiscard]] absl::Status Load(const disclosure::LpProblem& problem) override;
  disclosure::IntegerResult Optimize(std::size_t variable, disclosure::LpSense sense,
                                     absl::Duration limit) override;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace enclave::adapters::cbc
