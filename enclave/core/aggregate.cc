#include "enclave/core/aggregate.h"

#include <algorithm>
#include <array>
#include <cstdint>
#include <cstring>
#include <limits>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/status/status.h"

// How a table is computed (the contract is in aggregate.h; the rules in disclosure-control.md §3).
//
// Add() maps each table dimension's value to its code index (a small open-addressing table,
// checking the previous row's code first), copies the unit key once into an arena (consecutive
// rows of one unit share the copy) with its hash, and appends one fixed-size record: no per-row
// allocation beyond amortised vector growth.
//
// Finish() tells units apart by a radix sort on the key hash, comparing the keys themselves within
// equal hashes, so a hash collision never merges two units. When every unit has exactly one row
// (the common case) each unit lies in one inner cell: its record is emitted into that cell and the
// margins are rolled up by summing inner cells, dimension by dimension. Otherwise each unit's
// records are merged per cell of the full cube (every record belongs to 2^D cells: its inner cell
// and each margin obtained by replacing any subset of its coordinates by the total): measures
// summed, flags OR-ed, so that a unit with rows in two inner cells counts once in their margin.
//
// Statistics per cell, over distinct units (a unit "has" a flag when any of its rows in the cell
// has it non-zero; a unit's measure is the sum of its non-NULL measures in the cell, NULL when all
// are NULL):
//   COUNT     units with the flag (all units without one); threshold on that count.
//   SUM       sum of measures of units with the flag and a measure; threshold on those units.
//   MEAN      that sum / those units, rounded once to the precision (half away from zero).
//   QUANTILE  nearest rank over those units' measures: the k-th smallest with
//             k = ceil(n * permille / 1000) (at least 1). Threshold, then QuantileRule.
//   SHARE     100 * (units with the flag among the denominator units) / (units with the
//             denominator flag, or all units); ShareRule on numerator and denominator.
//   RATIO     100 * sum(measure | flag) / sum(measure | denominator flag); threshold on the units
//             of each part; a zero denominator sum is confidential ("undefined").
// Every division is integer arithmetic on 128-bit intermediates, rounded once to the statistic's
// precision; results beyond int64 saturate.
namespace enclave::core {
namespace {

__extension__ using Int128 = __int128;

using templates::StatisticKind;

constexpr std::size_t kMaxCells = std::size_t{1} << 24;
constexpr std::size_t kMaxFlags = 64;
constexpr std::uint32_t kNoUnit = std::numeric_limits<std::uint32_t>::max();

std::int64_t Saturate(Int128 v) {
  if (v > static_cast<Int128>(std::numeric_limits<std::int64_t>::max())) {
    return std::numeric_limits<std::int64_t>::max();
  }
  if (v < static_cast<Int128>(std::numeric_limits<std::int64_t>::min())) {
    return std::numeric_limits<std::int64_t>::min();
  }
  return static_cast<std::int64_t>(v);
}

// num / den rounded to the nearest integer, half away from zero. REQUIRES: den != 0 and both far
// from the 128-bit limits (they come from sums of int64 values).
Int128 RoundDiv(Int128 num, Int128 den) {
  if (den < 0) {
    num = -num;
    den = -den;
  }
  Int128 q = num / den;
  const Int128 r = num % den;
  const Int128 ar = r < 0 ? -r : r;
  if (ar != 0 && ar >= den - ar) q += (num < 0) ? -1 : 1;
  return q;
}

// num / den rounded once to a multiple of precision.
std::int64_t RoundRational(Int128 num, Int128 den, std::int64_t precision) {
  const Int128 p = precision > 1 ? precision : 1;
  return Saturate(RoundDiv(num, den * p) * p);
}

std::int64_t SaturatingAdd(std::int64_t a, std::int64_t b) {
  std::int64_t out = 0;
  if (!__builtin_add_overflow(a, b, &out)) return out;
  return b > 0 ? std::numeric_limits<std::int64_t>::max() : std::numeric_limits<std::int64_t>::min();
}

// Copies unit keys once into large blocks, so that interning a unit costs no allocation of its own.
class KeyArena {
 public:
  std::string_view Store(std::string_view key) {
    if (key.size() > left_) {
      const std::size_t size = std::max(kBlock, key.size());
      blocks_.push_back(std::make_unique<char[]>(size));
      next_ = blocks_.back().get();
      left_ = size;
    }
    if (!key.empty()) std::memcpy(next_, key.data(), key.size());
    std::string_view stored(next_, key.size());
    next_ += key.size();
    left_ -= key.size();
    return stored;
  }

 private:
  static constexpr std::size_t kBlock = 256 * 1024;
  std::vector<std::unique_ptr<char[]>> blocks_;
  char* next_ = nullptr;
  std::size_t left_ = 0;
};

// A fast, non-cryptographic 64-bit hash for short keys (unit pseudonyms, codes). Keys come from
// the microdata store and the template, not from callers, so flooding is not a concern.
std::uint64_t Load64(const char* p) {
  std::uint64_t v = 0;
  std::memcpy(&v, p, sizeof(v));
  return v;
}

std::uint64_t Load32(const char* p) {
  std::uint32_t v = 0;
  std::memcpy(&v, p, sizeof(v));
  return v;
}

std::uint64_t HashKey(std::string_view s) {
  const std::size_t size = s.size();
  const char* p = s.data();
  std::uint64_t h = 0x243f6a8885a308d3ULL ^ (static_cast<std::uint64_t>(size) * 0x9e3779b97f4a7c15ULL);
  std::uint64_t tail = 0;
  if (size >= 8) {
    std::size_t n = size;
    while (n > 8) {
      h = (h ^ Load64(p)) * 0xbf58476d1ce4e5b9ULL;
      h ^= h >> 31;
      p += 8;
      n -= 8;
    }
    tail = Load64(s.data() + size - 8);  // the last 8 bytes, overlapping when size % 8 != 0
  } else if (size >= 4) {
    tail = (Load32(p) << 32) | Load32(p + size - 4);
  } else if (size > 0) {
    tail = (static_cast<std::uint64_t>(static_cast<unsigned char>(p[0])) << 16) |
           (static_cast<std::uint64_t>(static_cast<unsigned char>(p[size >> 1])) << 8) |
           static_cast<std::uint64_t>(static_cast<unsigned char>(p[size - 1]));
  }
  h = (h ^ tail) * 0x94d049bb133111ebULL;
  h ^= h >> 29;
  h ^= h >> 32;
  h *= 0x9e3779b97f4a7c15ULL;
  h ^= h >> 29;
  return h;
}

// Open-addressing map from a string key to a dense id (0, 1, 2, ...). Keys are views whose bytes
// the caller keeps alive (the arena, or the template's code strings).
class KeyIndex {
 public:
  static constexpr std::uint32_t kMissing = std::numeric_limits<std::uint32_t>::max();

  KeyIndex() { Rehash(16); }

  std::uint32_t size() const { return static_cast<std::uint32_t>(keys_.size()); }
  std::string_view key(std::uint32_t id) const { return keys_[id]; }

  std::uint32_t Find(std::string_view key, std::uint64_t hash) const {
    for (std::size_t i = hash & mask_;; i = (i + 1) & mask_) {
      const Slot& slot = slots_[i];
      if (slot.id == kMissing) return kMissing;
      if (slot.hash == hash && keys_[slot.id] == key) return slot.id;
    }
  }

  // REQUIRES: Find(key, hash) == kMissing. `stored` has the bytes of the key and outlives this.
  std::uint32_t Insert(std::string_view stored, std::uint64_t hash) {
    if ((keys_.size() + 1) * 4 > slots_.size() * 3) Rehash(slots_.size() * 2);
    const auto id = static_cast<std::uint32_t>(keys_.size());
    keys_.push_back(stored);
    Place(hash, id);
    return id;
  }

 private:
  struct Slot {
    std::uint64_t hash = 0;
    std::uint32_t id = kMissing;
  };

  void Place(std::uint64_t hash, std::uint32_t id) {
    std::size_t i = hash & mask_;
    while (slots_[i].id != kMissing) i = (i + 1) & mask_;
    slots_[i] = Slot{hash, id};
  }

  void Rehash(std::size_t capacity) {
    std::vector<Slot> old = std::move(slots_);
    slots_.assign(capacity, Slot{});
    mask_ = capacity - 1;
    for (const Slot& slot : old) {
      if (slot.id != kMissing) Place(slot.hash, slot.id);
    }
  }

  std::vector<Slot> slots_;
  std::size_t mask_ = 0;
  std::vector<std::string_view> keys_;
};

struct StatPlan {
  StatisticKind kind = StatisticKind::kCount;
  std::uint64_t flag_mask = 0;  // 0: all units
  std::uint64_t den_mask = 0;   // 0: all units
  std::uint32_t permille = 0;
  std::int64_t precision = 1;
  int quantile_slot = -1;
};

// One row, reduced to what aggregation needs.
struct Record {
  std::uint32_t key_hash = 0;  // HashKey of the unit key, folded to 32 bits
  std::uint32_t key = 0;       // index into Impl::keys
  std::int64_t measure = 0;
  std::uint64_t flags = 0;
  bool has_measure = false;
};

// Sorts (hash, index) pairs by hash: LSD radix sort, 8 bits per pass, skipping passes in which
// every element has the same byte. Equal hashes need not mean equal keys: callers compare keys.
void RadixSortByHash(std::vector<std::pair<std::uint32_t, std::uint32_t>>& items) {
  std::vector<std::pair<std::uint32_t, std::uint32_t>> buffer(items.size());
  for (unsigned shift = 0; shift < 32; shift += 8) {
    std::array<std::uint32_t, 257> count{};
    for (const auto& item : items) ++count[((item.first >> shift) & 0xffU) + 1];
    bool trivial = false;
    for (std::size_t b = 1; b <= 256; ++b) {
      if (count[b] == items.size()) trivial = true;
    }
    if (trivial) continue;
    for (std::size_t b = 0; b < 256; ++b) count[b + 1] += count[b];
    for (const auto& item : items) buffer[count[(item.first >> shift) & 0xffU]++] = item;
    items.swap(buffer);
  }
}

// One unit's contribution to one cell.
struct Contribution {
  std::uint32_t cell = 0;
  std::int64_t measure = 0;
  std::uint64_t flags = 0;
  bool has_measure = false;
};

// Per cell and statistic.
struct Accumulator {
  std::int64_t units_a = 0;  // numerator / contributing units
  std::int64_t units_b = 0;  // denominator units (SHARE, RATIO)
  Int128 sum_a = 0;
  Int128 sum_b = 0;
};

struct DimLookup {
  std::size_t row_index = 0;  // index into RowView::dimensions
  const templates::Dimension* dim = nullptr;
  KeyIndex codes;                   // code string -> id
  std::vector<std::uint32_t> code_of;  // id -> index in the code list
  std::uint32_t last_id = KeyIndex::kMissing;  // the previous row's id, checked first
};

bool Matches(std::uint64_t flags, std::uint64_t mask) { return (flags & mask) == mask; }

}  // namespace

struct TableBuilder::Impl {
  const templates::BoundQuery* query = nullptr;
  const templates::Template* tmpl = nullptr;
  absl::Status init_error;

  std::vector<DimLookup> dims;
  std::vector<std::uint32_t> radix;     // codes + 1 (the total), per table dimension
  std::vector<std::uint32_t> strides;   // first dimension slowest
  std::size_t cell_count = 1;
  std::vector<StatPlan> stats;
  int quantile_slots = 0;

  KeyArena arena;
  std::vector<std::string_view> keys;  // unit keys as stored; consecutive repeats share one
  std::uint32_t last_key_hash = 0;

  // Finish-time grouping: record indices grouped by unit, and where each unit's group starts.
  std::vector<std::uint32_t> order;
  std::vector<std::uint32_t> unit_start;

  std::vector<Record> records;
  std::vector<std::uint32_t> codes;  // records.size() * dims.size()

  // Finish-time state.
  std::vector<std::int64_t> cell_units;
  std::vector<Accumulator> acc;                           // cell * stats + s
  std::vector<std::vector<std::vector<std::int64_t>>> quantile_values;  // slot, cell

  void Init(const templates::BoundQuery& q);
  std::string TemplateName() const { return tmpl != nullptr ? tmpl->id : std::string("?"); }
  void Targets(const std::uint32_t* record_codes, std::uint32_t* out) const;
  void Emit(const Contribution& c);
  void GroupByUnit();
  void RollUpMargins();
  void Aggregate();
  Release BuildRelease(const disclosure::RuleSetParams& rules, const std::string& data_version);
};

void TableBuilder::Impl::Init(const templates::BoundQuery& q) {
  query = &q;
  tmpl = q.tmpl;
  if (tmpl == nullptr) {
    init_error = absl::InternalError("bound query has no template");
    return;
  }
  if (tmpl->flag_columns.size() > kMaxFlags) {
    init_error = absl::InternalError("template " + tmpl->id + ": more than 64 flag columns");
    return;
  }
  for (const templates::Dimension* d : q.dimensions) {
    DimLookup lookup;
    lookup.dim = d;
    bool found = false;
    for (std::size_t j = 0; j < tmpl->dimensions.size(); ++j) {
      if (&tmpl->dimensions[j] == d) {
        lookup.row_index = j;
        found = true;
        break;
      }
    }
    if (!found || d == nullptr) {
      init_error = absl::InternalError("template " + tmpl->id +
                                       ": a table dimension is not one of the template's");
      return;
    }
    for (std::size_t c = 0; c < d->codes.codes.size(); ++c) {
      // A duplicated code keeps its first index (Validate rejects duplicates anyway).
      const std::string_view code = d->codes.codes[c].code;
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
  for (std::size_t d = 0; d < dims.size(); ++d) {
    radix[d] = static_cast<std::uint32_t>(dims[d].dim->codes.codes.size() + 1);
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
    stats.push_back(plan);
  }
}

void TableBuilder::Impl::Targets(const std::uint32_t* record_codes, std::uint32_t* out) const {
  std::uint32_t base = 0;
  for (std::size_t d = 0; d < dims.size(); ++d) base += record_codes[d] * strides[d];
  out[0] = base;
  for (std::size_t d = 0; d < dims.size(); ++d) {
    const std::uint32_t delta = (radix[d] - 1 - record_codes[d]) * strides[d];
    const std::size_t half = std::size_t{1} << d;
    for (std::size_t i = 0; i < half; ++i) out[half + i] = out[i] + delta;
  }
}

void TableBuilder::Impl::Emit(const Contribution& c) {
  ++cell_units[c.cell];
  Accumulator* row = acc.data() + static_cast<std::size_t>(c.cell) * stats.size();
  for (std::size_t s = 0; s < stats.size(); ++s) {
    const StatPlan& plan = stats[s];
    Accumulator& a = row[s];
    switch (plan.kind) {
      case StatisticKind::kCount:
        if (Matches(c.flags, plan.flag_mask)) ++a.units_a;
        break;
      case StatisticKind::kSum:
      case StatisticKind::kMean:
      case StatisticKind::kQuantile:
        if (c.has_measure && Matches(c.flags, plan.flag_mask)) {
          ++a.units_a;
          a.sum_a += c.measure;
          if (plan.quantile_slot >= 0) {
            quantile_values[static_cast<std::size_t>(plan.quantile_slot)][c.cell].push_back(
                c.measure);
          }
        }
        break;
      case StatisticKind::kShare:
        if (Matches(c.flags, plan.den_mask)) {
          ++a.units_b;
          if (Matches(c.flags, plan.flag_mask)) ++a.units_a;
        }
        break;
      case StatisticKind::kRatio:
        if (c.has_measure) {
          if (Matches(c.flags, plan.flag_mask)) {
            ++a.units_a;
            a.sum_a += c.measure;
          }
          if (Matches(c.flags, plan.den_mask)) {
            ++a.units_b;
            a.sum_b += c.measure;
          }
        }
        break;
    }
  }
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

// For each dimension in turn, adds every cell whose coordinate there is a code into the cell with
// the total there. After dimension d, every cell with totals in any subset of dimensions 0..d
// holds the sum of its inner cells, so after the last one every margin does.
void TableBuilder::Impl::RollUpMargins() {
  const std::size_t stat_count = stats.size();
  for (std::size_t d = 0; d < dims.size(); ++d) {
    const std::uint32_t total = radix[d] - 1;
    for (std::size_t cell = 0; cell < cell_count; ++cell) {
      const std::uint32_t coord = static_cast<std::uint32_t>((cell / strides[d]) % radix[d]);
      if (coord == total) continue;
      const std::size_t target = cell + static_cast<std::size_t>(total - coord) * strides[d];
      cell_units[target] += cell_units[cell];
      for (std::size_t s = 0; s < stat_count; ++s) {
        const Accumulator& from = acc[cell * stat_count + s];
        Accumulator& to = acc[target * stat_count + s];
        to.units_a += from.units_a;
        to.units_b += from.units_b;
        to.sum_a += from.sum_a;
        to.sum_b += from.sum_b;
      }
      for (auto& per_cell : quantile_values) {
        per_cell[target].insert(per_cell[target].end(), per_cell[cell].begin(),
                                per_cell[cell].end());
      }
    }
  }
}

void TableBuilder::Impl::Aggregate() {
  cell_units.assign(cell_count, 0);
  acc.assign(cell_count * stats.size(), Accumulator{});
  quantile_values.assign(static_cast<std::size_t>(quantile_slots),
                         std::vector<std::vector<std::int64_t>>(cell_count));
  const std::size_t dim_count = dims.size();
  const std::size_t fan = std::size_t{1} << dim_count;
  std::vector<std::uint32_t> targets(fan);

  GroupByUnit();
  const std::size_t unit_count = unit_start.size() - 1;
  if (unit_count == records.size()) {
    // Fast path: one row per unit, so every unit lies in exactly one inner cell and each margin
    // is the plain sum of the inner cells below it: emit into the inner cell, then roll up.
    for (std::size_t r = 0; r < records.size(); ++r) {
      const Record& rec = records[r];
      const std::uint32_t* rc = codes.data() + r * dim_count;
      std::uint32_t cell = 0;
      for (std::size_t d = 0; d < dim_count; ++d) cell += rc[d] * strides[d];
      Emit(Contribution{cell, rec.measure, rec.flags, rec.has_measure});
    }
    RollUpMargins();
    return;
  }

  // General path: merge each unit's records per cell.
  std::vector<std::uint32_t> stamp(cell_count, kNoUnit);
  std::vector<std::uint32_t> slot(cell_count, 0);
  std::vector<Contribution> local;
  for (std::uint32_t u = 0; u < unit_count; ++u) {
    local.clear();
    for (std::uint32_t i = unit_start[u]; i < unit_start[u + 1]; ++i) {
      const std::size_t r = order[i];
      const Record& rec = records[r];
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
    for (const Contribution& c : local) Emit(c);
  }
}

Release TableBuilder::Impl::BuildRelease(const disclosure::RuleSetParams& rules,
                                         const std::string& data_version) {
  Release release;
  release.tmpl = tmpl;
  release.params = query->params;
  release.data_version = data_version;
  release.rule_set = rules.id + "@" + std::to_string(rules.version);
  for (const DimLookup& lookup : dims) {
    ReleasedDimension rd;
    rd.name = lookup.dim->name;
    rd.label = lookup.dim->label;
    rd.codes.reserve(lookup.dim->codes.codes.size() + 1);
    for (const templates::Code& code : lookup.dim->codes.codes) {
      rd.codes.push_back(ReleasedCode{code.code, code.label, false});
    }
    rd.codes.push_back(ReleasedCode{"total", {"Totaal", "Total"}, true});
    release.dimensions.push_back(std::move(rd));
  }
  if (!init_error.ok()) {
    // Fail closed: Add() refused every row, so nothing may be released. When the cube itself could
    // not be laid out there are no cells at all.
    if (cell_count > kMaxCells) return release;
  }

  const std::size_t stat_count = stats.size();
  release.cells.reserve(cell_count * stat_count);
  release.provenance.reserve(cell_count * stat_count);
  std::vector<std::uint32_t> coords(dims.size(), 0);
  for (std::size_t cell = 0; cell < cell_count; ++cell) {
    for (std::size_t d = 0; d < dims.size(); ++d) {
      coords[d] = static_cast<std::uint32_t>((cell / strides[d]) % radix[d]);
    }
    for (std::size_t s = 0; s < stat_count; ++s) {
      const StatPlan& plan = stats[s];
      disclosure::Decision decision;
      std::int64_t value = 0;
      if (!init_error.ok()) {
        decision = disclosure::Decision{disclosure::CellStatus::kConfidential, "internal"};
      } else {
        Accumulator& a = acc[cell * stat_count + s];
        switch (plan.kind) {
          case StatisticKind::kCount:
            decision = disclosure::ThresholdRule(rules, a.units_a);
            value = disclosure::RoundToPrecision(a.units_a, plan.precision);
            break;
          case StatisticKind::kSum:
            decision = disclosure::ThresholdRule(rules, a.units_a);
            value = RoundRational(a.sum_a, 1, plan.precision);
            break;
          case StatisticKind::kMean:
            decision = disclosure::ThresholdRule(rules, a.units_a);
            if (a.units_a > 0) value = RoundRational(a.sum_a, a.units_a, plan.precision);
            break;
          case StatisticKind::kQuantile: {
            decision = disclosure::ThresholdRule(rules, a.units_a);
            if (decision.status == disclosure::CellStatus::kReleased) {
              decision = disclosure::QuantileRule(rules, a.units_a, plan.permille);
            }
            if (decision.status == disclosure::CellStatus::kReleased) {
              std::vector<std::int64_t>& values =
                  quantile_values[static_cast<std::size_t>(plan.quantile_slot)][cell];
              const Int128 n = static_cast<Int128>(values.size());
              Int128 rank = (n * plan.permille + 999) / 1000;  // ceil(n * p), 1-based
              if (rank < 1) rank = 1;
              if (rank > n) rank = n;
              auto kth = values.begin() + static_cast<std::ptrdiff_t>(rank - 1);
              std::nth_element(values.begin(), kth, values.end());
              value = disclosure::RoundToPrecision(*kth, plan.precision);
            }
            break;
          }
          case StatisticKind::kShare:
            decision = disclosure::ShareRule(rules, a.units_a, a.units_b);
            if (a.units_b > 0) {
              value = RoundRational(static_cast<Int128>(a.units_a) * 100, a.units_b, plan.precision);
            }
            break;
          case StatisticKind::kRatio:
            decision = disclosure::ThresholdRule(rules, a.units_a);
            if (decision.status == disclosure::CellStatus::kReleased) {
              decision = disclosure::ThresholdRule(rules, a.units_b);
            }
            if (decision.status == disclosure::CellStatus::kReleased && a.sum_b == 0) {
              decision = disclosure::Decision{disclosure::CellStatus::kConfidential, "undefined"};
            }
            if (a.sum_b != 0) value = RoundRational(a.sum_a * 100, a.sum_b, plan.precision);
            break;
        }
      }
      ReleasedCell out;
      out.coordinates = coords;
      out.statistic = static_cast<std::uint32_t>(s);
      out.status = decision.status;
      if (decision.status == disclosure::CellStatus::kReleased) out.value = value;
      release.cells.push_back(std::move(out));
      release.provenance.push_back(CellProvenance{std::move(decision.rule)});
    }
  }
  return release;
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

  std::uint64_t flags = 0;
  for (std::size_t f = 0; f < row.flags.size(); ++f) {
    if (row.flags[f] != 0) flags |= std::uint64_t{1} << f;
  }
  if (m.records.size() >= kNoUnit - 1) {
    m.codes.resize(code_base);
    return absl::ResourceExhaustedError("template " + m.tmpl->id + ": too many rows");
  }
  m.records.push_back(
      Record{m.last_key_hash, key, row.measure.value_or(0), flags, row.measure.has_value()});
  return absl::OkStatus();
}

Release TableBuilder::Finish(const disclosure::RuleSetParams& rules,
                             const std::string& data_version) && {
  Impl& m = *impl_;
  if (m.init_error.ok()) m.Aggregate();
  return m.BuildRelease(rules, data_version);
}

}  // namespace enclave::core
