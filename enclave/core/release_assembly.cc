// The disclosure pipeline in order (Disclose), the release's skeleton and count treatment, and steps
// 7-9 of disclosure-control.md §2: perturb released cells, derive means and percentages from
// released parts, assemble in canonical order.
#include "enclave/core/internal/table.h"
#include "enclave/disclosure/comparison.h"

namespace enclave::core {

// The disclosure pipeline of disclosure-control.md §2 on the aggregated table, in order. (Step 5,
// the differencing guard and decomposition quota, runs in QueryService on `populations`.)
absl::StatusOr<Release> TableBuilder::Impl::Disclose(const DisclosureTools& tools,
                                                     const std::string& data_version) {
  Pipeline p;
  p.tools = &tools;
  p.rules = tools.rules;
  ENCLAVE_RETURN_IF_ERROR(StartRelease(p, data_version));
  PrimaryRules(p);
  ENCLAVE_RETURN_IF_ERROR(SecondarySuppression(p));
  TieComparisons(p);
  ENCLAVE_RETURN_IF_ERROR(PerturbAndAssemble(p));
  return std::move(p.release);
}

absl::Status TableBuilder::Impl::StartRelease(Pipeline& p, const std::string& data_version) {
  const disclosure::RuleSetParams& rules = *p.rules;
  Release& release = p.release;
  std::optional<disclosure::Ptable>& rounding = p.rounding;
  const disclosure::Ptable*& count_table = p.count_table;
  release.tmpl = tmpl;
  release.params = query->params;
  release.data_version = data_version;
  release.rule_set = disclosure::Tag(rules);
  release.rule_set_text = disclosure::CanonicalText(rules);
  for (const DimLookup& lookup : dims) release.dimensions.push_back(ReleasedDimensionOf(*lookup.dim));

  // The one count treatment of the rule set (§5.5: never stack CKM and rounding).
  switch (rules.count_perturbation) {
    case disclosure::CountPerturbation::kNone:
      release.treatment = "EXACT";
      release.ptable = "none";
      break;
    case disclosure::CountPerturbation::kRandomRounding:
      if (rules.rounding_base < 2 || rules.rounding_base > 1000) {
        return absl::InternalError("rule set " + release.rule_set + ": rounding base out of range");
      }
      rounding = disclosure::RandomRoundingPtable(rules.rounding_base);
      count_table = &*rounding;
      release.treatment = "ROUNDED_" + std::to_string(rules.rounding_base);
      break;
    case disclosure::CountPerturbation::kPtable: {
      const disclosure::Ptable& t = disclosure::PtableD3V1Js2();
      if (rules.ptable_max_deviation != t.spec().max_deviation || rules.ptable_js != t.spec().js ||
          rules.ptable_variance_permille != 1000) {
        return absl::InternalError("rule set " + release.rule_set +
                                   ": no perturbation table is built for its parameters");
      }
      count_table = &t;
      release.treatment = "CKM";
      break;
    }
  }
  if (count_table != nullptr) {
    release.ptable = count_table->id() + "@" + std::to_string(count_table->version());
  }

  return absl::OkStatus();
}

void TableBuilder::Impl::TieComparisons(Pipeline& p) {
  const std::size_t stat_count = stats.size();
  for (std::size_t s = 0; s < stat_count; ++s) {
    const StatPlan& plan = stats[s];
    if (plan.kind != StatisticKind::kShareDifference) continue;
    // The comparison: both shares, every SHARE_DIFFERENCE over the same pair, and the COUNTs of
    // either share's denominator flag (the arm sizes).
    const std::uint64_t arm_a = stats[static_cast<std::size_t>(plan.minuend)].den_mask;
    const std::uint64_t arm_b = stats[static_cast<std::size_t>(plan.subtrahend)].den_mask;
    std::vector<std::size_t> members;
    for (std::size_t k = 0; k < stat_count; ++k) {
      const StatPlan& o = stats[k];
      const bool same_pair = o.kind == StatisticKind::kShareDifference &&
                             o.minuend == plan.minuend && o.subtrahend == plan.subtrahend;
      const bool share = static_cast<int>(k) == plan.minuend || static_cast<int>(k) == plan.subtrahend;
      const bool arm = o.kind == StatisticKind::kCount && (o.flag_mask == arm_a || o.flag_mask == arm_b);
      if (same_pair || share || arm) members.push_back(k);
    }
    for (std::size_t cell = 0; cell < cell_count; ++cell) {
      bool all = true;
      for (std::size_t k : members) {
        all = all && p.decisions[cell * stat_count + k].status == disclosure::CellStatus::kReleased;
      }
      if (all) continue;
      for (std::size_t k : members) {
        disclosure::Decision& d = p.decisions[cell * stat_count + k];
        if (d.status == disclosure::CellStatus::kReleased) {
          d = disclosure::Decision{disclosure::CellStatus::kConfidential, "comparison", ""};
        }
      }
    }
  }
}

absl::Status TableBuilder::Impl::PerturbAndAssemble(Pipeline& p) {
  const DisclosureTools& tools = *p.tools;
  const disclosure::RuleSetParams& rules = *p.rules;
  Release& release = p.release;
  const disclosure::Ptable* count_table = p.count_table;
  const std::size_t stat_count = stats.size();
  const std::size_t cells = cell_count * stat_count;
  std::vector<disclosure::Decision>& decisions = p.decisions;
  std::vector<std::int64_t>& quantile = p.quantile;
  // Steps 7-9: perturb released cells (cell keys over the units of each statistic), derive means
  // and percentages from released parts, assemble in canonical order.
  const std::string variable = tmpl->measure_column.empty() ? "measure" : tmpl->measure_column;
  auto released_count = [&](std::int64_t n, std::uint32_t key) {
    return count_table != nullptr ? count_table->Perturb(n, key) : n;
  };
  auto perturb_sum = [&](Int128 sum, const MagnitudePart& part, std::uint32_t key,
                         std::int64_t precision) {
    const std::vector<std::int64_t> largest(part.top.v.begin(),
                                            part.top.v.begin() + std::min<std::uint32_t>(part.top.n, 2));
    return disclosure::PerturbMagnitude(Saturate(sum), largest, key, variable, tools.magnitude,
                                        tools.magnitude_key, precision);
  };
  std::vector<std::optional<disclosure::Ptable>> stat_rounding(stat_count);
  release.cells.reserve(cells);
  release.provenance.reserve(cells);
  std::vector<std::uint32_t> coords(dims.size(), 0);
  for (std::size_t cell = 0; cell < cell_count; ++cell) {
    // Only the requested level of a hierarchy (and its total) is released.
    bool dropped = false;
    for (std::size_t d = 0; d < dims.size(); ++d) {
      coords[d] = dims[d].released[(cell / strides[d]) % radix[d]];
      dropped = dropped || coords[d] == kDropped;
    }
    if (dropped) continue;
    for (std::size_t s = 0; s < stat_count; ++s) {
      const std::size_t i = cell * stat_count + s;
      const StatPlan& plan = stats[s];
      const Accumulator& a = acc[i];
      disclosure::Decision& d = decisions[i];
      std::optional<std::int64_t> value;
      bool reference_withheld = false;  // RELATIVE_RISK: its reference share is withheld
      if (d.status == disclosure::CellStatus::kReleased) {
        switch (plan.kind) {
          case StatisticKind::kCount: {
            const disclosure::Ptable* table = count_table;
            if (rules.count_perturbation == disclosure::CountPerturbation::kRandomRounding &&
                plan.precision > 1) {
              // A coarser template precision is the rounding base itself: one treatment.
              if (!stat_rounding[s].has_value()) {
                const std::int64_t base = std::lcm(rules.rounding_base, plan.precision);
                if (base > 1000) return absl::InternalError("count precision too coarse");
                stat_rounding[s] = disclosure::RandomRoundingPtable(base);
              }
              table = &*stat_rounding[s];
            }
            value = table != nullptr ? disclosure::PerturbCount(a.units_a, a.key_a, *table)
                                     : disclosure::RoundToPrecision(a.units_a, plan.precision);
            break;
          }
          case StatisticKind::kSum:
            value = perturb_sum(a.sum_a, a.mag_a, a.key_a, plan.magnitude_precision).released;
            break;
          case StatisticKind::kMean: {
            const disclosure::PerturbedMagnitude x =
                perturb_sum(a.sum_a, a.mag_a, a.key_a, plan.magnitude_precision);
            value = disclosure::DerivedMean(x.perturbed, released_count(a.units_a, a.key_a),
                                            plan.magnitude_precision);
            break;
          }
          case StatisticKind::kQuantile:
            value = disclosure::RoundToPrecision(quantile[i], plan.magnitude_precision);
            break;
          case StatisticKind::kShare: {
            // Per 100 or per 1,000 of the released (perturbed) counts, never of true counts.
            const std::int64_t num = released_count(a.units_a, a.key_a);
            const std::int64_t den = released_count(a.units_b, a.key_b);
            if (den > 0) {
              value = RoundRational(static_cast<Int128>(num) * plan.per, den, plan.precision);
            }
            break;
          }
          case StatisticKind::kShareDifference: {
            // From the same released counts as the two percentages (§3.6a).
            const Accumulator& x = acc[cell * stat_count + static_cast<std::size_t>(plan.minuend)];
            const Accumulator& y = acc[cell * stat_count + static_cast<std::size_t>(plan.subtrahend)];
            const std::optional<disclosure::ShareDifference> diff = disclosure::ShareDifferenceInterval(
                {released_count(x.units_a, x.key_a), released_count(x.units_b, x.key_b)},
                {released_count(y.units_a, y.key_a), released_count(y.units_b, y.key_b)},
                plan.precision);
            if (diff.has_value()) {
              value = plan.bound == templates::DifferenceBound::kLower95   ? diff->lower
                      : plan.bound == templates::DifferenceBound::kUpper95 ? diff->upper
                                                                           : diff->estimate;
            }
            break;
          }
          case StatisticKind::kRatio: {
            const std::int64_t num = perturb_sum(a.sum_a, a.mag_a, a.key_a, 1).perturbed;
            const std::int64_t den = perturb_sum(a.sum_b, a.mag_b, a.key_b, 1).perturbed;
            if (den != 0) value = RoundRational(static_cast<Int128>(num) * 100, den, plan.precision);
            break;
          }
          case StatisticKind::kRelativeRisk: {
            // (num / den) / (num_ref / den_ref) from the perturbed counts both shares are derived
            // from, never from true counts; the reference is this cell with the reference
            // dimensions at their total. Its decision is final (secondary suppression ran): a
            // withheld reference share withholds the relative risk.
            std::size_t ref = cell;
            for (std::size_t rd : plan.reference_dims) {
              const std::size_t k = (cell / strides[rd]) % radix[rd];
              ref += (radix[rd] - 1 - k) * strides[rd];
            }
            const std::size_t ri = ref * stat_count + s;
            if (decisions[ri].status != disclosure::CellStatus::kReleased) {
              reference_withheld = true;
              break;
            }
            const Accumulator& b = acc[ri];
            const std::int64_t num = released_count(a.units_a, a.key_a);
            const std::int64_t den = released_count(a.units_b, a.key_b);
            const std::int64_t num_ref = released_count(b.units_a, b.key_a);
            const std::int64_t den_ref = released_count(b.units_b, b.key_b);
            if (num >= 0 && den > 0 && num_ref > 0 && den_ref > 0) {
              value = RoundRational(static_cast<Int128>(num) * den_ref * 100,
                                    static_cast<Int128>(den) * num_ref, plan.precision);
            }
            break;
          }
        }
        if (!value.has_value()) {
          d = disclosure::Decision{disclosure::CellStatus::kConfidential,
                                   reference_withheld ? "relative-risk-reference"
                                                      : "derived-undefined"};
        }
      }
      ReleasedCell out;
      out.coordinates = coords;
      out.statistic = static_cast<std::uint32_t>(s);
      out.status = d.status;
      if (d.status == disclosure::CellStatus::kReleased) out.value = value;
      release.cells.push_back(std::move(out));
      release.provenance.push_back(CellProvenance{std::move(d.rule), SafeParams(std::move(d.params))});
    }
  }
  return absl::OkStatus();
}

}  // namespace enclave::core
