// Step 3 of disclosure-control.md §2: the template's unit-level rows to per-cell unit contributions,
// every margin included (the contract is in aggregate.h, how it works in internal/table.h).
#include "enclave/core/internal/table.h"

namespace enclave::core {

void TableBuilder::Impl::Init(const templates::BoundQuery& q) {
  query = &q;
  tmpl = q.tmpl;
  if (tmpl == nullptr) {
    init_error = absl::InternalError("bound query has no template");
    return;
  }
  track_holdings = !tmpl->disclosure.holding_column.empty();
  if (tmpl->flag_columns.size() > kMaxFlags) {
    init_error = absl::InternalError("template " + tmpl->id + ": more than 64 flag columns");
    return;
  }
  auto template_index = [&](const templates::Dimension* d) -> std::optional<std::size_t> {
    for (std::size_t j = 0; j < tmpl->dimensions.size(); ++j) {
      if (&tmpl->dimensions[j] == d) return j;
    }
    return std::nullopt;
  };
  auto in_table = [&](const templates::Dimension* d) {
    return std::find(q.dimensions.begin(), q.dimensions.end(), d) != q.dimensions.end();
  };
  for (const templates::Dimension* d : q.dimensions) {
    DimLookup lookup;
    lookup.dim = d;
    lookup.child = d;
    const std::optional<std::size_t> index = d == nullptr ? std::nullopt : template_index(d);
    if (!index.has_value()) {
      init_error = absl::InternalError("template " + tmpl->id +
                                       ": a table dimension is not one of the template's");
      return;
    }
    lookup.row_index = *index;
    // The other level of d's hierarchy among the template's dimensions (every row carries every
    // declared dimension's column), unless the table has both levels.
    for (const templates::Dimension& other : tmpl->dimensions) {
      if (&other == d || in_table(&other)) continue;
      if (!d->codes.parent_list.empty() && other.codes.name == d->codes.parent_list) {
        lookup.child = d;
        lookup.parent = &other;
      } else if (!other.codes.parent_list.empty() && other.codes.parent_list == d->codes.name) {
        lookup.child = &other;
        lookup.parent = d;
      } else {
        continue;
      }
      lookup.hierarchical = true;
      break;
    }
    const std::size_t own_codes = d->codes.codes.size();
    if (lookup.hierarchical) {
      const templates::CodeList& cl = lookup.child->codes;
      const templates::CodeList& pl = lookup.parent->codes;
      lookup.row_index = *template_index(lookup.child);
      lookup.parent_row_index = *template_index(lookup.parent);
      lookup.n_child = static_cast<std::uint32_t>(cl.codes.size());
      const auto total = static_cast<std::uint32_t>(cl.codes.size() + pl.codes.size());
      if (cl.parents.size() != cl.codes.size()) {
        init_error = absl::InternalError("template " + tmpl->id + ": code list " + cl.name +
                                         " does not give every code a parent");
        return;
      }
      for (std::size_t c = 0; c < cl.codes.size(); ++c) {
        std::optional<std::uint32_t> up;
        for (std::size_t k = 0; k < pl.codes.size(); ++k) {
          if (pl.codes[k].code == cl.parents[c]) up = static_cast<std::uint32_t>(k);
        }
        if (!up.has_value()) {
          init_error = absl::InternalError("template " + tmpl->id + ": code list " + cl.name +
                                           " names a parent outside " + pl.name);
          return;
        }
        lookup.up.push_back(lookup.n_child + *up);
        lookup.parent_code.push_back(pl.codes[*up].code);
      }
      lookup.up.resize(total, total);
      const bool child_level = d == lookup.child;
      for (std::uint32_t k = 0; k < total; ++k) {
        const bool is_child = k < lookup.n_child;
        lookup.released.push_back(is_child == child_level ? (is_child ? k : k - lookup.n_child)
                                                          : kDropped);
      }
      lookup.released.push_back(static_cast<std::uint32_t>(own_codes));
    } else {
      lookup.n_child = static_cast<std::uint32_t>(own_codes);
      lookup.up.assign(own_codes, static_cast<std::uint32_t>(own_codes));
      for (std::uint32_t k = 0; k <= own_codes; ++k) lookup.released.push_back(k);
    }
    const templates::Dimension* mapped = lookup.child;
    for (std::size_t c = 0; c < mapped->codes.codes.size(); ++c) {
      // A duplicated code keeps its first index (Validate rejects duplicates anyway).
      const std::string_view code = mapped->codes.codes[c].code;
      const std::uint64_t hash = HashKey(code);
      if (lookup.codes.Find(code, hash) == KeyIndex::kMissing) {
        lookup.codes.Insert(code, hash);
        lookup.code_of.push_back(static_cast<std::uint32_t>(c));
      }
    }
    dims.push_back(std::move(lookup));
  }
  radix.resize(dims.size());
  strides.resize(dims.size());
  fan = 1;
  for (std::size_t d = 0; d < dims.size(); ++d) {
    radix[d] = static_cast<std::uint32_t>(dims[d].up.size() + 1);
    fan *= dims[d].hierarchical ? std::size_t{3} : std::size_t{2};
  }
  cell_count = 1;
  for (std::size_t i = dims.size(); i-- > 0;) {
    strides[i] = static_cast<std::uint32_t>(cell_count);
    cell_count *= radix[i];
    if (cell_count > kMaxCells) {
      init_error = absl::InternalError("template " + tmpl->id + ": the table has too many cells");
      return;
    }
  }
  auto flag_mask = [&](const std::string& flag, std::uint64_t* mask) {
    *mask = 0;
    if (flag.empty()) return true;
    for (std::size_t f = 0; f < tmpl->flag_columns.size(); ++f) {
      if (tmpl->flag_columns[f] == flag) {
        *mask = std::uint64_t{1} << f;
        return true;
      }
    }
    return false;
  };
  for (const templates::Statistic& s : tmpl->statistics) {
    StatPlan plan;
    plan.kind = s.kind;
    plan.permille = s.quantile_permille;
    plan.precision = s.precision > 1 ? s.precision : 1;
    plan.per = s.per;
    if (!flag_mask(s.flag, &plan.flag_mask) || !flag_mask(s.denominator_flag, &plan.den_mask)) {
      init_error = absl::InternalError("template " + tmpl->id + ": statistic " + s.name +
                                       " names a flag that is not a flag column");
      return;
    }
    if (s.kind == StatisticKind::kRatio && s.denominator_flag.empty()) {
      init_error = absl::InternalError("template " + tmpl->id + ": ratio statistic " + s.name +
                                       " has no denominator flag");
      return;
    }
    if (s.kind == StatisticKind::kQuantile) plan.quantile_slot = quantile_slots++;
    if (s.kind == StatisticKind::kShareDifference) {
      for (std::size_t k = 0; k < tmpl->statistics.size(); ++k) {
        const templates::Statistic& other = tmpl->statistics[k];
        if (other.kind != StatisticKind::kShare) continue;
        if (other.name == s.minuend) plan.minuend = static_cast<int>(k);
        if (other.name == s.subtrahend) plan.subtrahend = static_cast<int>(k);
      }
      if (plan.minuend < 0 || plan.subtrahend < 0 || plan.minuend == plan.subtrahend) {
        init_error = absl::InternalError("template " + tmpl->id + ": statistic " + s.name +
                                         " does not name two SHARE statistics");
        return;
      }
      plan.bound = s.bound;
    }
    if (s.kind == StatisticKind::kRelativeRisk) {
      if (s.reference_dimensions.empty()) {
        init_error = absl::InternalError("template " + tmpl->id + ": relative risk " + s.name +
                                         " has no reference dimension");
        return;
      }
      for (std::size_t d = 0; d < dims.size(); ++d) {
        for (const std::string& r : s.reference_dimensions) {
          const bool named = (dims[d].dim != nullptr && dims[d].dim->name == r) ||
                             (dims[d].child != nullptr && dims[d].child->name == r) ||
                             (dims[d].parent != nullptr && dims[d].parent->name == r);
          if (named) {
            plan.reference_dims.push_back(d);
            break;
          }
        }
      }
    }
    stats.push_back(plan);
  }
}

void TableBuilder::Impl::Targets(const std::uint32_t* record_codes, std::uint32_t* out) const {
  std::uint32_t base = 0;
  for (std::size_t d = 0; d < dims.size(); ++d) base += record_codes[d] * strides[d];
  out[0] = base;
  // Each record lies in its inner cell and every cell obtained by moving any coordinates up
  // their paths (child code -> parent code -> total): the product of the paths.
  std::size_t filled = 1;
  for (std::size_t d = 0; d < dims.size(); ++d) {
    const std::size_t before = filled;
    const std::uint32_t total = radix[d] - 1;
    for (std::uint32_t k = record_codes[d]; k != total;) {
      k = dims[d].up[k];
      const std::uint32_t delta = (k - record_codes[d]) * strides[d];
      for (std::size_t i = 0; i < before; ++i) out[filled++] = out[i] + delta;
    }
  }
}

void TableBuilder::Impl::Emit(const Contribution& c, std::uint32_t record_key,
                              std::uint32_t holding) {
  ++cell_units[c.cell];
  auto track = [&](std::size_t s, std::size_t part) {
    if (track_holdings) {
      holding_items.push_back(HoldingItem{(static_cast<std::size_t>(c.cell) * stats.size() + s) * 2 + part,
                                          holding, c.measure});
    }
  };
  Accumulator* row = acc.data() + static_cast<std::size_t>(c.cell) * stats.size();
  for (std::size_t s = 0; s < stats.size(); ++s) {
    const StatPlan& plan = stats[s];
    Accumulator& a = row[s];
    switch (plan.kind) {
      case StatisticKind::kCount:
        if (Matches(c.flags, plan.flag_mask)) {
          ++a.units_a;
          a.key_a += record_key;
        }
        break;
      case StatisticKind::kSum:
      case StatisticKind::kMean:
      case StatisticKind::kQuantile:
        if (c.has_measure && Matches(c.flags, plan.flag_mask)) {
          ++a.units_a;
          a.key_a += record_key;
          a.sum_a += c.measure;
          if (plan.kind != StatisticKind::kQuantile) {
            a.mag_a.Add(c.measure);
            track(s, 0);
          }
          if (plan.quantile_slot >= 0) {
            quantile_values[static_cast<std::size_t>(plan.quantile_slot)][c.cell].push_back(
                c.measure);
          }
        }
        break;
      case StatisticKind::kShare:
      case StatisticKind::kRelativeRisk:
        if (Matches(c.flags, plan.den_mask)) {
          ++a.units_b;
          a.key_b += record_key;
          if (Matches(c.flags, plan.flag_mask)) {
            ++a.units_a;
            a.key_a += record_key;
          }
        }
        break;
      case StatisticKind::kShareDifference:
        break;  // computed from its two shares' accumulators
      case StatisticKind::kRatio:
        if (c.has_measure) {
          if (Matches(c.flags, plan.flag_mask)) {
            ++a.units_a;
            a.key_a += record_key;
            a.sum_a += c.measure;
            a.mag_a.Add(c.measure);
            track(s, 0);
          }
          if (Matches(c.flags, plan.den_mask)) {
            ++a.units_b;
            a.key_b += record_key;
            a.sum_b += c.measure;
            a.mag_b.Add(c.measure);
            track(s, 1);
          }
        }
        break;
    }
  }
}

// For each dimension in turn, adds every cell whose coordinate there is a code into the cell with
// the total there. After dimension d, every cell with totals in any subset of dimensions 0..d
// holds the sum of its inner cells, so after the last one every margin does. Cell keys add too:
// a margin's units are the disjoint union of its inner cells' units (one row per unit).
void TableBuilder::Impl::RollUpMargins() {
  const std::size_t stat_count = stats.size();
  for (std::size_t d = 0; d < dims.size(); ++d) {
    const std::uint32_t total = radix[d] - 1;
    // Two passes: child codes into their parents (into the total when flat), then a hierarchy's
    // parent codes into the total.
    for (int pass = 0; pass < 2; ++pass)
    for (std::size_t cell = 0; cell < cell_count; ++cell) {
      const std::uint32_t coord = static_cast<std::uint32_t>((cell / strides[d]) % radix[d]);
      if (coord == total || (coord < dims[d].n_child) != (pass == 0)) continue;
      const std::size_t target =
          cell + static_cast<std::size_t>(dims[d].up[coord] - coord) * strides[d];
      cell_units[target] += cell_units[cell];
      for (std::size_t s = 0; s < stat_count; ++s) {
        const Accumulator& from = acc[cell * stat_count + s];
        Accumulator& to = acc[target * stat_count + s];
        to.units_a += from.units_a;
        to.units_b += from.units_b;
        to.sum_a += from.sum_a;
        to.sum_b += from.sum_b;
        to.key_a += from.key_a;  // disclosure::CellKey::Merge: wraps mod 2^32
        to.key_b += from.key_b;
        if (IsMagnitude(stats[s].kind)) {
          to.mag_a.Merge(from.mag_a);
          to.mag_b.Merge(from.mag_b);
        }
      }
      for (auto& per_cell : quantile_values) {
        per_cell[target].insert(per_cell[target].end(), per_cell[cell].begin(),
                                per_cell[cell].end());
      }
    }
  }
}

absl::Status TableBuilder::Impl::Aggregate(UnitIndex& units, UnitIndex* entities) {
  cell_units.assign(cell_count, 0);
  acc.assign(cell_count * stats.size(), Accumulator{});
  quantile_values.assign(static_cast<std::size_t>(quantile_slots),
                         std::vector<std::vector<std::int64_t>>(cell_count));
  const std::size_t dim_count = dims.size();
  std::vector<std::uint32_t> targets(fan);

  GroupByUnit();
  ENCLAVE_RETURN_IF_ERROR(IndexUnits(units, entities));
  const std::size_t unit_count = unit_start.size() - 1;
  if (unit_count == records.size() && !track_holdings) {
    // Fast path: one row per unit, so every unit lies in exactly one inner cell and each margin
    // is the plain sum of the inner cells below it: emit into the inner cell, then roll up.
    for (std::size_t u = 0; u < unit_count; ++u) {
      const std::size_t r = order[unit_start[u]];
      const Record& rec = records[r];
      const std::uint32_t* rc = codes.data() + r * dim_count;
      std::uint32_t cell = 0;
      for (std::size_t d = 0; d < dim_count; ++d) cell += rc[d] * strides[d];
      Emit(Contribution{cell, rec.measure, rec.flags, rec.has_measure}, unit_entry[u].record_key,
           rec.holding);
    }
    RollUpMargins();
    return absl::OkStatus();
  }

  // General path: merge each unit's records per cell.
  std::vector<std::uint32_t> stamp(cell_count, kNoUnit);
  std::vector<std::uint32_t> slot(cell_count, 0);
  std::vector<Contribution> local;
  for (std::uint32_t u = 0; u < unit_count; ++u) {
    local.clear();
    const std::uint32_t holding = records[order[unit_start[u]]].holding;
    for (std::uint32_t i = unit_start[u]; i < unit_start[u + 1]; ++i) {
      const std::size_t r = order[i];
      const Record& rec = records[r];
      if (rec.holding != holding) {
        return absl::InternalError("template " + TemplateName() + ": a " + tmpl->unit +
                                   " has rows in more than one holding");
      }
      Targets(codes.data() + r * dim_count, targets.data());
      for (std::size_t t = 0; t < fan; ++t) {
        const std::uint32_t cell = targets[t];
        if (stamp[cell] != u) {
          stamp[cell] = u;
          slot[cell] = static_cast<std::uint32_t>(local.size());
          local.push_back(Contribution{cell, rec.measure, rec.flags, rec.has_measure});
          continue;
        }
        Contribution& c = local[slot[cell]];
        c.flags |= rec.flags;
        if (rec.has_measure) {
          c.measure = c.has_measure ? SaturatingAdd(c.measure, rec.measure) : rec.measure;
          c.has_measure = true;
        }
      }
    }
    for (const Contribution& c : local) Emit(c, unit_entry[u].record_key, holding);
  }
  if (track_holdings) MergeHoldings();
  return absl::OkStatus();
}

// Replaces each magnitude part's |x| sum and largest |x| by those of its holdings' summed
// contributions (disclosure-control.md §3.1: three branches of one company are one contributor).
// The smallest and largest unit values (income rule) stay per unit.
void TableBuilder::Impl::MergeHoldings() {
  std::sort(holding_items.begin(), holding_items.end(),
            [](const HoldingItem& a, const HoldingItem& b) {
              return a.slot != b.slot ? a.slot < b.slot : a.holding < b.holding;
            });
  std::size_t i = 0;
  while (i < holding_items.size()) {
    const std::size_t slot = holding_items[i].slot;
    Accumulator& a = acc[slot / 2];
    MagnitudePart& part = slot % 2 == 0 ? a.mag_a : a.mag_b;
    part.abs_sum = 0;
    part.top = TopAbs{};
    part.holdings = 0;
    while (i < holding_items.size() && holding_items[i].slot == slot) {
      const std::uint32_t holding = holding_items[i].holding;
      Int128 sum = 0;
      for (; i < holding_items.size() && holding_items[i].slot == slot &&
             holding_items[i].holding == holding;
           ++i) {
        sum += holding_items[i].measure;
      }
      const std::int64_t x = Saturate(sum < 0 ? -sum : sum);
      part.abs_sum += x;
      part.top.Insert(x);
      ++part.holdings;
    }
  }
  holding_items.clear();
  holding_items.shrink_to_fit();
}

void TableBuilder::Impl::GroupByUnit() {
  std::vector<std::pair<std::uint32_t, std::uint32_t>> by_hash(records.size());
  for (std::size_t r = 0; r < records.size(); ++r) {
    by_hash[r] = {records[r].key_hash, static_cast<std::uint32_t>(r)};
  }
  RadixSortByHash(by_hash);
  order.clear();
  order.reserve(records.size());
  unit_start.clear();
  unit_start.reserve(records.size() + 1);
  std::size_t i = 0;
  while (i < by_hash.size()) {
    std::size_t j = i + 1;
    while (j < by_hash.size() && by_hash[j].first == by_hash[i].first) ++j;
    // Records i..j-1 share a hash; almost always one key. Split by the key itself otherwise.
    bool one_key = true;
    if (j > i + 1) {
      const std::string_view first = keys[records[by_hash[i].second].key];
      for (std::size_t k = i + 1; k < j && one_key; ++k) {
        one_key = keys[records[by_hash[k].second].key] == first;
      }
    }
    if (!one_key) {
      std::sort(by_hash.begin() + static_cast<std::ptrdiff_t>(i),
                by_hash.begin() + static_cast<std::ptrdiff_t>(j),
                [&](const auto& a, const auto& b) {
                  return keys[records[a.second].key] < keys[records[b.second].key];
                });
    }
    for (std::size_t k = i; k < j; ++k) {
      if (k == i || (!one_key && keys[records[by_hash[k].second].key] !=
                                     keys[records[by_hash[k - 1].second].key])) {
        unit_start.push_back(static_cast<std::uint32_t>(order.size()));
      }
      order.push_back(by_hash[k].second);
    }
    i = j;
  }
  unit_start.push_back(static_cast<std::uint32_t>(order.size()));
}

TableBuilder::TableBuilder(const templates::BoundQuery& query) : impl_(new Impl) {
  impl_->Init(query);
}

TableBuilder::~TableBuilder() { delete impl_; }

absl::Status TableBuilder::Add(const RowView& row) {
  Impl& m = *impl_;
  if (!m.init_error.ok()) return m.init_error;
  if (row.dimensions.size() != m.tmpl->dimensions.size()) {
    return absl::InternalError("template " + m.tmpl->id + ": a row has " +
                               std::to_string(row.dimensions.size()) +
                               " dimension values, expected " +
                               std::to_string(m.tmpl->dimensions.size()));
  }
  if (row.flags.size() != m.tmpl->flag_columns.size()) {
    return absl::InternalError("template " + m.tmpl->id + ": a row has " +
                               std::to_string(row.flags.size()) + " flag values, expected " +
                               std::to_string(m.tmpl->flag_columns.size()));
  }
  // Map the table's dimension values first, so that a rejected row leaves no trace.
  const std::size_t dim_count = m.dims.size();
  const std::size_t code_base = m.codes.size();
  m.codes.resize(code_base + dim_count);
  for (std::size_t d = 0; d < dim_count; ++d) {
    DimLookup& lookup = m.dims[d];
    const std::string_view value = row.dimensions[lookup.row_index];
    std::uint32_t id = lookup.last_id;
    if (id == KeyIndex::kMissing || lookup.codes.key(id) != value) {
      id = lookup.codes.Find(value, HashKey(value));
      if (id == KeyIndex::kMissing) {
        m.codes.resize(code_base);
        return absl::InternalError("template " + m.tmpl->id +
                                   ": a row has a value outside the code list of dimension " +
                                   lookup.dim->name);
      }
      lookup.last_id = id;
    }
    m.codes[code_base + d] = lookup.code_of[id];
    // A hierarchy's levels must agree with the code list (the parent column is the child's
    // parent), or the levels' releases would not be slices of one table.
    if (lookup.hierarchical &&
        row.dimensions[lookup.parent_row_index] != lookup.parent_code[lookup.code_of[id]]) {
      m.codes.resize(code_base);
      return absl::InternalError("template " + m.tmpl->id + ": a row's " + lookup.parent->name +
                                 " is not the parent of its " + lookup.child->name +
                                 " in the code list");
    }
  }

  // Units are told apart in Finish (sort by hash, then by key); here the key is only stored.
  // Consecutive rows of one unit (the usual order of a store) share one stored copy.
  if (m.keys.empty() || m.keys.back() != row.unit) {
    if (m.keys.size() >= kNoUnit - 1) {
      m.codes.resize(code_base);
      return absl::ResourceExhaustedError("template " + m.tmpl->id + ": too many units");
    }
    m.keys.push_back(m.arena.Store(row.unit));
    const std::uint64_t hash = HashKey(row.unit);
    m.last_key_hash = static_cast<std::uint32_t>(hash ^ (hash >> 32));
  }
  const auto key = static_cast<std::uint32_t>(m.keys.size() - 1);

  std::uint32_t holding = 0;
  if (m.track_holdings) {
    if (row.holding.empty()) {
      m.codes.resize(code_base);
      return absl::InternalError("template " + m.tmpl->id + ": a row has no holding (empty " +
                                 m.tmpl->disclosure.holding_column + ")");
    }
    holding = m.last_holding;
    if (holding == KeyIndex::kMissing || m.holdings.key(holding) != row.holding) {
      const std::uint64_t hash = HashKey(row.holding);
      holding = m.holdings.Find(row.holding, hash);
      if (holding == KeyIndex::kMissing) {
        holding = m.holdings.Insert(m.holding_arena.Store(row.holding), hash);
      }
      m.last_holding = holding;
    }
  }

  std::uint64_t flags = 0;
  for (std::size_t f = 0; f < row.flags.size(); ++f) {
    if (row.flags[f] != 0) flags |= std::uint64_t{1} << f;
  }
  if (m.records.size() >= kNoUnit - 1) {
    m.codes.resize(code_base);
    return absl::ResourceExhaustedError("template " + m.tmpl->id + ": too many rows");
  }
  m.records.push_back(
      Record{m.last_key_hash, key, row.measure.value_or(0), flags, row.measure.has_value(), holding});
  return absl::OkStatus();
}


absl::StatusOr<FinishedTable> TableBuilder::Finish(const DisclosureTools& tools,
                                                   const std::string& data_version) && {
  Impl& m = *impl_;
  if (!m.init_error.ok()) return m.init_error;
  if (tools.rules == nullptr || tools.units == nullptr || tools.solver == nullptr ||
      !tools.magnitude_key) {
    return absl::InternalError("the disclosure step is not configured");
  }
  if (tools.units->unit_type() != m.tmpl->unit) {
    return absl::InternalError("template " + m.tmpl->id + ": the unit index is not of its unit type");
  }
  const std::string& entity = m.tmpl->disclosure.threshold_entity;
  if (!entity.empty() && (tools.entities == nullptr || tools.entities->unit_type() != entity ||
                          !m.track_holdings)) {
    return absl::InternalError("template " + m.tmpl->id + ": no index of the entities (" + entity +
                               ") its thresholds count");
  }
  ENCLAVE_RETURN_IF_ERROR(disclosure::CheckMagnitudeParams(tools.magnitude));
  ENCLAVE_RETURN_IF_ERROR(m.Aggregate(*tools.units, entity.empty() ? nullptr : tools.entities));
  const auto start = std::chrono::steady_clock::now();
  for (std::size_t s = 0; s < m.stats.size(); ++s) {
    StatPlan& plan = m.stats[s];
    std::int64_t fallback = 1;
    switch (plan.kind) {
      case StatisticKind::kSum: fallback = tools.rules->sum_precision; break;
      case StatisticKind::kMean: fallback = tools.rules->mean_precision; break;
      case StatisticKind::kQuantile: fallback = tools.rules->quantile_precision; break;
      default: break;
    }
    // The template's precision when it declares one (approved with the template), else the rule
    // set's for amounts (§8: sums EUR 1,000, means and quantiles EUR 100).
    plan.magnitude_precision = plan.precision > 1 ? plan.precision : std::max<std::int64_t>(fallback, 1);
  }
  ENCLAVE_ASSIGN_OR_RETURN(Release release, m.Disclose(tools, data_version));
  FinishedTable out;
  out.release = std::move(release);
  out.populations = std::move(m.populations);
  out.disclosure_micros = std::chrono::duration_cast<std::chrono::microseconds>(
                              std::chrono::steady_clock::now() - start)
                              .count();
  return out;
}


}  // namespace enclave::core
