#include "enclave/core/dp_release.h"

#include <cstddef>
#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

#include "enclave/base/log.h"
#include "enclave/base/status_macros.h"
#include "enclave/disclosure/threshold.h"
#include "enclave/dp/noise.h"
#include "enclave/dp/selection.h"

namespace enclave::core {
namespace {

__extension__ using Int128 = __int128;

using templates::DpSettings;
using templates::StatisticKind;

// Noise components per inner cell and statistic: COUNT and SUM one, MEAN two (sum, then count).
int Components(StatisticKind kind) { return kind == StatisticKind::kMean ? 2 : 1; }

// Length-prefixed fields, so that no value can be mistaken for a separator.
void AppendField(std::string& out, std::string_view s) {
  out += std::to_string(s.size());
  out += ':';
  out.append(s.data(), s.size());
  out += '|';
}

// The identity of a release for free identical repeats (§7.6): template id, version and bytes,
// canonical parameters, data version and agreement.
std::string RepeatKey(const templates::BoundQuery& q, const std::string& data_version,
                      const std::string& agreement) {
  std::string key = "dp-repeat/1|";
  AppendField(key, q.tmpl->id);
  AppendField(key, std::to_string(q.tmpl->version));
  AppendField(key, q.tmpl->text_sha256);
  AppendField(key, q.CanonicalParams());
  AppendField(key, data_version);
  AppendField(key, agreement);
  return key;
}

// Stored answer: "dp-answer/1\n" then one line per cell in canonical order, "R<value>" or "C".
std::string EncodeAnswer(const Release& release) {
  std::string out = "dp-answer/1\n";
  for (const ReleasedCell& c : release.cells) {
    if (c.status == disclosure::CellStatus::kReleased && c.value.has_value()) {
      out += 'R';
      out += std::to_string(*c.value);
    } else {
      out += 'C';
    }
    out += '\n';
  }
  return out;
}

absl::Status DecodeAnswer(std::string_view text, Release& release) {
  const auto corrupt = [] {
    return absl::DataLossError("budget ledger: a stored answer does not match its template");
  };
  constexpr std::string_view kHeader = "dp-answer/1\n";
  if (text.substr(0, kHeader.size()) != kHeader) return corrupt();
  text.remove_prefix(kHeader.size());
  for (ReleasedCell& c : release.cells) {
    const std::size_t nl = text.find('\n');
    if (nl == std::string_view::npos || nl == 0) return corrupt();
    const std::string_view line = text.substr(0, nl);
    text.remove_prefix(nl + 1);
    if (line == "C") {
      c.status = disclosure::CellStatus::kConfidential;
      c.value.reset();
      continue;
    }
    if (line[0] != 'R' || line.size() < 2 || line.size() > 21) return corrupt();
    std::int64_t v = 0;
    bool negative = false;
    std::size_t i = 1;
    if (line[i] == '-') {
      negative = true;
      ++i;
    }
    if (i == line.size()) return corrupt();
    for (; i < line.size(); ++i) {
      if (line[i] < '0' || line[i] > '9') return corrupt();
      if (__builtin_mul_overflow(v, 10, &v) || __builtin_add_overflow(v, line[i] - '0', &v)) {
        return corrupt();
      }
    }
    c.status = disclosure::CellStatus::kReleased;
    c.value = negative ? -v : v;
  }
  if (!text.empty()) return corrupt();
  return absl::OkStatus();
}

// num / den rounded half away from zero; den != 0.
std::int64_t DivideRounded(Int128 num, Int128 den) {
  if (den < 0) {
    num = -num;
    den = -den;
  }
  const Int128 q = num >= 0 ? (2 * num + den) / (2 * den) : -((-2 * num + den) / (2 * den));
  if (q > INT64_MAX) return INT64_MAX;
  if (q < INT64_MIN) return INT64_MIN;
  return static_cast<std::int64_t>(q);
}

// The table's shape: the template's chosen dimensions, their codes plus a total each, and the
// inner cells (no total coordinate) that carry noise.
struct Shape {
  struct Dim {
    const templates::Dimension* dim = nullptr;
    std::size_t row_index = 0;  // in RowView::dimensions
    std::unordered_map<std::string_view, std::uint32_t> code_index;
  };
  std::vector<Dim> dims;
  std::size_t inner_cells = 1;
};

absl::StatusOr<Shape> MakeShape(const templates::BoundQuery& q) {
  constexpr std::size_t kMaxInnerCells = 100000;
  Shape shape;
  for (const templates::Dimension* d : q.dimensions) {
    Shape::Dim sd;
    sd.dim = d;
    bool found = false;
    for (std::size_t j = 0; j < q.tmpl->dimensions.size(); ++j) {
      if (&q.tmpl->dimensions[j] == d) {
        sd.row_index = j;
        found = true;
      }
    }
    if (!found || d == nullptr || d->codes.codes.empty()) {
      return absl::InternalError("template " + q.tmpl->id +
                                 ": a table dimension is not one of the template's");
    }
    for (std::size_t c = 0; c < d->codes.codes.size(); ++c) {
      sd.code_index.emplace(d->codes.codes[c].code, static_cast<std::uint32_t>(c));
    }
    shape.inner_cells *= d->codes.codes.size();
    if (shape.inner_cells > kMaxInnerCells) {
      return absl::InvalidArgumentError("template " + q.tmpl->id +
                                        ": too many cells for a differentially private table");
    }
    shape.dims.push_back(std::move(sd));
  }
  return shape;
}

// What one unit contributes to one inner cell, before bounding.
struct UnitCell {
  std::uint64_t flags = 0;  // OR over the unit's rows (bit i: flag column i)
  bool any_row = false;
  bool has_measure = false;
  std::int64_t measure = 0;  // sum over the unit's rows, saturating
};

// The noisy inner values of one statistic component, before post-processing.
struct Budget {
  dp::Mechanism mechanism = dp::Mechanism::kDiscreteLaplace;
  std::int64_t charged_micro = 0;   // ε ledger units
  std::int64_t component_micro = 0;  // ε or ρ split across components
  std::string treatment;
};

absl::StatusOr<Budget> BudgetOf(const DpSettings& dp) {
  Budget b;
  if (dp.mechanism == DpSettings::Mechanism::kDiscreteLaplace) {
    if (dp.epsilon_micro < 1) {
      return absl::InternalError("a differentially private template has no epsilon");
    }
    b.mechanism = dp::Mechanism::kDiscreteLaplace;
    b.charged_micro = dp.epsilon_micro;
    b.component_micro = dp.epsilon_micro;
    b.treatment = dp::TreatmentName(b.mechanism, dp.epsilon_micro);
  } else {
    ENCLAVE_ASSIGN_OR_RETURN(b.charged_micro, dp::EpsilonMicroForRho(dp.rho_micro));
    b.mechanism = dp::Mechanism::kDiscreteGaussian;
    b.component_micro = dp.rho_micro;
    b.treatment = dp::TreatmentName(b.mechanism, dp.rho_micro);
  }
  return b;
}

std::string Ledgers(const std::vector<LedgerLimit>& limits) {
  std::string out;
  for (const LedgerLimit& l : limits) {
    if (!out.empty()) out += ',';
    out += l.ledger;
  }
  return out;
}

// Per statistic: its flag column (or none), its first noise component and the noise of each.
struct StatPlan {
  StatisticKind kind = StatisticKind::kCount;
  int flag = -1;
  std::size_t first_component = 0;
  std::vector<dp::Noise> noise;  // one per component
};

// Everything a DP release fixes from the template alone, before any data: the budget and its
// split, the table's shape, the contribution bounds (§7.5), the cell selection of §7.7 and the
// noise of every statistic component.
struct DpPlan {
  Budget budget;
  Shape shape;
  dp::ContributionBounds bounds;
  bool select = false;  // cells not public (§7.7)
  std::int64_t tau = 0;
  dp::Noise selection_noise;
  std::int64_t charge = 0;  // micro-ε on every ledger, selection included
  std::vector<StatPlan> stats;
  std::size_t components = 0;
};

absl::StatusOr<DpPlan> PlanRelease(const templates::BoundQuery& q) {
  const templates::Template& t = *q.tmpl;
  const DpSettings& dps = *t.dp;
  DpPlan plan;
  ENCLAVE_ASSIGN_OR_RETURN(plan.budget, BudgetOf(dps));
  ENCLAVE_ASSIGN_OR_RETURN(plan.shape, MakeShape(q));
  plan.bounds = {dps.max_cells_per_unit, dps.clamp_min, dps.clamp_max};
  if (plan.bounds.max_cells_per_unit < 1 || plan.bounds.clamp_min > plan.bounds.clamp_max) {
    return absl::InternalError("template " + t.id + ": invalid contribution bounds");
  }
  plan.charge = plan.budget.charged_micro;
  // Cells not public (§7.7): τ and the selection noise are fixed by the template alone.
  plan.select = !dps.cells_public;
  if (plan.select) {
    absl::StatusOr<std::int64_t> threshold =
        dp::SelectionThreshold(dps.min_units, plan.bounds.max_cells_per_unit,
                               dps.selection_epsilon_micro, dps.delta_exponent);
    absl::StatusOr<dp::Noise> sn =
        dp::LaplaceForEpsilon(plan.bounds.max_cells_per_unit, dps.selection_epsilon_micro);
    if (!threshold.ok() || !sn.ok() || dps.selection_epsilon_micro > 1'000'000) {
      return absl::InternalError("template " + t.id + ": invalid cell-selection settings");
    }
    plan.tau = *threshold;
    plan.selection_noise = *sn;
    plan.charge += dps.selection_epsilon_micro;
  }
  std::int64_t parts = 0;
  for (const templates::Statistic& s : t.statistics) {
    if (s.kind != StatisticKind::kCount && s.kind != StatisticKind::kSum &&
        s.kind != StatisticKind::kMean) {
      return absl::InternalError("template " + t.id + ": DP releases only COUNT, SUM and MEAN");
    }
    parts += Components(s.kind);
  }
  std::size_t component = 0;
  for (const templates::Statistic& s : t.statistics) {
    StatPlan p;
    p.kind = s.kind;
    for (std::size_t f = 0; f < t.flag_columns.size(); ++f) {
      if (!s.flag.empty() && t.flag_columns[f] == s.flag) p.flag = static_cast<int>(f);
    }
    if ((!s.flag.empty() && p.flag < 0) || p.flag >= 64) {
      return absl::InternalError("template " + t.id +
                                 ": a statistic's flag is not one of the first 64 flag columns");
    }
    p.first_component = component;
    for (int k = 0; k < Components(s.kind); ++k, ++component) {
      const bool is_sum = s.kind == StatisticKind::kSum || (s.kind == StatisticKind::kMean && k == 0);
      const std::int64_t linf = is_sum ? dp::SumLinf(plan.bounds) : dp::CountLinf();
      ENCLAVE_ASSIGN_OR_RETURN(const std::int64_t part,
                               dp::SplitPart(plan.budget.component_micro, parts,
                                             static_cast<std::int64_t>(component)));
      if (plan.budget.mechanism == dp::Mechanism::kDiscreteLaplace) {
        ENCLAVE_ASSIGN_OR_RETURN(const std::int64_t l1,
                                 dp::L1Sensitivity(plan.bounds.max_cells_per_unit, linf));
        ENCLAVE_ASSIGN_OR_RETURN(dp::Noise n, dp::LaplaceForEpsilon(l1, part));
        p.noise.push_back(n);
      } else {
        ENCLAVE_ASSIGN_OR_RETURN(const std::int64_t l2sq,
                                 dp::L2SensitivitySquared(plan.bounds.max_cells_per_unit, linf));
        ENCLAVE_ASSIGN_OR_RETURN(dp::Noise n, dp::GaussianForRho(l2sq, part));
        p.noise.push_back(n);
      }
    }
    plan.stats.push_back(std::move(p));
  }
  plan.components = component;
  return plan;
}

// The release skeleton: dimensions with their totals, cells in canonical order, the DP
// treatment recorded for replay (§8).
Release Skeleton(const templates::BoundQuery& q, const DpPlan& plan, const std::string& data_version) {
  const templates::Template& t = *q.tmpl;
  const DpSettings& dps = *t.dp;
  Release release;
  release.tmpl = &t;
  release.params = q.params;
  release.data_version = data_version;
  release.rule_set = plan.budget.mechanism == dp::Mechanism::kDiscreteLaplace
                         ? "dp-discrete-laplace"
                         : "dp-discrete-gaussian";
  release.treatment = plan.budget.treatment;
  release.ptable = "none";
  release.rule_set_text = "dp/1 mechanism=" + release.rule_set +
                          " budget_micro=" + std::to_string(plan.budget.component_micro) +
                          " charged_epsilon_micro=" + std::to_string(plan.budget.charged_micro) +
                          " l0=" + std::to_string(plan.bounds.max_cells_per_unit) +
                          " clamp=" + std::to_string(plan.bounds.clamp_min) + ".." +
                          std::to_string(plan.bounds.clamp_max) +
                          " display_threshold=" + std::to_string(dps.display_threshold) +
                          " components=" + std::to_string(plan.components);
  if (plan.select) {
    release.rule_set_text += " cells_public=0 min_units=" + std::to_string(dps.min_units) +
                             " selection_epsilon_micro=" +
                             std::to_string(dps.selection_epsilon_micro) +
                             " delta_exponent=" + std::to_string(dps.delta_exponent) +
                             " tau=" + std::to_string(plan.tau);
  }
  std::vector<std::uint32_t> radix;
  for (const Shape::Dim& d : plan.shape.dims) {
    ReleasedDimension rd = ReleasedDimensionOf(*d.dim);
    radix.push_back(static_cast<std::uint32_t>(rd.codes.size()));
    release.dimensions.push_back(std::move(rd));
  }
  std::size_t all_cells = 1;
  for (std::uint32_t r : radix) all_cells *= r;
  std::vector<std::uint32_t> coords(radix.size(), 0);
  for (std::size_t i = 0; i < all_cells; ++i) {
    for (std::size_t s = 0; s < t.statistics.size(); ++s) {
      ReleasedCell cell;
      cell.coordinates = coords;
      cell.statistic = static_cast<std::uint32_t>(s);
      release.cells.push_back(std::move(cell));
    }
    for (std::size_t d = radix.size(); d-- > 0;) {
      if (++coords[d] < radix[d]) break;
      coords[d] = 0;
    }
  }
  return release;
}

// The kBudget entries of one request (reserved, refunded, charged, repeat).
class BudgetLog {
 public:
  BudgetLog(QueryLog& log, const DpRequest& request, const Release& release)
      : log_(log) {
    const templates::BoundQuery& q = *request.query;
    base_.type = QueryLogEntry::Type::kBudget;
    base_.request_id = request.request_id;
    base_.caller = request.caller;
    base_.role = request.role;
    base_.project = request.project + "/" + request.agreement;
    base_.rpc = "RunQuery";
    base_.template_id = q.tmpl->id;
    base_.template_version = q.tmpl->version;
    base_.template_sha256 = q.tmpl->text_sha256;
    base_.canonical_params = q.CanonicalParams();
    base_.rule_set = release.rule_set;
    base_.data_version = release.data_version;
  }
  absl::Status Write(const std::string& decision, const std::string& detail) {
    QueryLogEntry e = base_;
    e.decision = decision;
    e.detail = detail;
    return log_.Append(e);
  }

 private:
  QueryLog& log_;
  QueryLogEntry base_;
};

// Step 3: all noise first, independent of the data (run time must not depend on it): one draw
// per inner cell and statistic component, then one selection draw per inner cell (§7.7 only).
absl::Status DrawNoise(const DpPlan& plan, dp::RandomSource& random,
                       const DpReleaser::NoiseSampler& sampler, std::vector<std::int64_t>& noise,
                       std::vector<std::int64_t>& selection) {
  noise.assign(plan.shape.inner_cells * plan.components, 0);
  for (std::size_t cell = 0; cell < plan.shape.inner_cells; ++cell) {
    for (const StatPlan& p : plan.stats) {
      for (std::size_t k = 0; k < p.noise.size(); ++k) {
        ENCLAVE_ASSIGN_OR_RETURN(noise[cell * plan.components + p.first_component + k],
                                 sampler(random, p.noise[k]));
      }
    }
  }
  selection.assign(plan.select ? plan.shape.inner_cells : 0, 0);
  for (std::int64_t& z : selection) {
    ENCLAVE_ASSIGN_OR_RETURN(z, sampler(random, plan.selection_noise));
  }
  return absl::OkStatus();
}

// Each unit's contribution per inner cell, from its rows.
using UnitCells = std::unordered_map<std::string, std::map<std::uint32_t, UnitCell>>;

// Step 4: one pass over the template's unit-level rows.
absl::StatusOr<UnitCells> ScanUnits(const templates::BoundQuery& q, const Shape& shape,
                                    MicrodataSource& source, const Cancellation& cancel) {
  UnitCells units;
  ENCLAVE_RETURN_IF_ERROR(source.Scan(q, cancel, [&](const RowView& row) -> absl::Status {
    std::uint32_t inner = 0;
    for (const Shape::Dim& d : shape.dims) {
      if (d.row_index >= row.dimensions.size()) {
        return absl::InternalError("template " + q.tmpl->id + ": a row lacks a dimension");
      }
      auto it = d.code_index.find(row.dimensions[d.row_index]);
      if (it == d.code_index.end()) {
        return absl::InternalError("template " + q.tmpl->id +
                                   ": a row has a code outside dimension " + d.dim->name);
      }
      inner = inner * static_cast<std::uint32_t>(d.dim->codes.codes.size()) + it->second;
    }
    UnitCell& uc = units[std::string(row.unit)][inner];
    uc.any_row = true;
    for (std::size_t f = 0; f < row.flags.size() && f < 64; ++f) {
      if (row.flags[f] != 0) uc.flags |= std::uint64_t{1} << f;
    }
    if (row.measure.has_value()) {
      uc.has_measure = true;
      if (__builtin_add_overflow(uc.measure, *row.measure, &uc.measure)) {
        uc.measure = *row.measure > 0 ? INT64_MAX : INT64_MIN;
      }
    }
    return absl::OkStatus();
  }));
  return units;
}

// The noisy inner values and which inner cells are released (§7.7; all while cells are public).
struct NoisyInner {
  std::vector<Int128> values;  // inner cell * components + component
  std::vector<bool> selected;  // per inner cell
};

// Step 5: bound contributions (each unit keeps its first max_cells_per_unit inner cells in
// canonical order, a function of that unit's rows alone; measures clamped per unit and cell),
// add the noise, select cells. Nothing else of the raw counts leaves this function.
NoisyInner BoundAndNoise(const DpPlan& plan, const DpSettings& dps, const UnitCells& units,
                         const std::vector<std::int64_t>& noise,
                         const std::vector<std::int64_t>& selection) {
  std::vector<Int128> truth(plan.shape.inner_cells * plan.components, 0);
  std::vector<std::int64_t> raw_units(plan.select ? plan.shape.inner_cells : 0, 0);
  const auto l0 = static_cast<std::size_t>(plan.bounds.max_cells_per_unit);
  for (const auto& [unit, cells] : units) {
    std::size_t kept = 0;
    for (const auto& [inner, uc] : cells) {
      if (kept++ >= l0) break;
      if (plan.select) ++raw_units[inner];
      for (const StatPlan& p : plan.stats) {
        if (p.flag >= 0 && (uc.flags & (std::uint64_t{1} << p.flag)) == 0) continue;
        Int128* at = &truth[inner * plan.components + p.first_component];
        switch (p.kind) {
          case StatisticKind::kCount:
            at[0] += 1;
            break;
          case StatisticKind::kSum:
            if (uc.has_measure) at[0] += dp::Clamp(uc.measure, plan.bounds);
            break;
          case StatisticKind::kMean:
            if (uc.has_measure) {
              at[0] += dp::Clamp(uc.measure, plan.bounds);
              at[1] += 1;
            }
            break;
          default:
            break;
        }
      }
    }
  }
  NoisyInner out;
  out.values.resize(truth.size());
  for (std::size_t i = 0; i < truth.size(); ++i) out.values[i] = truth[i] + noise[i];
  // §7.7 selection of inner cells: raw units ≥ k and noisy units > τ.
  out.selected.assign(plan.shape.inner_cells, true);
  for (std::size_t i = 0; i < raw_units.size(); ++i) {
    std::int64_t noisy_units = 0;
    if (__builtin_add_overflow(raw_units[i], selection[i], &noisy_units)) {
      noisy_units = selection[i] > 0 ? INT64_MAX : INT64_MIN;
    }
    out.selected[i] = dp::Selected(raw_units[i], noisy_units, dps.min_units, plan.tau);
  }
  return out;
}

// Step 6: each released cell sums the noisy inner cells under it (margins are post-processing,
// no extra budget), then the display threshold and the statistic's precision.
void Assemble(const DpPlan& plan, const templates::Template& t, const NoisyInner& inner_values,
              Release& release) {
  const DpSettings& dps = *t.dp;
  std::vector<std::uint32_t> inner_radix;
  for (const Shape::Dim& d : plan.shape.dims) {
    inner_radix.push_back(static_cast<std::uint32_t>(d.dim->codes.codes.size()));
  }
  release.provenance.reserve(release.cells.size());
  for (ReleasedCell& cell : release.cells) {
    const StatPlan& p = plan.stats[cell.statistic];
    const templates::Statistic& stat = t.statistics[cell.statistic];
    bool derived = false;
    for (std::size_t d = 0; d < cell.coordinates.size(); ++d) {
      if (cell.coordinates[d] == inner_radix[d]) derived = true;
    }
    Int128 part[2] = {0, 0};
    bool all_selected = true;
    for (std::size_t inner = 0; inner < plan.shape.inner_cells; ++inner) {
      std::size_t rest = inner;
      bool under = true;
      for (std::size_t d = cell.coordinates.size(); d-- > 0;) {
        const std::size_t code = rest % inner_radix[d];
        rest /= inner_radix[d];
        if (cell.coordinates[d] != inner_radix[d] && cell.coordinates[d] != code) under = false;
      }
      if (!under) continue;
      all_selected = all_selected && inner_values.selected[inner];
      for (std::size_t k = 0; k < p.noise.size(); ++k) {
        part[k] += inner_values.values[inner * plan.components + p.first_component + k];
      }
    }
    if (!all_selected) {
      // Unselected (§7.7): confidential, with no value; a margin over one is too.
      cell.status = disclosure::CellStatus::kConfidential;
      cell.value.reset();
      release.provenance.push_back(CellProvenance{
          derived ? "dp-margin-of-unselected" : "dp-not-selected", plan.budget.treatment});
      continue;
    }
    std::string rule = derived ? "dp-derived" : "dp-noisy";
    std::optional<std::int64_t> value;
    switch (p.kind) {
      case StatisticKind::kCount:
        if (part[0] < dps.display_threshold) {
          rule = "dp-below-display-threshold";
        } else {
          value = disclosure::RoundToPrecision(DivideRounded(part[0], 1), stat.precision);
        }
        break;
      case StatisticKind::kSum:
        value = disclosure::RoundToPrecision(DivideRounded(part[0], 1), stat.precision);
        break;
      case StatisticKind::kMean:
        if (part[1] < dps.display_threshold || part[1] <= 0) {
          rule = "dp-below-display-threshold";
        } else {
          value = disclosure::RoundToPrecision(DivideRounded(part[0], part[1]), stat.precision);
        }
        break;
      default:
        break;
    }
    cell.status = value.has_value() ? disclosure::CellStatus::kReleased
                                    : disclosure::CellStatus::kConfidential;
    cell.value = value;
    release.provenance.push_back(CellProvenance{std::move(rule), plan.budget.treatment});
  }
}

}  // namespace

absl::StatusOr<std::int64_t> DpChargeMicro(const DpSettings& dp) {
  ENCLAVE_ASSIGN_OR_RETURN(const Budget budget, BudgetOf(dp));
  return budget.charged_micro + (dp.cells_public ? 0 : dp.selection_epsilon_micro);
}

DpReleaser::DpReleaser(std::shared_ptr<BudgetLedger> ledger,
                       std::shared_ptr<dp::RandomSource> random, std::shared_ptr<QueryLog> log,
                       NoiseSampler sampler)
    : ledger_(std::move(ledger)),
      random_(std::move(random)),
      log_(std::move(log)),
      sampler_(sampler != nullptr ? std::move(sampler) : NoiseSampler(dp::Sample)) {}

absl::StatusOr<std::vector<LedgerBalance>> DpReleaser::Balances(
    std::span<const LedgerLimit> limits) {
  if (ledger_ == nullptr) return absl::InternalError("DP releaser without a budget ledger");
  return ledger_->Balances(limits);
}

absl::StatusOr<DpOutcome> DpReleaser::Run(const DpRequest& request, MicrodataSource& source,
                                          const Cancellation& cancel) {
  if (ledger_ == nullptr || random_ == nullptr || log_ == nullptr) {
    return absl::InternalError("DP releaser without a ledger, randomness or query log");
  }
  if (request.query == nullptr || request.query->tmpl == nullptr ||
      !request.query->tmpl->dp.has_value()) {
    return absl::InternalError("DP release of a query without differential-privacy settings");
  }
  if (request.limits.empty()) {
    return absl::InternalError("DP release without budget ledgers");
  }
  const templates::BoundQuery& q = *request.query;
  const std::string data_version =
      request.data_version.empty() ? source.DataVersion() : request.data_version;
  if (data_version != source.DataVersion()) {
    return absl::InternalError("DP release: the request's data version is not the source's");
  }
  ENCLAVE_ASSIGN_OR_RETURN(const DpPlan plan, PlanRelease(q));
  Release release = Skeleton(q, plan, data_version);
  BudgetLog budget_log(*log_, request, release);
  const std::string ledgers = Ledgers(request.limits);

  // 1. An identical repeat is served from the stored answer, free.
  const std::string repeat_key = RepeatKey(q, data_version, request.agreement);
  ENCLAVE_ASSIGN_OR_RETURN(std::optional<std::string> stored, ledger_->FindAnswer(repeat_key));
  if (stored.has_value()) {
    ENCLAVE_RETURN_IF_ERROR(DecodeAnswer(*stored, release));
    release.provenance.assign(release.cells.size(), CellProvenance{"dp-repeat"});
    if (!budget_log.Write("repeat", "charge_micro=0 ledgers=" + ledgers + " stored_answer=1").ok()) {
      return absl::UnavailableError("query log unavailable: nothing is released");
    }
    return DpOutcome{std::move(release), 0, true};
  }
  if (cancel.Expired()) return absl::DeadlineExceededError("the query's deadline passed");

  // 2. Reserve on every ledger before any data is read.
  ENCLAVE_ASSIGN_OR_RETURN(const std::int64_t reservation,
                           ledger_->Reserve(request.limits, plan.charge, request.request_id));
  const std::string amounts = "reservation=" + std::to_string(reservation) +
                              " charge_micro=" + std::to_string(plan.charge) +
                              " ledgers=" + ledgers;
  // Before data is read, a failure gives the budget back.
  const auto refund = [&](absl::Status cause) -> absl::Status {
    if (absl::Status r = ledger_->Refund(reservation); !r.ok()) {
      base::LogError("dp_refund_failed", {{"code", r.code()}});
    } else if (absl::Status l = budget_log.Write("refunded", amounts); !l.ok()) {
      base::LogError("dp_refund_log_failed", {{"code", l.code()}});
    }
    return cause;
  };
  if (!budget_log.Write("reserved", amounts).ok()) {
    return refund(absl::UnavailableError("query log unavailable: nothing is released"));
  }

  // 3. All noise first, independent of the data.
  std::vector<std::int64_t> noise;
  std::vector<std::int64_t> selection;
  if (absl::Status drawn = DrawNoise(plan, *random_, sampler_, noise, selection); !drawn.ok()) {
    base::LogError("dp_noise_failed", {{"code", drawn.code()}});
    return refund(absl::UnavailableError(
        "the random generator failed: nothing is released and the budget is returned"));
  }

  // 4. Scan. From here on the charge stands, whatever happens.
  absl::StatusOr<UnitCells> units = ScanUnits(q, plan.shape, source, cancel);
  if (!units.ok()) {
    if (absl::Status c = ledger_->Charge(reservation, "", ""); !c.ok()) {
      base::LogError("dp_charge_failed", {{"code", c.code()}});
    } else if (absl::Status l = budget_log.Write("charged", amounts + " released=0"); !l.ok()) {
      base::LogError("dp_charge_log_failed", {{"code", l.code()}});
    }
    return units.status();
  }

  // 5-6. Bound contributions, add the noise, select cells; assemble the table.
  const NoisyInner inner = BoundAndNoise(plan, *q.tmpl->dp, *units, noise, selection);
  units->clear();
  Assemble(plan, *q.tmpl, inner, release);

  // 7. Charge durably, with the answer stored for identical repeats, and log it; only then return.
  if (absl::Status c = ledger_->Charge(reservation, repeat_key, EncodeAnswer(release)); !c.ok()) {
    base::LogError("dp_charge_failed", {{"code", c.code()}});
    return absl::UnavailableError("the budget ledger is unavailable: nothing is released");
  }
  if (!budget_log.Write("charged", amounts + " released=1").ok()) {
    return absl::UnavailableError("query log unavailable: nothing is released");
  }
  return DpOutcome{std::move(release), plan.charge, false};
}

}  // namespace enclave::core
