// Step 6 of disclosure-control.md §2: secondary suppression per additive table, judged by the LP
// attacker (§4), with the integer check where the LP is not exact.
#include "enclave/core/internal/table.h"

namespace enclave::core {

absl::Status TableBuilder::Impl::SecondarySuppression(Pipeline& p) {
  const DisclosureTools& tools = *p.tools;
  const std::size_t stat_count = stats.size();
  std::vector<disclosure::Decision>& decisions = p.decisions;
  const std::vector<disclosure::ProtectionRequirement>& requirement = p.requirement;
  const std::vector<bool>& primary = p.primary;
  // Step 6: secondary suppression with the LP audit, per additive table. Tables key: the unit
  // counts of a flag combination (COUNT; SHARE numerators), or the sums of a flag (SUM, MEAN).
  std::map<std::pair<int, std::uint64_t>, std::vector<std::size_t>> additive;
  for (std::size_t s = 0; s < stat_count; ++s) {
    const StatPlan& plan = stats[s];
    switch (plan.kind) {
      case StatisticKind::kCount:
        additive[{0, plan.flag_mask}].push_back(s);
        break;
      case StatisticKind::kShare:
      case StatisticKind::kRelativeRisk:  // the share's numerators: protected with them
        additive[{0, plan.flag_mask | plan.den_mask}].push_back(s);
        break;
      case StatisticKind::kSum:
      case StatisticKind::kMean:
        additive[{1, plan.flag_mask}].push_back(s);
        break;
      case StatisticKind::kQuantile:
      case StatisticKind::kRatio:
      case StatisticKind::kShareDifference:
        // Not additive: margins do not determine them. Their primary rules stand alone.
        break;
    }
  }
  // Two cubes: unit counts, where a multi-valued dimension's relations are distinct-unit unions
  // (code <= margin <= sum of codes, §4.6), and sums, which stay additive.
  std::array<std::optional<disclosure::TableStructure>, 2> cubes;
  for (const auto& [table, members] : additive) {
    std::vector<disclosure::PrimaryCell> primaries;
    bool any_primary = false;
    for (std::size_t cell = 0; cell < cell_count; ++cell) {
      bool withheld = false;
      bool cell_primary = false;
      for (std::size_t s : members) {
        const std::size_t i = cell * stat_count + s;
        if (primary[i]) {
          // Statistics of one table with the same requirement (a share and its rate per 1,000, a
          // relative risk) make the cell a primary once.
          const disclosure::ProtectionRequirement& r = requirement[i];
          bool repeat = false;
          for (auto c = primaries.rbegin(); c != primaries.rend() && c->cell == cell; ++c) {
            const disclosure::ProtectionRequirement& q = c->requirement;
            repeat = repeat || (q.has_lower == r.has_lower && q.lower == r.lower &&
                                q.has_upper == r.has_upper && q.upper == r.upper &&
                                q.require_both == r.require_both);
          }
          if (!repeat) primaries.push_back({cell, r});
          any_primary = true;
          cell_primary = true;
        }
        withheld = withheld || decisions[i].status != disclosure::CellStatus::kReleased;
      }
      // A withheld empty cell is unknown to the attacker too: an LP variable whose requirement
      // (reach 0) always holds, so it only adds uncertainty. (A sensitive zero is primary: its
      // requirement is to reach T.)
      if (withheld && !cell_primary && acc[cell * stat_count + members.front()].units_a == 0) {
        disclosure::ProtectionRequirement zero;
        zero.has_lower = true;
        zero.lower = 0;
        primaries.push_back({cell, zero});
      }
    }
    if (!any_primary) continue;
    const bool sums = table.first == 1;
    std::vector<std::int64_t> values(cell_count);
    std::vector<std::int64_t> cost;
    constexpr Int128 kMaxExact = Int128{1} << 52;
    for (std::size_t cell = 0; cell < cell_count; ++cell) {
      const Accumulator& a = acc[cell * stat_count + members.front()];
      const Int128 v = sums ? a.sum_a : a.units_a;
      if (v < 0) return Unsafe("negative amounts in a table with withheld cells");
      if (v > kMaxExact) return Unsafe("amounts too large to audit");
      values[cell] = static_cast<std::int64_t>(v);
    }
    if (sums) {
      cost.resize(cell_count);
      for (std::size_t cell = 0; cell < cell_count; ++cell) {
        cost[cell] = acc[cell * stat_count + members.front()].units_a;
      }
    }
    std::optional<disclosure::TableStructure>& cube = cubes[sums ? 1 : 0];
    if (!cube.has_value()) {
      std::vector<disclosure::DimensionShape> shapes;
      int multi_valued = 0;
      for (std::size_t d = 0; d < dims.size(); ++d) {
        disclosure::DimensionShape shape;
        shape.codes = radix[d] - 1;
        shape.multi_valued = !sums && (dims[d].dim->multi_valued || dims[d].child->multi_valued);
        if (shape.multi_valued) ++multi_valued;
        if (dims[d].hierarchical) {
          for (std::size_t k = 0; k < shape.codes; ++k) {
            shape.parent.push_back(k < dims[d].n_child ? static_cast<int>(dims[d].up[k])
                                                       : disclosure::kRoot);
          }
        }
        shapes.push_back(std::move(shape));
      }
      // With two, the relations per dimension no longer describe every table the margins allow
      // (docs/disclosure-control.md §4.6): the audit could be optimistic.
      if (multi_valued > 1) {
        return Unsafe("two breakdowns in which one person can fall in several categories, with "
                      "withheld cells");
      }
      absl::StatusOr<disclosure::TableStructure> built = disclosure::BuildCube(shapes);
      if (!built.ok()) return Unsafe("the table is too large to audit");
      cube = *std::move(built);
    }
    if (!disclosure::CheckValues(*cube, values).ok()) {
      return Unsafe("units fall in several categories of a breakdown, so margins are not sums");
    }
    const bool integer = !disclosure::LpIsExact(*cube);
    if (integer && tools.integer.solver == nullptr) {
      return Unsafe("more than two breakdowns with withheld cells");
    }
    disclosure::ProtectOptions options;
    options.cost = std::move(cost);
    options.audit.integer = tools.integer;
    absl::StatusOr<disclosure::Protection> protection =
        disclosure::ProtectTable(*cube, values, primaries, *tools.solver, options);
    if (!protection.ok()) {
      if (absl::StrContains(protection.status().message(), "ran out of time")) {
        return Unsafe("checking the withheld cells took too long");
      }
      return Unsafe("withheld cells could be recomputed from the margins");
    }
    const std::string params = std::string(sums ? "sums" : "units") + "/flags=" +
                               std::to_string(table.second) +
                               (integer ? "/lp-audit+integer" : "/lp-audit");
    for (std::size_t cell = 0; cell < cell_count; ++cell) {
      if (!protection->suppressed[cell]) continue;
      for (std::size_t s : members) {
        disclosure::Decision& d = decisions[cell * stat_count + s];
        if (d.status == disclosure::CellStatus::kReleased) {
          d = disclosure::Decision{disclosure::CellStatus::kConfidential, "secondary", params};
        }
      }
    }
  }

  return absl::OkStatus();
}

}  // namespace enclave::core
