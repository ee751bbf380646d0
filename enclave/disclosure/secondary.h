// Secondary suppression and the attacker's LP audit (disclosure-control.md §4). Pure: the LP runs
// through the LpSolver port (lp_solver.h); no I/O.
//
// AuditTable is the judge: for every suppressed cell it computes the interval [lo, hi] an attacker
// can derive from the released cells and the table's additive relations (§4.2), and checks every
// primary cell's protection requirement (§4.3, protection.h) on it. ProtectTable finds the
// complementary suppressions (§4.4, greedy hypercube), re-auditing as it goes, and refuses a table
// it cannot protect.
//
// The attacker's model: the unknowns are the suppressed cells; they satisfy every relation of the
// structure exactly (with the released cells' true, unperturbed values: perturbation only widens
// intervals) and 0 <= x <= U, where U is an upper bound every cell respects and the attacker is
// assumed to know (by default the table's largest value, the grand total of a cube: the population
// size is public). A smaller U only makes the audit stricter. The LP is rounded to integers inward
// (lo = ceil, hi = floor, within a tolerance of 1e-6 relative to max(U, 10^6)): exact for 1-D tables,
// hierarchies and 2-D tables with at most one hierarchical dimension, whose LP bounds are integral
// (§4.6). For 3-D tables and two hierarchical dimensions the LP interval may be wider than the
// integer one: LpIsExact says which (§4.6 asks for a CBC check or a refusal there).
//
//   absl::StatusOr<TableStructure> cube = BuildCube({{.codes = 13}, {.codes = 50}});
//   std::vector<PrimaryCell> primary = {{cube->CellIndex({0, 4}), {true, 0, true, 10}}};
//   absl::StatusOr<Protection> p = ProtectTable(*cube, values, primary, solver, {});
//   if (!p.ok()) { /* kFailedPrecondition: refuse the table */ }
//   for (std::size_t cell = 0; cell < p->suppressed.size(); ++cell) { if (p->suppressed[cell]) ... }
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

#include "absl/status/statusor.h"
#include "enclave/disclosure/lp_solver.h"
#include "enclave/disclosure/protection.h"
#include "enclave/disclosure/table_structure.h"

namespace enclave::disclosure {

struct PrimaryCell {
  std::size_t cell = 0;
  ProtectionRequirement requirement;
};

struct CellInterval {
  std::size_t cell = 0;
  std::int64_t lo = 0;
  std::int64_t hi = 0;
};

struct AuditOptions {
  // The attacker's upper bound on every cell. 0: the table's largest value. Must not be below any
  // cell's value (kInvalidArgument): the true table has to be feasible.
  std::int64_t upper_bound = 0;
};

struct AuditResult {
  std::vector<CellInterval> intervals;   // one per suppressed cell, ascending cell index
  std::vector<std::size_t> unprotected;  // primary cells whose requirement fails, ascending
  bool AllProtected() const { return unprotected.empty(); }
  // The interval of a suppressed cell; nullptr when the cell is not suppressed.
  const CellInterval* Find(std::size_t cell) const;
};

// The attacker's audit (§4.2) of one suppression pattern.
//   values: one per cell of `structure`, each in [0, 2^52], every relation holding exactly.
//   suppressed: one flag per cell; every primary cell must be suppressed.
//   primaries: the primary-unsafe cells with their requirements (a cell may appear more than once,
//     e.g. once per rule that fired; each requirement is checked).
// kInvalidArgument for inconsistent inputs (sizes, values, a relation that does not hold, a
// primary cell out of range or not suppressed, an upper bound below a value). kInternal when the
// solver reports anything but an optimum for any of the 2·|suppressed| solves, or an interval that
// excludes the true value: the table must then not be released (fail closed).
// Deterministic for a deterministic solver.
[[nodiscard]] absl::StatusOr<AuditResult> AuditTable(const TableStructure& structure,
                                                     const std::vector<std::int64_t>& values,
                                                     const std::vector<bool>& suppressed,
                                                     const std::vector<PrimaryCell>& primaries,
                                                     LpSolver& solver,
                                                     const AuditOptions& options = {});

struct ProtectOptions {
  // Candidate hypercubes added at most (each iteration adds one); beyond it the table is refused.
  int max_iterations = 10000;
  // The cost of suppressing each cell (§4.4: units newly suppressed), one per cell. Empty: the
  // values themselves, right for count tables; for a magnitude table pass its unit counts.
  std::vector<std::int64_t> cost;
  AuditOptions audit;
};

struct Protection {
  std::vector<bool> suppressed;        // per cell: primary or secondary
  std::vector<std::size_t> secondary;  // cells added, in the order they were chosen
  AuditResult audit;                   // the final audit that passed: every primary protected
  int iterations = 0;                  // hypercubes added
};

// Primary suppression is `primaries`; adds complementary suppressions until AuditTable finds every
// primary protected (§4.4):
//   1. S ← primary cells.
//   2. Take the first primary cell (ascending cell index) that the LP finds unprotected. Among the
//      hypercubes through it (in each dimension with codes, the cell's code and a partner: another
//      code under the same parent, or the total; in a hierarchy the path to the partner's common
//      ancestor is suppressed with it so that the shift balances every level), add to S the one
//      that (a) by the pre-check alone protects the cell, else (b) at least adds uncertainty in a
//      required direction, else (c) adds any cell; then the lowest cost of the cells it newly
//      suppresses, then the lexicographically smallest list of those cells. Re-audit.
//   3. When every primary is protected, a final full AuditTable confirms it.
// The pre-check: with only the hypercube's cells suppressed, an attacker can shift the cell by Δ,
// alternating signs around the hypercube, for Δ in [−min(cells going down), min(cells going up's
// headroom to U)]; the LP interval contains that range.
// kFailedPrecondition "table cannot be protected" when no hypercube adds a cell, the iteration
// limit is reached, a primary has a requirement with no bound, or the solver reports anything but
// an optimum. kInvalidArgument as for AuditTable, and when `structure` is not a cube from
// BuildCube or the cost vector has the wrong size or a negative entry.
// Deterministic: the same input gives the same pattern.
[[nodiscard]] absl::StatusOr<Protection> ProtectTable(const TableStructure& structure,
                                                      const std::vector<std::int64_t>& values,
                                                      const std::vector<PrimaryCell>& primaries,
                                                      LpSolver& solver,
                                                      const ProtectOptions& options = {});

// True when the LP bounds of `structure` are integral (§4.6): at most two dimensions with codes,
// of which at most one is hierarchical. Otherwise an audit may overstate intervals.
bool LpIsExact(const TableStructure& structure);

}  // namespace enclave::disclosure
