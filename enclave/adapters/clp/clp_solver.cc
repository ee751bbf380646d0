#include "enclave/adapters/clp/clp_solver.h"

#include <cstddef>
#include <limits>
#include <memory>
#include <vector>

#include "ClpSimplex.hpp"
#include "CoinFinite.hpp"
#include "CoinPackedMatrix.hpp"
#include "absl/status/status.h"

namespace enclave::adapters::clp {

struct ClpSolver::Impl {
  std::unique_ptr<ClpSimplex> model;
  std::size_t columns = 0;
  bool has_objective = false;
  std::size_t objective_column = 0;
};

ClpSolver::ClpSolver() : impl_(std::make_unique<Impl>()) {}
ClpSolver::~ClpSolver() = default;

absl::Status ClpSolver::Load(const disclosure::LpProblem& problem) {
  impl_->model.reset();
  impl_->has_objective = false;
  if (absl::Status s = disclosure::ValidateLpProblem(problem); !s.ok()) return s;
  const std::size_t n = problem.lower.size();
  if (n > static_cast<std::size_t>(std::numeric_limits<int>::max()) ||
      problem.rows.size() > static_cast<std::size_t>(std::numeric_limits<int>::max())) {
    return absl::InvalidArgumentError("LP: too many variables or rows for CLP");
  }
  try {
    CoinPackedMatrix matrix(false, 0, 0);  // row-ordered
    matrix.setDimensions(0, static_cast<int>(n));
    std::vector<double> row_lower;
    std::vector<double> row_upper;
    row_lower.reserve(problem.rows.size());
    row_upper.reserve(problem.rows.size());
    std::vector<int> index;
    for (const disclosure::LpRow& row : problem.rows) {
      index.assign(row.variables.size(), 0);
      for (std::size_t k = 0; k < row.variables.size(); ++k) {
        index[k] = static_cast<int>(row.variables[k]);
      }
      matrix.appendRow(static_cast<int>(index.size()), index.data(), row.coefficients.data());
      row_lower.push_back(row.sense == disclosure::LpRowSense::kLessEqual ? -COIN_DBL_MAX
                                                                           : row.rhs);
      row_upper.push_back(row.rhs);
    }
    const std::vector<double> objective(n, 0.0);
    auto model = std::make_unique<ClpSimplex>();
    model->setLogLevel(0);
    model->loadProblem(matrix, problem.lower.data(), problem.upper.data(), objective.data(),
                       row_lower.data(), row_upper.data());
    impl_->model = std::move(model);
    impl_->columns = n;
  } catch (...) {  // CoinError, std::bad_alloc: nothing of CLP escapes
    impl_->model.reset();
    return absl::InternalError("LP: CLP could not load the problem");
  }
  return absl::OkStatus();
}

disclosure::LpResult ClpSolver::Optimize(std::size_t variable, disclosure::LpSense sense) {
  disclosure::LpResult result;
  Impl& m = *impl_;
  if (m.model == nullptr || variable >= m.columns) return result;
  try {
    if (m.has_objective) m.model->setObjectiveCoefficient(static_cast<int>(m.objective_column), 0.0);
    m.model->setObjectiveCoefficient(static_cast<int>(variable),
                                     sense == disclosure::LpSense::kMinimize ? 1.0 : -1.0);
    m.has_objective = true;
    m.objective_column = variable;
    m.model->primal(0, 1);  // keep work areas between solves of one load
    if (m.model->isProvenOptimal()) {
      result.status = disclosure::LpStatus::kOptimal;
      const double* x = m.model->getColSolution();
      result.value = x[variable];
      result.solution.assign(x, x + m.columns);
    } else if (m.model->isProvenPrimalInfeasible()) {
      result.status = disclosure::LpStatus::kInfeasible;
    }
  } catch (...) {
    result = disclosure::LpResult{};
  }
  return result;
}

}  // namespace enclave::adapters::clp
