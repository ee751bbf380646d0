#include "enclave/disclosure/secondary.h"

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "enclave/base/status_macros.h"

// How the audit and the greedy search work (contracts in secondary.h, rules in
// disclosure-control.md §4).
//
// The attacker LP has one variable per suppressed cell and, per relation with at least one
// suppressed member, one equality (kSum) or its inequalities (kUnion: x_total - Σ x_parts <= 0 and
// x_part - x_total <= 0 for each part; relations among released cells only hold already:
// CheckValues). It separates into independent problems, one per group of suppressed cells linked
// by relations; each group is loaded once per suppression pattern and each interval end is one
// solve, so the solver can warm-start between objectives.
//
// The integer check (!LpIsExact) keeps, per cell, the smallest and largest value it takes in any
// verified integer table (IntegerJudge): a table is the true values with one group's cells
// replaced, and is verified exactly (integral, within [0, U], every relation in integer
// arithmetic) before it counts. Since the groups are independent and suppressing more cells keeps
// every such table feasible, these values only widen as the pattern grows, and one table serves
// every primary cell it touches. A primary cell whose requirement these values do not meet gets an
// integer solve of its group (the side it needs); a proven optimum that still does not meet it
// means unprotected.
//
// ProtectTable keeps, per primary, whether it is known to be protected. Protection is monotone:
// suppressing more cells only removes knowledge (the old feasible set is the slice of the new one
// at the newly suppressed cells' values), so a primary once protected stays protected. Each pass
// takes the first primary not known protected, asks the LP (max first when an upper bound is
// required, min only if needed), and if unprotected adds the best hypercube through it. A hypercube
// that protects the cell by the pre-check alone marks it protected without another LP. A final full
// audit confirms everything before the pattern is returned.
namespace enclave::disclosure {
namespace {

using Pattern = std::vector<std::pair<std::size_t, int>>;  // (code or total, sign)

absl::Status Refusal(const std::string& why) {
  return absl::FailedPreconditionError("table cannot be protected: " + why);
}

// Common validation; sets *upper to the attacker's bound on every cell.
absl::Status CheckInputs(const TableStructure& structure, const std::vector<std::int64_t>& values,
                         const std::vector<PrimaryCell>& primaries, const AuditOptions& options,
                         std::int64_t* upper) {
  ENCLAVE_RETURN_IF_ERROR(CheckValues(structure, values));
  std::int64_t largest = 0;
  for (std::int64_t v : values) largest = std::max(largest, v);
  if (options.upper_bound < 0) {
    return absl::InvalidArgumentError("the attacker's upper bound must not be negative");
  }
  if (options.upper_bound != 0 && options.upper_bound < largest) {
    return absl::InvalidArgumentError("the attacker's upper bound is below a cell's value");
  }
  *upper = options.upper_bound != 0 ? options.upper_bound : largest;
  for (const PrimaryCell& p : primaries) {
    if (p.cell >= structure.cell_count) {
      return absl::InvalidArgumentError("a primary cell is outside the table");
    }
  }
  return absl::OkStatus();
}

double Tolerance(std::int64_t upper) {
  return 1e-6 * std::max(1.0, static_cast<double>(upper) * 1e-6);
}

// Suppressed cells grouped by the relations that link them. The attacker's LP separates into one
// independent problem per group: a relation's suppressed members all lie in one group, and a
// group's cells appear in no other group's rows.
struct Groups {
  static constexpr std::size_t kNone = static_cast<std::size_t>(-1);
  std::vector<std::size_t> of;                  // per cell: its group, kNone when released
  std::vector<std::vector<std::size_t>> cells;  // per group: its cells, ascending
};

Groups GroupSuppressed(const TableStructure& structure, const std::vector<bool>& suppressed) {
  std::vector<std::size_t> link(structure.cell_count);
  for (std::size_t c = 0; c < link.size(); ++c) link[c] = c;
  auto find = [&](std::size_t x) {
    while (link[x] != x) x = link[x] = link[link[x]];
    return x;
  };
  for (const Relation& r : structure.relations) {
    std::size_t first = suppressed[r.total] ? r.total : Groups::kNone;
    for (std::size_t p : r.parts) {
      if (!suppressed[p]) continue;
      if (first == Groups::kNone) {
        first = p;
        continue;
      }
      const std::size_t a = find(first);
      const std::size_t b = find(p);
      if (a != b) link[std::max(a, b)] = std::min(a, b);
    }
  }
  Groups g;
  g.of.assign(structure.cell_count, Groups::kNone);
  std::vector<std::size_t> group_of_root(structure.cell_count, Groups::kNone);
  for (std::size_t c = 0; c < structure.cell_count; ++c) {
    if (!suppressed[c]) continue;
    const std::size_t root = find(c);
    if (group_of_root[root] == Groups::kNone) {
      group_of_root[root] = g.cells.size();
      g.cells.emplace_back();
    }
    g.of[c] = group_of_root[root];
    g.cells[g.of[c]].push_back(c);
  }
  return g;
}

class IntegerJudge;

// The attacker's LP for one group of suppressed cells, loaded into the solver.
class AttackerLp {
 public:
  AttackerLp(const TableStructure& structure, const std::vector<std::int64_t>& values,
             std::int64_t upper, LpSolver& solver)
      : structure_(structure), values_(values), upper_(upper), tolerance_(Tolerance(upper)),
        solver_(solver), var_of_(structure.cell_count, kReleased),
        relations_of_(structure.cell_count), stamp_(structure.relations.size(), 0) {
    for (std::size_t r = 0; r < structure.relations.size(); ++r) {
      relations_of_[structure.relations[r].total].push_back(r);
      for (std::size_t p : structure.relations[r].parts) relations_of_[p].push_back(r);
    }
  }

  // Loads the LP of `cells`, one group of GroupSuppressed(structure, suppressed).
  absl::Status Load(const std::vector<bool>& suppressed, const std::vector<std::size_t>& cells) {
    Invalidate();
    for (std::size_t c : cell_of_) var_of_[c] = kReleased;
    cell_of_ = cells;
    for (std::size_t v = 0; v < cell_of_.size(); ++v) var_of_[cell_of_[v]] = v;
    ++load_;
    LpProblem& problem = problem_;
    problem = LpProblem{};
    problem.lower.assign(cell_of_.size(), 0.0);
    problem.upper.assign(cell_of_.size(), static_cast<double>(upper_));
    for (std::size_t c : cell_of_) {
      for (std::size_t ri : relations_of_[c]) {
        if (stamp_[ri] == load_) continue;
        stamp_[ri] = load_;
        const Relation& r = structure_.relations[ri];
        LpRow row;
        // x_total - Σ x_parts = 0 (kUnion: <= 0), released cells moved to the right-hand side.
        std::int64_t rhs = 0;
        bool ok = true;
        auto add = [&](std::size_t cell, double sign) {
          if (var_of_[cell] != kReleased) {
            row.variables.push_back(var_of_[cell]);
            row.coefficients.push_back(sign);
            return;
          }
          rhs -= static_cast<std::int64_t>(sign) * values_[cell];
          ok = ok && !suppressed[cell];  // a suppressed cell outside the group: a bug
        };
        add(r.total, 1.0);
        for (std::size_t p : r.parts) add(p, -1.0);
        if (!ok) return absl::InternalError("attacker LP: a relation spans two groups");
        row.rhs = static_cast<double>(rhs);
        if (r.kind == RelationKind::kUnion) row.sense = LpRowSense::kLessEqual;
        problem.rows.push_back(std::move(row));
        if (r.kind != RelationKind::kUnion) continue;
        // Each part at most the total: x_part - x_total <= 0.
        for (std::size_t p : r.parts) {
          if (var_of_[p] == kReleased && var_of_[r.total] == kReleased) continue;
          row = LpRow{};
          rhs = 0;
          add(p, 1.0);
          add(r.total, -1.0);
          row.rhs = static_cast<double>(rhs);
          row.sense = LpRowSense::kLessEqual;
          problem.rows.push_back(std::move(row));
        }
      }
    }
    if (absl::Status s = solver_.Load(problem); !s.ok()) {
      return absl::InternalError("attacker LP: the solver refused the problem");
    }
    return absl::OkStatus();
  }

  // Every optimal LP vertex is offered to `judge` as an integer witness (kept when integral).
  void Harvest(IntegerJudge* judge) { judge_ = judge; }

  const LpProblem& problem() const { return problem_; }
  const std::vector<std::size_t>& cells() const { return cell_of_; }  // per variable
  std::size_t VariableOf(std::size_t cell) const { return var_of_[cell]; }

  // The integer bound of a suppressed cell, rounded inward. kInternal unless optimal and
  // consistent with the true value.
  absl::StatusOr<std::int64_t> Bound(std::size_t cell, LpSense sense) {
    const LpResult r = solver_.Optimize(var_of_[cell], sense);
    if (r.status != LpStatus::kOptimal || !std::isfinite(r.value)) {
      return absl::InternalError("attacker LP: the solver did not reach an optimum");
    }
    Offer(r.solution);
    const double v = static_cast<double>(values_[cell]);
    double bound = 0;
    if (sense == LpSense::kMinimize) {
      bound = std::ceil(r.value - tolerance_);
      if (bound > v) return absl::InternalError("attacker LP: the interval excludes the true value");
    } else {
      bound = std::floor(r.value + tolerance_);
      if (bound < v) return absl::InternalError("attacker LP: the interval excludes the true value");
    }
    bound = std::clamp(bound, 0.0, static_cast<double>(upper_));
    return static_cast<std::int64_t>(bound);
  }

  // Whether the requirement of a suppressed primary cell holds, solving only what is needed.
  absl::StatusOr<bool> Protected(std::size_t cell, const ProtectionRequirement& req) {
    const std::int64_t v = values_[cell];
    if (req.has_upper && v >= req.upper) return true;
    if (req.has_lower && v <= req.lower) return true;
    if (req.has_upper) {
      ENCLAVE_ASSIGN_OR_RETURN(const std::int64_t hi, Bound(cell, LpSense::kMaximize));
      if (hi >= req.upper) return true;
    }
    if (req.has_lower) {
      ENCLAVE_ASSIGN_OR_RETURN(const std::int64_t lo, Bound(cell, LpSense::kMinimize));
      if (lo <= req.lower) return true;
    }
    return false;
  }

 private:
  static constexpr std::size_t kReleased = static_cast<std::size_t>(-1);
  const TableStructure& structure_;
  const std::vector<std::int64_t>& values_;
  std::int64_t upper_;
  double tolerance_;
  LpSolver& solver_;
  std::vector<std::size_t> var_of_;                     // per cell, kReleased outside the group
  std::vector<std::size_t> cell_of_;                    // per variable
  std::vector<std::vector<std::size_t>> relations_of_;  // per cell
  std::vector<std::uint64_t> stamp_;                    // per relation: last load that took it
  std::uint64_t load_ = 0;
  LpProblem problem_;               // the loaded group's problem
  IntegerJudge* judge_ = nullptr;   // Harvest

  void Offer(const std::vector<double>& solution);
  void Invalidate();
};

// The integer check (see the top of this file and secondary.h).
class IntegerJudge {
 public:
  IntegerJudge(const TableStructure& structure, const std::vector<std::int64_t>& values,
               std::int64_t upper, const IntegerCheck& check)
      : structure_(structure), values_(values), upper_(upper), check_(check),
        lo_(values), hi_(values), point_(values) {
    deadline_ = Now() + check_.per_table;
  }

  // Records `x` (one value per variable of the group `cells`, the rest at their true values) when
  // it is an integer table satisfying every relation and bound exactly. Returns whether it was.
  bool Offer(const std::vector<std::size_t>& cells, const std::vector<double>& x) {
    if (x.size() != cells.size() || cells.empty()) return false;
    bool ok = true;
    for (std::size_t v = 0; v < cells.size() && ok; ++v) {
      const double r = std::round(x[v]);
      ok = std::isfinite(x[v]) && std::fabs(x[v] - r) <= 1e-6 && r >= 0 &&
           r <= static_cast<double>(upper_);
      if (ok) point_[cells[v]] = static_cast<std::int64_t>(r);
    }
    ok = ok && Feasible();
    if (ok) {
      for (std::size_t c : cells) {
        lo_[c] = std::min(lo_[c], point_[c]);
        hi_[c] = std::max(hi_[c], point_[c]);
      }
    }
    for (std::size_t c : cells) point_[c] = values_[c];
    return ok;
  }

  // A table shifted along a hypercube (pattern (cell, sign) by delta); sums-only structures.
  // Every cell of the hypercube must be suppressed (a released cell cannot move).
  void OfferShift(const std::vector<std::pair<std::size_t, int>>& cube, std::int64_t delta,
                  const std::vector<bool>& suppressed) {
    std::vector<std::size_t> cells;
    std::vector<double> x;
    for (const auto& [c, sign] : cube) {
      if (!suppressed[c]) return;
      cells.push_back(c);
      x.push_back(static_cast<double>(values_[c] + sign * delta));
    }
    Offer(cells, x);
  }

  bool Meets(std::size_t cell, const ProtectionRequirement& req) const {
    return Satisfied(req, lo_[cell], hi_[cell]);
  }
  std::int64_t lo(std::size_t cell) const { return lo_[cell]; }
  std::int64_t hi(std::size_t cell) const { return hi_[cell]; }

  absl::Status CheckTime() const {
    if (Now() >= deadline_) {
      return absl::DeadlineExceededError("the integer check ran out of time for this table");
    }
    return absl::OkStatus();
  }

  // Whether the requirement of a suppressed primary cell holds on the integer interval; solves
  // the integer program of the cell's group (loaded in `lp`) only for the sides still needed.
  absl::StatusOr<bool> Check(std::size_t cell, const ProtectionRequirement& req, AttackerLp& lp) {
    if (Meets(cell, req)) return true;
    if (check_.solver == nullptr) {
      return absl::FailedPreconditionError("the table needs the integer check and no integer "
                                           "solver is configured");
    }
    if (loaded_for_ != &lp) {
      loaded_for_ = nullptr;
      if (!check_.solver->Load(lp.problem()).ok()) {
        return absl::InternalError("integer check: the solver refused the problem");
      }
      loaded_for_ = &lp;
    }
    auto solve = [&](LpSense sense) -> absl::Status {
      const absl::Time now = Now();
      if (now >= deadline_) {
        return absl::DeadlineExceededError("the integer check ran out of time for this table");
      }
      const absl::Duration limit = std::min(check_.per_solve, deadline_ - now);
      const IntegerResult r = check_.solver->Optimize(lp.VariableOf(cell), sense, limit);
      const bool verified = Offer(lp.cells(), r.solution);
      switch (r.status) {
        case IntegerStatus::kOptimal:
          if (!verified) return absl::InternalError("integer check: an optimum does not verify");
          return absl::OkStatus();
        case IntegerStatus::kTimeLimit:
          return absl::DeadlineExceededError("the integer check ran out of time for one solve");
        case IntegerStatus::kInfeasible:
        case IntegerStatus::kOther:
          break;
      }
      return absl::InternalError("integer check: the solver did not reach an optimum");
    };
    // A verified table that reaches the requirement settles it even when the solve then failed.
    if (req.has_upper && hi_[cell] < req.upper) {
      const absl::Status s = solve(LpSense::kMaximize);
      if (Meets(cell, req)) return true;
      ENCLAVE_RETURN_IF_ERROR(s);
      if (req.require_both) return false;  // the upper end is proven out of reach
    }
    if (req.has_lower && lo_[cell] > req.lower) {
      const absl::Status s = solve(LpSense::kMinimize);
      if (Meets(cell, req)) return true;
      ENCLAVE_RETURN_IF_ERROR(s);
    }
    return false;
  }

 private:
  absl::Time Now() const { return check_.clock ? check_.clock() : absl::Now(); }

  bool Feasible() const {
    for (const Relation& r : structure_.relations) {
      std::int64_t sum = 0;
      const std::int64_t total = point_[r.total];
      for (std::size_t p : r.parts) {
        if (__builtin_add_overflow(sum, point_[p], &sum)) return false;
        if (r.kind == RelationKind::kUnion && point_[p] > total) return false;
      }
      if (r.kind == RelationKind::kUnion ? total > sum : total != sum) return false;
    }
    return true;
  }

  const TableStructure& structure_;
  const std::vector<std::int64_t>& values_;
  std::int64_t upper_;
  const IntegerCheck& check_;
  std::vector<std::int64_t> lo_;     // per cell: smallest value in a verified integer table
  std::vector<std::int64_t> hi_;     // largest
  std::vector<std::int64_t> point_;  // scratch: the values, one group replaced
  absl::Time deadline_;
  const AttackerLp* loaded_for_ = nullptr;  // whose current group the integer solver holds
 public:
  // Called by AttackerLp::Load: the integer solver's problem is stale.
  void Invalidate() { loaded_for_ = nullptr; }
};

void AttackerLp::Offer(const std::vector<double>& solution) {
  if (judge_ != nullptr) judge_->Offer(cell_of_, solution);
}

void AttackerLp::Invalidate() {
  if (judge_ != nullptr) judge_->Invalidate();
}

// One dimension as a tree: nodes 0..codes-1 are codes, node `codes` is the total (the root).
class DimTree {
 public:
  explicit DimTree(const DimensionShape& shape) : root_(shape.codes) {
    parent_.assign(shape.codes + 1, root_);
    children_.resize(shape.codes + 1);
    for (std::size_t c = 0; c < shape.codes; ++c) {
      const int p = shape.parent.empty() ? kRoot : shape.parent[c];
      parent_[c] = p == kRoot ? root_ : static_cast<std::size_t>(p);
      children_[parent_[c]].push_back(c);
    }
    for (std::size_t c = 0; c < shape.codes; ++c) {
      if (children_[c].empty()) leaves_.push_back(c);
    }
  }

  // The shift patterns through `node` (its sign +1): leaf pairs (a under node, b outside it; both
  // paths up to their common ancestor, exclusive, with signs +1 and -1) and root paths (a leaf
  // under node up to and including the total). Each balances every relation of the dimension.
  std::vector<Pattern> PatternsThrough(std::size_t node) const {
    std::vector<Pattern> out;
    if (root_ == 0) {
      out.push_back({{node, 1}});
      return out;
    }
    for (std::size_t a : leaves_) {
      if (!Within(a, node)) continue;
      if (node != root_) {
        for (std::size_t b : leaves_) {
          if (Within(b, node)) continue;
          Pattern p;
          const std::size_t lca = CommonAncestor(a, b);
          for (std::size_t x = a; x != lca; x = parent_[x]) p.emplace_back(x, 1);
          for (std::size_t x = b; x != lca; x = parent_[x]) p.emplace_back(x, -1);
          out.push_back(std::move(p));
        }
      }
      Pattern p;
      for (std::size_t x = a; x != root_; x = parent_[x]) p.emplace_back(x, 1);
      p.emplace_back(root_, 1);
      out.push_back(std::move(p));
    }
    return out;
  }

 private:
  bool Within(std::size_t x, std::size_t ancestor) const {
    for (;; x = parent_[x]) {
      if (x == ancestor) return true;
      if (x == root_) return false;
    }
  }
  std::size_t CommonAncestor(std::size_t a, std::size_t b) const {
    for (std::size_t x = a;; x = parent_[x]) {
      if (Within(b, x)) return x;
    }
  }

  std::size_t root_;
  std::vector<std::size_t> parent_;
  std::vector<std::vector<std::size_t>> children_;
  std::vector<std::size_t> leaves_;
};

struct Candidate {
  int tier = 3;
  std::int64_t cost = 0;
  std::vector<std::size_t> new_cells;  // ascending
  bool found = false;
  std::vector<std::pair<std::size_t, int>> cube;  // (cell, sign) of the whole hypercube
  std::int64_t up = 0;    // the pre-check: how far the cell can rise by the shift
  std::int64_t down = 0;  // ... and fall
};

bool Better(const Candidate& a, const Candidate& b) {
  if (!b.found) return true;
  if (a.tier != b.tier) return a.tier < b.tier;
  if (a.cost != b.cost) return a.cost < b.cost;
  return a.new_cells < b.new_cells;
}

std::int64_t SaturatingAdd(std::int64_t a, std::int64_t b) {
  std::int64_t out = 0;
  if (__builtin_add_overflow(a, b, &out)) return INT64_MAX;
  return out;
}

// The best hypercube through `cell` (secondary.h, ProtectTable step 2).
Candidate BestHypercube(const TableStructure& structure, const std::vector<DimTree>& trees,
                        const std::vector<std::int64_t>& values,
                        const std::vector<std::int64_t>& cost, const std::vector<bool>& suppressed,
                        std::int64_t upper, std::size_t cell, const ProtectionRequirement& req) {
  const std::size_t dims = trees.size();
  const std::vector<std::size_t> coords = structure.Coordinates(cell);
  std::vector<std::vector<Pattern>> patterns(dims);
  for (std::size_t d = 0; d < dims; ++d) {
    patterns[d] = trees[d].PatternsThrough(coords[d]);
    if (patterns[d].empty()) return Candidate{};
  }
  const std::int64_t v = values[cell];
  Candidate best;
  std::vector<std::size_t> choice(dims, 0);
  std::vector<std::pair<std::size_t, int>> cube;  // (cell, sign)
  std::vector<std::pair<std::size_t, int>> next;
  for (;;) {
    cube.assign(1, {0, 1});
    for (std::size_t d = 0; d < dims; ++d) {
      next.clear();
      for (const auto& [base, sign] : cube) {
        for (const auto& [node, s] : patterns[d][choice[d]]) {
          next.emplace_back(base + node * structure.strides[d], sign * s);
        }
      }
      cube.swap(next);
    }
    Candidate c;
    std::int64_t up = upper;    // how far the cell can rise
    std::int64_t down = upper;  // how far it can fall
    for (const auto& [x, sign] : cube) {
      if (!suppressed[x]) {
        c.new_cells.push_back(x);
        c.cost = SaturatingAdd(c.cost, cost[x]);
      }
      if (sign > 0) {
        up = std::min(up, upper - values[x]);
        down = std::min(down, values[x]);
      } else {
        up = std::min(up, values[x]);
        down = std::min(down, upper - values[x]);
      }
    }
    if (!c.new_cells.empty()) {
      std::sort(c.new_cells.begin(), c.new_cells.end());
      c.found = true;
      c.up = up;
      c.down = down;
      if (Satisfied(req, v - down, v + up)) {
        c.tier = 0;
      } else if ((req.has_upper && up > 0) || (req.has_lower && down > 0)) {
        c.tier = 1;
      } else {
        c.tier = 2;
      }
      if (Better(c, best)) {
        c.cube = cube;
        best = std::move(c);
      }
    }
    std::size_t d = 0;
    while (d < dims && ++choice[d] == patterns[d].size()) choice[d++] = 0;
    if (d == dims) break;
  }
  return best;
}

// The audit of one pattern (AuditTable); `judge` is the integer check's state when the
// structure needs it (!LpIsExact), shared with ProtectTable so that its verified tables count.
absl::StatusOr<AuditResult> Audit(const TableStructure& structure,
                                  const std::vector<std::int64_t>& values,
                                  const std::vector<bool>& suppressed,
                                  const std::vector<PrimaryCell>& primaries, std::int64_t upper,
                                  LpSolver& solver, IntegerJudge* judge) {
  AttackerLp lp(structure, values, upper, solver);
  if (judge != nullptr) lp.Harvest(judge);
  const Groups groups = GroupSuppressed(structure, suppressed);
  AuditResult result;
  for (const std::vector<std::size_t>& group : groups.cells) {
    ENCLAVE_RETURN_IF_ERROR(lp.Load(suppressed, group));
    for (std::size_t cell : group) {
      if (judge != nullptr) ENCLAVE_RETURN_IF_ERROR(judge->CheckTime());
      ENCLAVE_ASSIGN_OR_RETURN(const std::int64_t lo, lp.Bound(cell, LpSense::kMinimize));
      ENCLAVE_ASSIGN_OR_RETURN(const std::int64_t hi, lp.Bound(cell, LpSense::kMaximize));
      result.intervals.push_back(CellInterval{cell, lo, hi});
    }
  }
  std::sort(result.intervals.begin(), result.intervals.end(),
            [](const CellInterval& a, const CellInterval& b) { return a.cell < b.cell; });
  for (const PrimaryCell& p : primaries) {
    const CellInterval* interval = result.Find(p.cell);
    if (!Satisfied(p.requirement, interval->lo, interval->hi)) result.unprotected.push_back(p.cell);
  }
  std::sort(result.unprotected.begin(), result.unprotected.end());
  result.unprotected.erase(std::unique(result.unprotected.begin(), result.unprotected.end()),
                           result.unprotected.end());
  if (judge != nullptr) {
    // The integer check, group by group, for the primaries the LP calls protected.
    result.integer_checked = true;
    const std::vector<std::size_t> lp_unprotected = result.unprotected;
    std::vector<std::size_t> order(primaries.size());
    for (std::size_t i = 0; i < order.size(); ++i) order[i] = i;
    std::stable_sort(order.begin(), order.end(), [&](std::size_t a, std::size_t b) {
      return groups.of[primaries[a].cell] < groups.of[primaries[b].cell];
    });
    std::size_t loaded = Groups::kNone;
    for (std::size_t i : order) {
      const PrimaryCell& p = primaries[i];
      if (std::binary_search(lp_unprotected.begin(), lp_unprotected.end(), p.cell)) continue;
      if (!judge->Meets(p.cell, p.requirement) && groups.of[p.cell] != loaded) {
        ENCLAVE_RETURN_IF_ERROR(lp.Load(suppressed, groups.cells[groups.of[p.cell]]));
        loaded = groups.of[p.cell];
      }
      ENCLAVE_ASSIGN_OR_RETURN(const bool ok, judge->Check(p.cell, p.requirement, lp));
      if (!ok) result.unprotected.push_back(p.cell);
    }
    for (const PrimaryCell& p : primaries) {
      result.integer.push_back(CellInterval{p.cell, judge->lo(p.cell), judge->hi(p.cell)});
    }
    std::sort(result.integer.begin(), result.integer.end(),
              [](const CellInterval& a, const CellInterval& b) { return a.cell < b.cell; });
    result.integer.erase(std::unique(result.integer.begin(), result.integer.end(),
                                     [](const CellInterval& a, const CellInterval& b) {
                                       return a.cell == b.cell;
                                     }),
                         result.integer.end());
  }
  std::sort(result.unprotected.begin(), result.unprotected.end());
  result.unprotected.erase(std::unique(result.unprotected.begin(), result.unprotected.end()),
                           result.unprotected.end());
  return result;
}

bool SumsOnly(const TableStructure& structure) {
  return std::all_of(structure.relations.begin(), structure.relations.end(),
                     [](const Relation& r) { return r.kind == RelationKind::kSum; });
}

}  // namespace

const CellInterval* AuditResult::Find(std::size_t cell) const {
  auto it = std::lower_bound(intervals.begin(), intervals.end(), cell,
                             [](const CellInterval& i, std::size_t c) { return i.cell < c; });
  if (it == intervals.end() || it->cell != cell) return nullptr;
  return &*it;
}

const CellInterval* AuditResult::FindInteger(std::size_t cell) const {
  auto it = std::lower_bound(integer.begin(), integer.end(), cell,
                             [](const CellInterval& i, std::size_t c) { return i.cell < c; });
  if (it == integer.end() || it->cell != cell) return nullptr;
  return &*it;
}

absl::StatusOr<AuditResult> AuditTable(const TableStructure& structure,
                                       const std::vector<std::int64_t>& values,
                                       const std::vector<bool>& suppressed,
                                       const std::vector<PrimaryCell>& primaries,
                                       LpSolver& solver, const AuditOptions& options) {
  std::int64_t upper = 0;
  ENCLAVE_RETURN_IF_ERROR(CheckInputs(structure, values, primaries, options, &upper));
  if (suppressed.size() != structure.cell_count) {
    return absl::InvalidArgumentError("the suppression pattern must have one flag per cell");
  }
  for (const PrimaryCell& p : primaries) {
    if (!suppressed[p.cell]) return absl::InvalidArgumentError("a primary cell is not suppressed");
  }
  if (LpIsExact(structure)) {
    return Audit(structure, values, suppressed, primaries, upper, solver, nullptr);
  }
  if (options.integer.solver == nullptr) {
    return absl::FailedPreconditionError("the table needs the integer check (more than two "
                                         "dimensions or a multi-valued one) and no integer solver "
                                         "is configured");
  }
  IntegerJudge judge(structure, values, upper, options.integer);
  return Audit(structure, values, suppressed, primaries, upper, solver, &judge);
}

absl::StatusOr<Protection> ProtectTable(const TableStructure& structure,
                                        const std::vector<std::int64_t>& values,
                                        const std::vector<PrimaryCell>& primaries,
                                        LpSolver& solver, const ProtectOptions& options) {
  std::int64_t upper = 0;
  ENCLAVE_RETURN_IF_ERROR(CheckInputs(structure, values, primaries, options.audit, &upper));
  if (structure.dimensions.size() != structure.strides.size() ||
      (structure.dimensions.empty() && !structure.relations.empty())) {
    return absl::InvalidArgumentError("ProtectTable needs a cube built by BuildCube");
  }
  const std::vector<std::int64_t>& cost = options.cost.empty() ? values : options.cost;
  if (cost.size() != structure.cell_count) {
    return absl::InvalidArgumentError("the cost vector must have one entry per cell");
  }
  for (std::int64_t c : cost) {
    if (c < 0) return absl::InvalidArgumentError("costs must not be negative");
  }
  for (const PrimaryCell& p : primaries) {
    if (!p.requirement.has_lower && !p.requirement.has_upper) {
      return Refusal("a primary cell has no protection requirement");
    }
  }
  // The integer check (§4.6) where the LP may overstate intervals.
  const bool exact = LpIsExact(structure);
  if (!exact && options.audit.integer.solver == nullptr) {
    return Refusal("the table needs the integer check and no integer solver is configured");
  }
  // A hypercube's pre-check is a proof (and an integer witness) only where every relation is a sum.
  const bool sums_only = SumsOnly(structure);
  std::optional<IntegerJudge> judge;
  if (!exact) judge.emplace(structure, values, upper, options.audit.integer);
  auto refuse = [](const absl::Status& s, const std::string& otherwise) {
    if (absl::IsDeadlineExceeded(s)) return Refusal("the integer check ran out of time");
    return Refusal(otherwise);
  };

  std::vector<std::size_t> order(primaries.size());
  for (std::size_t i = 0; i < order.size(); ++i) order[i] = i;
  std::stable_sort(order.begin(), order.end(), [&](std::size_t a, std::size_t b) {
    return primaries[a].cell < primaries[b].cell;
  });
  std::vector<DimTree> trees;
  trees.reserve(structure.dimensions.size());
  for (const DimensionShape& d : structure.dimensions) trees.emplace_back(d);

  Protection out;
  out.suppressed.assign(structure.cell_count, false);
  for (const PrimaryCell& p : primaries) out.suppressed[p.cell] = true;
  std::vector<bool> known(primaries.size(), false);          // LP-protected
  std::vector<bool> known_integer(primaries.size(), false);  // protected on the integer interval
  AttackerLp lp(structure, values, upper, solver);
  if (judge.has_value()) lp.Harvest(&*judge);
  Groups groups;
  bool grouped = false;
  std::size_t loaded = Groups::kNone;  // the group whose LP the solver holds
  bool audit_failed = false;  // the last full audit disagreed and nothing was added since

  auto load = [&](std::size_t cell) -> absl::Status {
    if (!grouped) {
      groups = GroupSuppressed(structure, out.suppressed);
      grouped = true;
      loaded = Groups::kNone;
    }
    const std::size_t group = groups.of[cell];
    if (group != loaded) {
      ENCLAVE_RETURN_IF_ERROR(lp.Load(out.suppressed, groups.cells[group]));
      loaded = group;
    }
    return absl::OkStatus();
  };

  for (;;) {
    if (judge.has_value()) {
      if (absl::Status s = judge->CheckTime(); !s.ok()) return refuse(s, "");
    }
    // The first primary not known to be protected, according to the LP.
    std::size_t target = primaries.size();
    for (std::size_t i : order) {
      if (known[i]) continue;
      if (!load(primaries[i].cell).ok()) return Refusal("the LP solver refused the problem");
      absl::StatusOr<bool> ok = lp.Protected(primaries[i].cell, primaries[i].requirement);
      if (!ok.ok()) return Refusal("the LP solver did not reach an optimum");
      if (*ok) {
        known[i] = true;
        continue;
      }
      target = i;
      break;
    }
    // Then, where the LP may overstate, the first primary not protected on the integer interval.
    if (target == primaries.size() && judge.has_value()) {
      for (std::size_t i : order) {
        if (known_integer[i]) continue;
        const PrimaryCell& p = primaries[i];
        if (!judge->Meets(p.cell, p.requirement)) {
          if (!load(p.cell).ok()) return Refusal("the LP solver refused the problem");
        }
        absl::StatusOr<bool> ok = judge->Check(p.cell, p.requirement, lp);
        if (!ok.ok()) return refuse(ok.status(), "the integer solver did not reach an optimum");
        if (*ok) {
          known_integer[i] = true;
          continue;
        }
        target = i;
        break;
      }
    }
    if (target == primaries.size()) {
      absl::StatusOr<AuditResult> audit =
          Audit(structure, values, out.suppressed, primaries, upper, solver,
                judge.has_value() ? &*judge : nullptr);
      if (!audit.ok()) return refuse(audit.status(), "the LP solver did not reach an optimum");
      loaded = Groups::kNone;  // the audit loaded its own problems
      if (judge.has_value()) judge->Invalidate();
      if (audit->AllProtected()) {
        out.audit = *std::move(audit);
        return out;
      }
      // Only a pre-check shortcut can disagree with the audit; a second disagreement in a row
      // would mean the LP answers inconsistently: fail closed.
      if (audit_failed) return Refusal("the LP solver answers inconsistently");
      audit_failed = true;
      for (std::size_t i = 0; i < primaries.size(); ++i) {
        if (std::binary_search(audit->unprotected.begin(), audit->unprotected.end(),
                               primaries[i].cell)) {
          known[i] = false;
          known_integer[i] = false;
        }
      }
      continue;
    }
    if (out.iterations >= options.max_iterations) return Refusal("the iteration limit was reached");
    const PrimaryCell& p = primaries[target];
    Candidate best = BestHypercube(structure, trees, values, cost, out.suppressed, upper, p.cell,
                                   p.requirement);
    if (!best.found) return Refusal("no candidate suppression is left");
    ++out.iterations;
    for (std::size_t c : best.new_cells) {
      out.suppressed[c] = true;
      out.secondary.push_back(c);
    }
    grouped = false;
    audit_failed = false;
    if (best.tier == 0 && sums_only) {
      known[target] = true;
      // The shift itself is an integer table reaching the requirement.
      if (judge.has_value()) {
        judge->OfferShift(best.cube, best.up, out.suppressed);
        judge->OfferShift(best.cube, -best.down, out.suppressed);
      }
    }
  }
}

bool LpIsExact(const TableStructure& structure) {
  if (structure.dimensions.empty()) return structure.relations.empty();
  if (!SumsOnly(structure)) return false;
  int active = 0;
  int hierarchical = 0;
  for (const DimensionShape& d : structure.dimensions) {
    if (d.codes == 0) continue;
    ++active;
    if (std::any_of(d.parent.begin(), d.parent.end(), [](int p) { return p != kRoot; })) {
      ++hierarchical;
    }
  }
  return active <= 1 || (active == 2 && hierarchical <= 1);
}

}  // namespace enclave::disclosure
