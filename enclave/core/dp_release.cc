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
  const templates::Template& t = *q.tmpl;
  const DpSettings& dps = *t.dp;
  const std::string data_version =
      request.data_version.empty() ? source.DataVersion() : request.data_version;
  if (data_version != source.DataVersion()) {
    return absl::InternalError("DP release: the request's data version is not the source's");
  }
  ENCLAVE_ASSIGN_OR_RETURN(const Budget budget, BudgetOf(dps));
  ENCLAVE_ASSIGN_OR_RETURN(Shape shape, MakeShape(q));
  const dp::ContributionBounds bounds{dps.max_cells_per_unit, dps.clamp_min, dps.clamp_max};
  if (bounds.max_cells_per_unit < 1 || bounds.clamp_min > bounds.clamp_max) {
    return absl::InternalError("template " + t.id + ": invalid contribution bounds");
  }
  // Cells not public (§7.7): τ and the selection noise are fixed by the template alone.
  const bool select = !dps.cells_public;
  std::int64_t tau = 0;
  dp::Noise selection_noise;
  std::int64_t charge = budget.charged_micro;
  if (select) {
    absl::StatusOr<std::int64_t> threshold = dp::SelectionThreshold(
        dps.min_units, bounds.max_cells_per_unit, dps.selection_epsilon_micro, dps.delta_exponent);
    absl::StatusOr<dp::Noise> sn =
        dp::LaplaceForEpsilon(bounds.max_cells_per_unit, dps.selection_epsilon_micro);
    if (!threshold.ok() || !sn.ok() || dps.selection_epsilon_micro > 1'000'000) {
      return absl::InternalError("template " + t.id + ": invalid cell-selection settings");
    }
    tau = *threshold;
    selection_noise = *sn;
    charge += dps.selection_epsilon_micro;
  }

  // Per statistic: its flag column (or none), its first component and its noise parameters.
  struct StatPlan {
    StatisticKind kind = StatisticKind::kCount;
    int flag = -1;
    std::size_t first_component = 0;
    std::vector<dp::Noise> noise;  // one per component
  };
  std::vector<StatPlan> plans;
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
      const std::int64_t linf = is_sum ? dp::SumLinf(bounds) : dp::CountLinf();
      ENCLAVE_ASSIGN_OR_RETURN(
          const std::int64_t part,
          dp::SplitPart(budget.component_micro, parts, static_cast<std::int64_t>(component)));
      if (budget.mechanism == dp::Mechanism::kDiscreteLaplace) {
        ENCLAVE_ASSIGN_OR_RETURN(const std::int64_t l1,
                                 dp::L1Sensitivity(bounds.max_cells_per_unit, linf));
        ENCLAVE_ASSIGN_OR_RETURN(dp::Noise n, dp::LaplaceForEpsilon(l1, part));
        p.noise.push_back(n);
      } else {
        ENCLAVE_ASSIGN_OR_RETURN(const std::int64_t l2sq,
                                 dp::L2SensitivitySquared(bounds.max_cells_per_unit, linf));
        ENCLAVE_ASSIGN_OR_RETURN(dp::Noise n, dp::GaussianForRho(l2sq, part));
        p.noise.push_back(n);
      }
    }
    plans.push_back(std::move(p));
  }
  const std::size_t components = component;

  // The release skeleton: dimensions with their totals, cells in canonical order.
  Release release;
  release.tmpl = &t;
  release.params = q.params;
  release.data_version = data_version;
  release.rule_set = budget.mechanism == dp::Mechanism::kDiscreteLaplace ? "dp-discrete-laplace"
                                                                         : "dp-discrete-gaussian";
  release.treatment = budget.treatment;
  release.ptable = "none";
  release.rule_set_text = "dp/1 mechanism=" + release.rule_set +
                          " budget_micro=" + std::to_string(budget.component_micro) +
                          " charged_epsilon_micro=" + std::to_string(budget.charged_micro) +
                          " l0=" + std::to_string(bounds.max_cells_per_unit) +
                          " clamp=" + std::to_string(bounds.clamp_min) + ".." +
                          std::to_string(bounds.clamp_max) +
                          " display_threshold=" + std::to_string(dps.display_threshold) +
                          " components=" + std::to_string(components);
  if (select) {
    release.rule_set_text += " cells_public=0 min_units=" + std::to_string(dps.min_units) +
                             " selection_epsilon_micro=" +
                             std::to_string(dps.selection_epsilon_micro) +
                             " delta_exponent=" + std::to_string(dps.delta_exponent) +
                             " tau=" + std::to_string(tau);
  }
  std::vector<std::uint32_t> radix;
  for (const Shape::Dim& d : shape.dims) {
    ReleasedDimension rd;
    rd.name = d.dim->name;
    rd.label = d.dim->label;
    for (const templates::Code& code : d.dim->codes.codes) {
      rd.codes.push_back(ReleasedCode{code.code, code.label, false});
    }
    rd.codes.push_back(ReleasedCode{"total", {"Totaal", "Total"}, true});
    radix.push_back(static_cast<std::uint32_t>(rd.codes.size()));
    release.dimensions.push_back(std::move(rd));
  }
  std::size_t all_cells = 1;
  for (std::uint32_t r : radix) all_cells *= r;
  {
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
  }

  QueryLogEntry base_entry;
  base_entry.type = QueryLogEntry::Type::kBudget;
  base_entry.request_id = request.request_id;
  base_entry.caller = request.caller;
  base_entry.role = request.role;
  base_entry.project = request.project + "/" + request.agreement;
  base_entry.rpc = "RunQuery";
  base_entry.template_id = t.id;
  base_entry.template_version = t.version;
  base_entry.template_sha256 = t.text_sha256;
  base_entry.canonical_params = q.CanonicalParams();
  base_entry.rule_set = release.rule_set;
  base_entry.data_version = data_version;
  const std::string ledgers = Ledgers(request.limits);
  const auto log_budget = [&](const std::string& decision, const std::string& detail) {
    QueryLogEntry e = base_entry;
    e.decision = decision;
    e.detail = detail;
    return log_->Append(e);
  };

  // 1. An identical repeat is served from the stored answer, free.
  const std::string repeat_key = RepeatKey(q, data_version, request.agreement);
  ENCLAVE_ASSIGN_OR_RETURN(std::optional<std::string> stored, ledger_->FindAnswer(repeat_key));
  if (stored.has_value()) {
    ENCLAVE_RETURN_IF_ERROR(DecodeAnswer(*stored, release));
    release.provenance.assign(release.cells.size(), CellProvenance{"dp-repeat"});
    if (absl::Status s = log_budget("repeat", "charge_micro=0 ledgers=" + ledgers +
                                                  " stored_answer=1");
        !s.ok()) {
      return absl::UnavailableError("query log unavailable: nothing is released");
    }
    return DpOutcome{std::move(release), 0, true};
  }
  if (cancel.Expired()) return absl::DeadlineExceededError("the query's deadline passed");

  // 2. Reserve on every ledger before any data is read.
  ENCLAVE_ASSIGN_OR_RETURN(const std::int64_t reservation,
                           ledger_->Reserve(request.limits, charge, request.request_id));
  const std::string amounts = "reservation=" + std::to_string(reservation) +
                              " charge_micro=" + std::to_string(charge) +
                              " ledgers=" + ledgers;
  // Before data is read, a failure gives the budget back.
  const auto refund = [&](absl::Status cause) -> absl::Status {
    if (absl::Status r = ledger_->Refund(reservation); !r.ok()) {
      base::LogError("dp_refund_failed", {{"code", r.code()}});
    } else if (absl::Status l = log_budget("refunded", amounts); !l.ok()) {
      base::LogError("dp_refund_log_failed", {{"code", l.code()}});
    }
    return cause;
  };
  if (absl::Status s = log_budget("reserved", amounts); !s.ok()) {
    return refund(absl::UnavailableError("query log unavailable: nothing is released"));
  }

  // 3. All noise first, independent of the data (run time must not depend on it).
  std::vector<std::int64_t> noise(shape.inner_cells * components, 0);
  for (std::size_t cell = 0; cell < shape.inner_cells; ++cell) {
    for (const StatPlan& p : plans) {
      for (std::size_t k = 0; k < p.noise.size(); ++k) {
        absl::StatusOr<std::int64_t> z = sampler_(*random_, p.noise[k]);
        if (!z.ok()) {
          base::LogError("dp_noise_failed", {{"code", z.status().code()}});
          return refund(absl::UnavailableError(
              "the random generator failed: nothing is released and the budget is returned"));
        }
        noise[cell * components + p.first_component + k] = *z;
      }
    }
  }
  // Then one selection noise per inner cell (none while cells are public).
  std::vector<std::int64_t> sel_noise(select ? shape.inner_cells : 0, 0);
  for (std::int64_t& z : sel_noise) {
    absl::StatusOr<std::int64_t> drawn = sampler_(*random_, selection_noise);
    if (!drawn.ok()) {
      base::LogError("dp_noise_failed", {{"code", drawn.status().code()}});
      return refund(absl::UnavailableError(
          "the random generator failed: nothing is released and the budget is returned"));
    }
    z = *drawn;
  }

  // 4. Scan. From here on the charge stands, whatever happens.
  const auto keep_charge = [&](absl::Status cause) -> absl::Status {
    if (absl::Status c = ledger_->Charge(reservation, "", ""); !c.ok()) {
      base::LogError("dp_charge_failed", {{"code", c.code()}});
    } else if (absl::Status l = log_budget("charged", amounts + " released=0"); !l.ok()) {
      base::LogError("dp_charge_log_failed", {{"code", l.code()}});
    }
    return cause;
  };
  std::unordered_map<std::string, std::map<std::uint32_t, UnitCell>> units;
  absl::Status scanned = source.Scan(q, cancel, [&](const RowView& row) -> absl::Status {
    std::uint32_t inner = 0;
    for (const Shape::Dim& d : shape.dims) {
      if (d.row_index >= row.dimensions.size()) {
        return absl::InternalError("template " + t.id + ": a row lacks a dimension");
      }
      auto it = d.code_index.find(row.dimensions[d.row_index]);
      if (it == d.code_index.end()) {
        return absl::InternalError("template " + t.id + ": a row has a code outside dimension " +
                                   d.dim->name);
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
  });
  if (!scanned.ok()) return keep_charge(scanned);

  // 5. Bound contributions: each unit keeps its first max_cells_per_unit inner cells in canonical
  // order (a function of that unit's rows alone), measures clamped per unit and cell.
  std::vector<Int128> truth(shape.inner_cells * components, 0);
  std::vector<std::int64_t> raw_units(select ? shape.inner_cells : 0, 0);
  const auto l0 = static_cast<std::size_t>(bounds.max_cells_per_unit);
  for (const auto& [unit, cells] : units) {
    std::size_t kept = 0;
    for (const auto& [inner, uc] : cells) {
      if (kept++ >= l0) break;
      if (select) ++raw_units[inner];
      for (const StatPlan& p : plans) {
        if (p.flag >= 0 && (uc.flags & (std::uint64_t{1} << p.flag)) == 0) continue;
        Int128* at = &truth[inner * components + p.first_component];
        switch (p.kind) {
          case StatisticKind::kCount:
            at[0] += 1;
            break;
          case StatisticKind::kSum:
            if (uc.has_measure) at[0] += dp::Clamp(uc.measure, bounds);
            break;
          case StatisticKind::kMean:
            if (uc.has_measure) {
              at[0] += dp::Clamp(uc.measure, bounds);
              at[1] += 1;
            }
            break;
          default:
            break;
        }
      }
    }
  }
  // Noisy inner values; margins are sums of them (post-processing, no extra budget).
  std::vector<Int128> noisy(truth.size(), 0);
  for (std::size_t i = 0; i < truth.size(); ++i) noisy[i] = truth[i] + noise[i];
  truth.clear();
  // §7.7 selection of inner cells: raw units ≥ k and noisy units > τ. Nothing else of the raw
  // counts leaves this block.
  std::vector<bool> selected(shape.inner_cells, true);
  for (std::size_t i = 0; i < raw_units.size(); ++i) {
    std::int64_t noisy_units = 0;
    if (__builtin_add_overflow(raw_units[i], sel_noise[i], &noisy_units)) {
      noisy_units = sel_noise[i] > 0 ? INT64_MAX : INT64_MIN;
    }
    selected[i] = dp::Selected(raw_units[i], noisy_units, dps.min_units, tau);
  }
  raw_units.clear();
  sel_noise.clear();

  // 6. Assemble: each released cell sums the noisy inner cells under it, then post-processing.
  std::vector<std::uint32_t> inner_radix;
  for (const Shape::Dim& d : shape.dims) {
    inner_radix.push_back(static_cast<std::uint32_t>(d.dim->codes.codes.size()));
  }
  release.provenance.reserve(release.cells.size());
  for (ReleasedCell& cell : release.cells) {
    const StatPlan& p = plans[cell.statistic];
    const templates::Statistic& stat = t.statistics[cell.statistic];
    bool derived = false;
    for (std::size_t d = 0; d < cell.coordinates.size(); ++d) {
      if (cell.coordinates[d] == inner_radix[d]) derived = true;
    }
    Int128 part[2] = {0, 0};
    bool all_selected = true;
    for (std::size_t inner = 0; inner < shape.inner_cells; ++inner) {
      std::size_t rest = inner;
      bool under = true;
      for (std::size_t d = cell.coordinates.size(); d-- > 0;) {
        const std::size_t code = rest % inner_radix[d];
        rest /= inner_radix[d];
        if (cell.coordinates[d] != inner_radix[d] && cell.coordinates[d] != code) under = false;
      }
      if (!under) continue;
      all_selected = all_selected && selected[inner];
      for (std::size_t k = 0; k < p.noise.size(); ++k) {
        part[k] += noisy[inner * components + p.first_component + k];
      }
    }
    std::string rule = derived ? "dp-derived" : "dp-noisy";
    std::optional<std::int64_t> value;
    if (!all_selected) {
      // Unselected (§7.7): confidential, with no value; a margin over one is too.
      cell.status = disclosure::CellStatus::kConfidential;
      cell.value.reset();
      release.provenance.push_back(
          CellProvenance{derived ? "dp-margin-of-unselected" : "dp-not-selected", budget.treatment});
      continue;
    }
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
    release.provenance.push_back(CellProvenance{std::move(rule), budget.treatment});
  }
  noisy.clear();

  // 7. Charge durably, with the answer stored for identical repeats, and log it; only then return.
  if (absl::Status c = ledger_->Charge(reservation, repeat_key, EncodeAnswer(release)); !c.ok()) {
    base::LogError("dp_charge_failed", {{"code", c.code()}});
    return absl::UnavailableError("the budget ledger is unavailable: nothing is released");
  }
  if (absl::Status l = log_budget("charged", amounts + " released=1"); !l.ok()) {
    return absl::UnavailableError("query log unavailable: nothing is released");
  }
  return DpOutcome{std::move(release), charge, false};
}

}  // namespace enclave::core
