// Secondary suppression and the attacker's audit (disclosure-control.md §4). Pure: the LP runs
// through the LpSolver port (lp_solver.h), the integer check through the IntegerSolver port
// (integer_solver.h); no I/O.
//
// AuditTable is the judge: for every suppressed cell it computes the interval [lo, hi] an attacker
// can derive from the released cells and the table's relations (§4.2), and checks every primary
// cell's protection requirement (§4.3, protection.h) on it. ProtectTable finds the complementary
// suppressions (§4.4, greedy hypercube), re-auditing as it goes, and refuses a table it cannot
// protect.
//
// The attacker's model: the unknowns are the suppressed cells; they satisfy every relation of the
// structure (with the released cells' true, unperturbed values: perturbation only widens
// intervals; a kUnion relation of a multi-valued dimension as its two inequalities) and
// 0 <= x <= U, where U is an upper bound every cell respects and the attacker is assumed to know
// (by default the table's largest value, the grand total of a cube: the population size is
// public). A smaller U only makes the audit stricter. The LP is rounded to integers inward
// (lo = ceil, hi = floor, within a tolerance of 1e-6 relative to max(U, 10^6)): exact for 1-D
// tables, hierarchies and 2-D tables with at most one hierarchical dimension, whose LP bounds are
// integral (§4.6). For 3-D tables, two hierarchical dimensions or kUnion relations the LP interval
// may be wider than the integer one (LpIsExact says which), so an attacker who uses that cells are
// whole numbers could pin down a cell the LP calls protected. There every primary cell's
// requirement is judged on the INTEGER interval (the integer check, IntegerCheck):
//   - a requirement holds when the audit holds a verified integer table (every relation and bound
//     checked exactly in integer arithmetic, released cells at their true values) in which the
//     cell reaches the required value. Such tables come from integral LP vertices, from the
//     greedy's hypercube shifts, and from the integer solver's solutions; each one is kept and
//     serves every primary cell (suppressing more cells keeps it feasible);
//   - otherwise the integer solver optimises the cell over the same problem with integer
//     variables; a proven optimum that does not reach the requirement makes the cell unprotected.
//   - No proven answer within the time limit (per solve, per table) refuses the table: it is never
//     released on a bound that was not proven.
//
//   absl::StatusOr<TableStructure> cube = BuildCube({{.codes = 13}, {.codes = 50}});
//   std::vector<PrimaryCell> primary = {{cube->CellIndex({0, 4}), {true, 0, true, 10}}};
//   ProtectOptions options;
//   options.audit.integer.solver = &cbc;  // needed when !LpIsExact(*cube)
//   absl::StatusOr<Protection> p = ProtectTable(*cube, values, primary, solver, options);
//   if (!p.ok()) { /* kFailedPrecondition: refuse the table */ }
//   for (std::size_t cell = 0; cell < p->suppressed.size(); ++cell) { if (p->suppressed[cell]) ... }
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "enclave/disclosure/integer_solver.h"
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

// The integer check (§4.6) for structures whose LP bounds may not be integral (!LpIsExact).
struct IntegerCheck {
  // Required for such structures: without it AuditTable and ProtectTable refuse them.
  IntegerSolver* solver = nullptr;
  // Wall-clock limits: one integer solve, and the whole audit or protection of one table (LP
  // solves included). Past either without a proven answer, the table is refused.
  absl::Duration per_solve = absl::Seconds(2);
  absl::Duration per_table = absl::Seconds(10);
  // The clock the per-table limit is measured on; empty: absl::Now. (Tests inject one.)
  std::function<absl::Time()> clock;
};

struct AuditOptions {
  // The attacker's upper bound on every cell. 0: the table's largest value. Must not be below any
  // cell's value (kInvalidArgument): the true table has to be feasible.
  std::int64_t upper_bound = 0;
  IntegerCheck integer;
};

struct AuditResult {
  std::vector<CellInterval> intervals;   // LP: one per suppressed cell, ascending cell index
  // Only when the integer check ran (!LpIsExact): one per primary cell, ascending: the smallest
  // and largest value the cell takes in the verified integer tables the audit holds. Where the
  // audit solved an integer program for a side, that side is the exact integer bound.
  std::vector<CellInterval> integer;
  bool integer_checked = false;
  // Primary cells whose requirement fails (on the integer interval when integer_checked),
  // ascending.
  std::vector<std::size_t> unprotected;
  bool AllProtected() const { return unprotected.empty(); }
  // The LP interval of a suppressed cell; nullptr when the cell is not suppressed.
  const CellInterval* Find(std::size_t cell) const;
  // The integer interval of a primary cell; nullptr when the check did not run or the cell is not
  // primary.
  const CellInterval* FindInteger(std::size_t cell) const;
};

// The attacker's audit (§4.2) of one suppression pattern.
//   values: one per cell of `structure`, each in [0, 2^52], every relation holding exactly.
//   suppressed: one flag per cell; every primary cell must be suppressed.
//   primaries: the primary-unsafe cells with their requirements (a cell may appear more than once,
//     e.g. once per rule that fired; each requirement is checked).
// kInvalidArgument for inconsistent inputs (sizes, values, a relation that does not hold, a
// primary cell out of range or not suppressed, an upper bound below a value). kInternal when the
// solver reports anything but an optimum for any of the 2·|suppressed| solves, or an interval that
// excludes the true value, or the integer solver fails or gives an optimum that does not verify:
// the table must then not be released (fail closed). When !LpIsExact(structure):
// kFailedPrecondition without options.integer.solver, kDeadlineExceeded when a time limit passes
// before a proven answer.
// Deterministic for deterministic solvers (time limits aside).
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
// When !LpIsExact(structure) (the integer check, see the top of this file): step 2 runs on the LP
// until every primary is LP-protected; then the primaries are confirmed in ascending order on the
// integer interval, and the first one that an integer optimum proves unprotected becomes the
// target of step 2 again (the LP greedy continues). In a structure of sums only, a hypercube that
// protects the cell by the pre-check is an integer witness (its shift is a whole number).
// kFailedPrecondition "table cannot be protected" when no hypercube adds a cell, the iteration
// limit is reached, a primary has a requirement with no bound, the solver reports anything but an
// optimum, or (integer check) no integer solver is given, a time limit passes first or the
// integer solver fails. kInvalidArgument as for AuditTable, and when `structure` is not a cube
// from BuildCube or the cost vector has the wrong size or a negative entry.
// Deterministic: the same input gives the same pattern (or a refusal when a time limit passes:
// every decision is on proven facts, so the time taken never changes a released pattern).
[[nodiscard]] absl::StatusOr<Protection> ProtectTable(const TableStructure& structure,
                                                      const std::vector<std::int64_t>& values,
                                                      const std::vector<PrimaryCell>& primaries,
                                                      LpSolver& solver,
                                                      const ProtectOptions& options = {});

// True when the LP bounds of `structure` are integral (§4.6): sums only (no kUnion relation), at
// most two dimensions with codes, of which at most one is hierarchical. Otherwise an LP audit may
// overstate intervals and the integer check is needed.
bool LpIsExact(const TableStructure& structure);

}  // namespace enclave::disclosure
