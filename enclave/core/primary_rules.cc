// Step 4 of disclosure-control.md §2: the primary rules (§3) on true values, per cell and statistic,
// with the groups of §3.4 (sensitive categories, attributes of a flag, structural zeros).
#include "enclave/core/internal/table.h"

namespace enclave::core {

TableBuilder::Impl::GroupPlan TableBuilder::Impl::PlanGroups() const {
  GroupPlan plan;
  const templates::DisclosureSettings& ds = tmpl->disclosure;
  plan.sensitive_code.resize(dims.size());
  for (std::size_t d = 0; d < dims.size(); ++d) {
    plan.sensitive_code[d].assign(radix[d] - 1, false);
    for (const templates::SensitiveCategory& c : ds.sensitive) {
      if (!c.flag.empty()) continue;
      for (std::size_t k = 0; k + 1 < radix[d]; ++k) {
        const auto [dim, index] = dims[d].CodeAt(k);
        if (dim->name == c.dimension && dim->codes.codes[index].code == c.code) {
          plan.sensitive_code[d][k] = true;
        }
      }
    }
  }
  plan.sensitive_stat.assign(stats.size(), false);
  for (std::size_t s = 0; s < stats.size() && s < tmpl->statistics.size(); ++s) {
    const std::string& flag = tmpl->statistics[s].flag;
    for (const templates::SensitiveCategory& c : ds.sensitive) {
      if (!flag.empty() && c.flag == flag) plan.sensitive_stat[s] = true;
    }
  }
  for (const templates::StructuralZero& z : ds.structural_zeros) {
    ZeroPlan zp;
    bool complete = !z.codes.empty();
    for (const auto& [dimension, code] : z.codes) {
      bool found = false;
      for (std::size_t d = 0; d < dims.size() && !found; ++d) {
        for (std::size_t k = 0; k + 1 < radix[d]; ++k) {
          const auto [dim, index] = dims[d].CodeAt(k);
          if (dim->name == dimension && dim->codes.codes[index].code == code) {
            zp.coords.emplace_back(d, k);
            found = true;
            break;
          }
        }
      }
      complete = complete && found;
    }
    if (complete) plan.zeros.push_back(std::move(zp));
  }
  for (const templates::SensitiveDimension& a : ds.sensitive_dimensions) {
    if (a.flag.empty()) continue;
    std::uint64_t mask = 0;
    for (std::size_t f = 0; f < tmpl->flag_columns.size(); ++f) {
      if (tmpl->flag_columns[f] == a.flag) mask = std::uint64_t{1} << f;
    }
    for (std::size_t d = 0; d < dims.size() && mask != 0; ++d) {
      if (dims[d].dim->name != a.dimension || dims[d].hierarchical) continue;
      for (std::size_t k = 0; k + 1 < radix[d]; ++k) {
        if (dims[d].dim->codes.codes[k].code == a.none_code) {
          plan.attributes.push_back({d, mask, static_cast<std::uint32_t>(k)});
        }
      }
    }
  }
  return plan;
}

TableBuilder::Impl::AttributeCell TableBuilder::Impl::OnAttributes(
    const GroupPlan& plan, std::uint64_t flag_mask, std::size_t cell,
    const std::vector<std::size_t>& coords, std::size_t* group) const {
  AttributeCell where = AttributeCell::kNone;
  std::size_t g = cell;
  for (const AttributeDim& a : plan.attributes) {
    if (a.flag_mask != flag_mask) continue;
    const std::size_t total = radix[a.dim] - 1;
    if (coords[a.dim] == total) continue;
    if (coords[a.dim] == a.none_coord) return AttributeCell::kAbsent;
    where = AttributeCell::kCategory;
    g += (total - coords[a.dim]) * strides[a.dim];
  }
  if (group != nullptr) *group = g;
  return where;
}

std::vector<disclosure::GroupFacts> TableBuilder::Impl::CellGroups(
    const GroupPlan& plan, std::size_t s, std::size_t cell,
    const std::vector<std::size_t>& coords) const {
  std::vector<disclosure::GroupFacts> out;
  const std::size_t stat_count = stats.size();
  const std::int64_t units = acc[cell * stat_count + s].units_a;
  bool structural = false;
  for (const ZeroPlan& z : plan.zeros) {
    bool match = true;
    for (const auto& [d, k] : z.coords) match = match && coords[d] == k;
    structural = structural || match;
  }
  for (std::size_t d = 0; d < dims.size(); ++d) {
    const std::size_t total = radix[d] - 1;
    if (coords[d] == total || !plan.sensitive_code[d][coords[d]]) continue;
    const std::size_t group = cell + (total - coords[d]) * strides[d];
    out.push_back(disclosure::GroupFacts{acc[group * stat_count + s].units_a, units, true, structural});
  }
  std::size_t group = cell;
  const AttributeCell on = OnAttributes(plan, stats[s].flag_mask, cell, coords, &group);
  if (on == AttributeCell::kAbsent) {
    // The flag's none code: nobody there has the flag, by definition (a structural zero).
    out.push_back(disclosure::GroupFacts{units, units, false, true});
    return out;
  }
  if (plan.sensitive_stat[s]) {
    // A category of an attribute of the flag is all-flagged by definition; its group is the cell
    // without the attribute breakdown (all units there), as for a sensitive code (§3.4).
    out.push_back(disclosure::GroupFacts{cell_units[group], units, true, structural});
  }
  if (out.empty() && structural) {
    out.push_back(disclosure::GroupFacts{units, units, false, true});
  }
  return out;
}

void TableBuilder::Impl::PrimaryRules(Pipeline& p) {
  const disclosure::RuleSetParams& rules = *p.rules;
  const std::size_t stat_count = stats.size();
  const std::size_t cells = cell_count * stat_count;
  // Step 4: primary rules on true values. Sensitive categories and structural zeros (§3.4) are
  // resolved against this table's dimensions first.
  const GroupPlan groups = PlanGroups();
  std::vector<std::size_t> coords_of(dims.size(), 0);
  p.decisions.assign(cells, disclosure::Decision{});
  p.requirement.assign(cells, disclosure::ProtectionRequirement{});
  p.primary.assign(cells, false);
  p.quantile.assign(cells, 0);
  std::vector<disclosure::Decision>& decisions = p.decisions;
  std::vector<disclosure::ProtectionRequirement>& requirement = p.requirement;
  std::vector<bool>& primary = p.primary;
  std::vector<std::int64_t>& quantile = p.quantile;
  // A template that declares the entity its thresholds count (T10: R5's enterprises, be_id)
  // counts the distinct holdings contributing to a magnitude, not its units: ten vestigingen of
  // three enterprises are three (disclosure-control.md §3.1).
  const bool count_entities = !tmpl->disclosure.threshold_entity.empty();
  auto facts_of = [count_entities](std::int64_t units, const MagnitudePart& part) {
    disclosure::MagnitudeFacts f = Facts(units, part);
    if (count_entities) f.units = f.holdings;
    return f;
  };
  for (std::size_t cell = 0; cell < cell_count; ++cell) {
    for (std::size_t s = 0; s < stat_count; ++s) {
      const std::size_t i = cell * stat_count + s;
      const StatPlan& plan = stats[s];
      Accumulator& a = acc[i];
      disclosure::Decision& d = decisions[i];
      switch (plan.kind) {
        case StatisticKind::kCount: {
          for (std::size_t dd = 0; dd < dims.size(); ++dd) {
            coords_of[dd] = (cell / strides[dd]) % radix[dd];
          }
          std::vector<disclosure::GroupFacts> facts = CellGroups(groups, s, cell, coords_of);
          if (facts.empty()) {
            d = disclosure::CountDecision(rules, a.units_a, nullptr);
            if (d.status != disclosure::CellStatus::kReleased && a.units_a > 0) {
              primary[i] = true;
              requirement[i] = disclosure::ThresholdProtection(rules, false);
            }
            break;
          }
          // Every group's decision; the first that withholds decides, and the audit must satisfy
          // the requirements of all that withhold.
          bool sensitive = false;
          for (const disclosure::GroupFacts& g : facts) sensitive = sensitive || g.sensitive;
          std::optional<disclosure::ProtectionRequirement> need;
          d = disclosure::Decision{};
          bool decided = false;
          for (const disclosure::GroupFacts& g : facts) {
            disclosure::Decision gd = disclosure::CountDecision(rules, a.units_a, &g);
            if (gd.status == disclosure::CellStatus::kReleased) {
              if (!decided && d.rule.empty()) d = gd;
              continue;
            }
            if (!decided) {
              d = gd;
              decided = true;
            }
            disclosure::ProtectionRequirement r;
            if (gd.rule == "group" || gd.rule == "sensitive-zero") {
              r = disclosure::GroupProtection(rules, g);
            } else if (gd.rule == "threshold") {
              r = disclosure::ThresholdProtection(rules, sensitive);
            } else {
              continue;  // "empty": nothing to protect
            }
            need = need.has_value() ? disclosure::Combine(*need, r) : r;
          }
          if (d.status != disclosure::CellStatus::kReleased && need.has_value()) {
            primary[i] = true;
            requirement[i] = *need;
          }
          break;
        }
        case StatisticKind::kSum:
        case StatisticKind::kMean: {
          const disclosure::MagnitudeFacts facts = facts_of(a.units_a, a.mag_a);
          if (a.units_a == 0) {
            d = disclosure::ThresholdRule(rules, 0);  // "empty"
          } else if (plan.kind == StatisticKind::kSum) {
            d = disclosure::MagnitudeDecision(rules, facts);
          } else {
            disclosure::AverageDecision avg = disclosure::MeanOrMedian(rules, facts);
            d = std::move(avg.mean);
            if (avg.release != disclosure::AverageRelease::kMean &&
                d.status == disclosure::CellStatus::kReleased) {
              d = disclosure::Decision{disclosure::CellStatus::kConfidential, "mean-withheld"};
            }
          }
          if (d.status != disclosure::CellStatus::kReleased && a.units_a > 0) {
            primary[i] = true;
            requirement[i] = disclosure::MagnitudeProtection(rules, facts);
          }
          break;
        }
        case StatisticKind::kQuantile:
          d = a.units_a == 0 ? disclosure::ThresholdRule(rules, 0)
                             : disclosure::QuantileDecision(rules, a.units_a, plan.permille);
          if (d.status == disclosure::CellStatus::kReleased) {
            std::vector<std::int64_t>& values =
                quantile_values[static_cast<std::size_t>(plan.quantile_slot)][cell];
            const Int128 n = static_cast<Int128>(values.size());
            Int128 rank = (n * plan.permille + 999) / 1000;  // ceil(n * p), 1-based
            if (rank < 1) rank = 1;
            if (rank > n) rank = n;
            auto kth = values.begin() + static_cast<std::ptrdiff_t>(rank - 1);
            std::nth_element(values.begin(), kth, values.end());
            quantile[i] = *kth;
          }
          break;
        case StatisticKind::kShare:
        case StatisticKind::kRelativeRisk: {  // decided as its share; the reference in assembly
          for (std::size_t dd = 0; dd < dims.size(); ++dd) {
            coords_of[dd] = (cell / strides[dd]) % radix[dd];
          }
          const AttributeCell on = OnAttributes(groups, plan.flag_mask, cell, coords_of, nullptr);
          if (on == AttributeCell::kAbsent && a.units_a == 0) {
            d = disclosure::Decision{disclosure::CellStatus::kReleased, "structural-zero", ""};
            break;
          }
          // On a category of an attribute of the flag the share is 100% by definition: the
          // group rule is the count's, against the cell without the attribute breakdown.
          const bool sensitive = groups.sensitive_stat[s] && on == AttributeCell::kNone;
          d = disclosure::ShareDecision(rules, a.units_a, a.units_b, sensitive);
          if (d.status == disclosure::CellStatus::kReleased) break;
          if (d.rule == "group" || d.rule == "sensitive-zero") {
            primary[i] = true;
            requirement[i] = disclosure::GroupProtection(
                rules, disclosure::GroupFacts{a.units_b, a.units_a, true, false});
          } else if (a.units_a > 0 && a.units_a < rules.min_units) {
            // A small numerator must not be recomputable from the table's margins. A share
            // withheld only for its denominator (< min_share_denominator) or its complement
            // (< T units without the flag) hides the percentage; its numerator of at least T units
            // is publishable and its cell is not a primary of the audit.
            primary[i] = true;
            requirement[i] = disclosure::ThresholdProtection(rules, sensitive);
          }
          break;
        }
        case StatisticKind::kShareDifference:
          // Decided with its shares after secondary suppression (TieComparisons).
          d = disclosure::Decision{disclosure::CellStatus::kReleased, "released", ""};
          break;
        case StatisticKind::kRatio:
          d = disclosure::RatioDecision(rules, facts_of(a.units_a, a.mag_a),
                                        facts_of(a.units_b, a.mag_b));
          if (d.status == disclosure::CellStatus::kReleased && a.sum_b == 0) {
            d = disclosure::Decision{disclosure::CellStatus::kConfidential, "undefined"};
          }
          break;
      }
    }
  }

}

}  // namespace enclave::core
