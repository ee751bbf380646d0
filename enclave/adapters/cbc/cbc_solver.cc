#include "enclave/adapters/cbc/cbc_solver.h"

#include <cstddef>
#include <limits>
#include <memory>
#include <vector>

#include "CbcModel.hpp"
#include "CoinFinite.hpp"
#include "CoinPackedMatrix.hpp"
#include "OsiClpSolverInterface.hpp"
#include "absl/status/status.h"

namespace enclave::adapters::cbc {

struct CbcSolver::Impl {
  std::unique_ptr<OsiClpSolverInterface> base;  // the loaded problem, every column integer
  std::size_t columns = 0;
};

CbcSolver::CbcSolver() : impl_(std::make_unique<Impl>()) {}
CbcSolver::~CbcSolver() = default;

absl::Status CbcSolver::Load(const disclosure::LpProblem& problem) {
  impl_->base.reset();
  if (absl::Status s = disclosure::ValidateLpProblem(problem); !s.ok()) return s;
  const std::size_t n = problem.lower.size();
  if (n > static_cast<std::size_t>(std::numeric_limits<int>::max()) ||
      problem.rows.size() > static_cast<std::size_t>(std::numeric_limits<int>::max())) {
    return absl::InvalidArgumentError("IP: too many variables or rows for CBC");
  }
  try {
    CoinPackedMatrix matrix(false, 0, 0);  // row-ordered
    matrix.setDimensions(0, static_cast<int>(n));
    std::vector<double> row_lower;
    std::vector<double> row_upper;
    std::vector<int> index;
    for (const disclosure::LpRow& row : problem.rows) {
      index.assign(row.variables.size(), 0);
      for (std::size_t k = 0; k < row.variables.size(); ++k) {
        index[k] = static_cast<int>(row.variables[k]);
      }
      matrix.appendRow(static_cast<int>(index.size()), index.data(), row.coefficients.data());
      row_lower.push_back(row.sense == disclosure::LpRowSense::kLessEqual ? -COIN_DBL_MAX : row.rhs);
      row_upper.push_back(row.rhs);
    }
    const std::vector<double> objective(n, 0.0);
    auto base = std::make_unique<OsiClpSolverInterface>();
    base->messageHandler()->setLogLevel(0);
    base->loadProblem(matrix, problem.lower.data(), problem.upper.data(), objective.data(),
                      row_lower.data(), row_upper.data());
    for (std::size_t j = 0; j < n; ++j) base->setInteger(static_cast<int>(j));
    impl_->base = std::move(base);
    impl_->columns = n;
  } catch (...) {  // CoinError, std::bad_alloc: nothing of CBC escapes
    impl_->base.reset();
    return absl::InternalError("IP: CBC could not load the problem");
  }
  return absl::OkStatus();
}

disclosure::IntegerResult CbcSolver::Optimize(std::size_t variable, disclosure::LpSense sense,
                                              absl::Duration limit) {
  disclosure::IntegerResult result;
  Impl& m = *impl_;
  if (m.base == nullptr || variable >= m.columns || limit <= absl::ZeroDuration()) return result;
  try {
    OsiClpSolverInterface solver(*m.base);
    solver.messageHandler()->setLogLevel(0);
    solver.setObjCoeff(static_cast<int>(variable),
                       sense == disclosure::LpSense::kMinimize ? 1.0 : -1.0);
    CbcModel model(solver);
    model.setLogLevel(0);
    model.solver()->messageHandler()->setLogLevel(0);
    model.setNumberThreads(0);     // one thread: the search, and so the answer, is reproducible
    model.setUseElapsedTime(true);  // the limit is wall-clock, like the request's deadline
    model.setMaximumSeconds(absl::ToDoubleSeconds(limit));
    model.setAllowableGap(1e-6);  // the objective is one integer variable: optimal means exact
    model.setAllowableFractionGap(0.0);
    model.initialSolve();
    model.branchAndBound();
    if (const double* best = model.bestSolution(); best != nullptr) {
      result.solution.assign(best, best + m.columns);
    }
    if (model.isProvenOptimal() && !result.solution.empty()) {
      result.status = disclosure::IntegerStatus::kOptimal;
    } else if (model.isProvenInfeasible()) {
      result.status = disclosure::IntegerStatus::kInfeasible;
    } else if (model.isSecondsLimitReached()) {
      result.status = disclosure::IntegerStatus::kTimeLimit;
    }
  } catch (...) {
    result = disclosure::IntegerResult{};
  }
  return result;
}

}  // namespace enclave::adapters::cbc
