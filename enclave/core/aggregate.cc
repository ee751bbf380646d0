#include "enclave/core/aggregate.h"

#include <algorithm>
#include <array>
#include <chrono>
#include <map>
#include <numeric>
#include <optional>
#include <cstdint>
#include <cstring>
#include <limits>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/match.h"
#include "enclave/base/status_macros.h"
#include "enclave/disclosure/primary.h"
#include "enclave/disclosure/rule_set.h"
#include "enclave/disclosure/secondary.h"
#include "enclave/disclosure/table_structure.h"

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
//   COUNT     units with the flag (all units without one).
//   SUM       sum of measures of units with the flag and a measure.
//   MEAN      that sum / those units.
//   QUANTILE  nearest rank over those units' measures: the k-th smallest with
//             k = ceil(n * permille / 1000) (at least 1).
//   SHARE     100 * (units with the flag among the denominator units) / (units with the
//             denominator flag, or all units).
//   RATIO     100 * sum(measure | flag) / sum(measure | denominator flag).
// Alongside, per cell and statistic: the cell key of the counted units (the sum of their record
// keys mod 2^32, rolled up like the counts) and, for magnitudes, |x| sum, min, max and the largest
// |x|. The disclosure pipeline (Disclose) then decides, suppresses, perturbs and derives; see
// aggregate.h. Every division is integer arithmetic on 128-bit intermediates, rounded once to the
// statistic's precision; results beyond int64 saturate.
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
  std::int64_t magnitude_precision = 1;  // set in Finish from the template and the rule set
};

// One row, reduced to what aggregation needs.
struct Record {
  std::uint32_t key_hash = 0;  // HashKey of the unit key, folded to 32 bits
  std::uint32_t key = 0;       // index into Impl::keys
  std::int64_t measure = 0;
  std::uint64_t flags = 0;
  bool has_measure = false;
  std::uint32_t holding = 0;  // index into Impl::holdings (templates declaring a holding column)
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

// One unit's contribution to a magnitude part of one cell, tagged with its holding: merged per
// holding before the dominance facts are formed. slot = (cell * stats + s) * 2 + part (0: a, 1: b).
struct HoldingItem {
  std::size_t slot = 0;
  std::uint32_t holding = 0;
  std::int64_t measure = 0;
};

// One unit's contribution to one cell.
struct Contribution {
  std::uint32_t cell = 0;
  std::int64_t measure = 0;
  std::uint64_t flags = 0;
  bool has_measure = false;
};

// The largest |contributions| of a magnitude, descending: enough for every (n,k) rule and the p%
// coalition (disclosure::MagnitudeFacts::top_abs).
constexpr std::size_t kTop =
    static_cast<std::size_t>(std::max<std::int64_t>(disclosure::kMaxDominanceN,
                                                    disclosure::kMaxCoalition + 1));

struct TopAbs {
  std::array<std::int64_t, kTop> v{};
  std::uint32_t n = 0;
  void Insert(std::int64_t x) {
    if (n < kTop) {
      v[n++] = x;
    } else if (x > v[kTop - 1]) {
      v[kTop - 1] = x;
    } else {
      return;
    }
    for (std::size_t i = n - 1; i > 0 && v[i] > v[i - 1]; --i) std::swap(v[i], v[i - 1]);
  }
  void Merge(const TopAbs& o) {
    for (std::uint32_t i = 0; i < o.n; ++i) Insert(o.v[i]);
  }
};

// One magnitude part (a sum's contributions): the facts the primary rules and §5.7 need.
struct MagnitudePart {
  Int128 abs_sum = 0;
  // Distinct holdings when the template declares them (then abs_sum and top are over holding
  // sums, set by Impl::MergeHoldings); -1: every unit is its own holding.
  std::int64_t holdings = -1;
  std::int64_t min = std::numeric_limits<std::int64_t>::max();
  std::int64_t max = std::numeric_limits<std::int64_t>::min();
  TopAbs top;
  void Add(std::int64_t x) {
    const std::int64_t a = x == std::numeric_limits<std::int64_t>::min()
                               ? std::numeric_limits<std::int64_t>::max()
                               : (x < 0 ? -x : x);
    abs_sum += a;
    min = std::min(min, x);
    max = std::max(max, x);
    top.Insert(a);
  }
  void Merge(const MagnitudePart& o) {
    abs_sum += o.abs_sum;
    min = std::min(min, o.min);
    max = std::max(max, o.max);
    top.Merge(o.top);
  }
};

// Per cell and statistic.
struct Accumulator {
  std::int64_t units_a = 0;  // numerator / contributing units
  std::int64_t units_b = 0;  // denominator units (SHARE, RATIO)
  Int128 sum_a = 0;
  Int128 sum_b = 0;
  std::uint32_t key_a = 0;  // cell key of the units counted in units_a (sum of record keys)
  std::uint32_t key_b = 0;  // ... in units_b
  MagnitudePart mag_a;      // SUM, MEAN, RATIO numerator
  MagnitudePart mag_b;      // RATIO denominator
};

constexpr std::uint32_t kDropped = std::numeric_limits<std::uint32_t>::max();

// One table dimension. A flat dimension has its codes 0..n-1 and the total n. A dimension on a
// level of a hierarchy (disclosure-control.md §4.6: wijk -> wijkcluster -> gemeente) is aggregated
// and protected on the full hierarchy: coordinates 0..n_child-1 are the child level's codes (the
// rows are mapped by the child column), n_child..n_child+n_parent-1 the parent level's, then the
// total; only the requested level (and the total) is released.
struct DimLookup {
  std::size_t row_index = 0;  // index into RowView::dimensions: the column rows are mapped by
  const templates::Dimension* dim = nullptr;  // the released dimension (the requested level)
  const templates::Dimension* child = nullptr;   // the level rows are mapped by (dim when flat)
  const templates::Dimension* parent = nullptr;  // hierarchical: the level above child
  bool hierarchical = false;
  std::size_t parent_row_index = 0;  // hierarchical: the parent column, checked per row
  std::uint32_t n_child = 0;         // codes of `child`
  std::vector<std::uint32_t> up;        // per coordinate below the total: its parent coordinate
  std::vector<std::uint32_t> released;  // per coordinate: in the release, or kDropped
  std::vector<std::string_view> parent_code;  // hierarchical: per child code, its parent's code
  KeyIndex codes;                   // code string -> id
  std::vector<std::uint32_t> code_of;  // id -> index in the code list
  std::uint32_t last_id = KeyIndex::kMissing;  // the previous row's id, checked first
  // The template dimension and code index of a coordinate below the total.
  std::pair<const templates::Dimension*, std::size_t> CodeAt(std::size_t k) const {
    if (k < n_child) return {child, k};
    return {parent, k - n_child};
  }
};

bool Matches(std::uint64_t flags, std::uint64_t mask) { return (flags & mask) == mask; }

bool IsMagnitude(StatisticKind kind) {
  return kind == StatisticKind::kSum || kind == StatisticKind::kMean ||
         kind == StatisticKind::kRatio;
}

disclosure::MagnitudeFacts Facts(std::int64_t units, const MagnitudePart& part) {
  disclosure::MagnitudeFacts f;
  f.units = units;
  f.holdings = part.holdings >= 0 ? part.holdings : units;
  f.abs_sum = Saturate(part.abs_sum);
  f.top_abs.assign(part.top.v.begin(), part.top.v.begin() + part.top.n);
  if (units > 0) {
    f.min = part.min;
    f.max = part.max;
  }
  return f;
}

std::string SafeParams(std::string params) {
  // The query log joins cells with ','; keep each cell's parameters one field.
  std::replace(params.begin(), params.end(), ',', '/');
  return params;
}

absl::Status Unsafe(const std::string& why) {
  return absl::FailedPreconditionError(
      "this table cannot be released safely (" + why +
      "); choose fewer breakdowns or a coarser geography");
}

}  // namespace

struct TableBuilder::Impl {
  const templates::BoundQuery* query = nullptr;
  const templates::Template* tmpl = nullptr;
  absl::Status init_error;

  std::vector<DimLookup> dims;
  std::vector<std::uint32_t> radix;     // codes + 1 (the total), per table dimension
  std::vector<std::uint32_t> strides;   // first dimension slowest
  std::size_t cell_count = 1;
  std::size_t fan = 1;  // cells each record belongs to (Targets)
  std::vector<StatPlan> stats;
  int quantile_slots = 0;

  KeyArena arena;
  std::vector<std::string_view> keys;  // unit keys as stored; consecutive repeats share one
  std::uint32_t last_key_hash = 0;

  // Finish-time grouping: record indices grouped by unit, and where each unit's group starts.
  std::vector<std::uint32_t> order;
  std::vector<std::uint32_t> unit_start;
  std::vector<UnitIndex::Entry> unit_entry;  // per unit (grouping order): index and record key

  std::vector<Record> records;
  std::vector<std::uint32_t> codes;  // records.size() * dims.size()

  // Holdings (tmpl->disclosure.holding_column set): interned holding keys, and per magnitude
  // contribution its holding, merged in MergeHoldings.
  bool track_holdings = false;
  KeyArena holding_arena;
  KeyIndex holdings;
  std::uint32_t last_holding = KeyIndex::kMissing;
  std::vector<HoldingItem> holding_items;

  // Finish-time state.
  std::vector<std::int64_t> cell_units;
  std::vector<Accumulator> acc;                           // cell * stats + s
  std::vector<std::vector<std::vector<std::int64_t>>> quantile_values;  // slot, cell
  std::vector<disclosure::GuardedPopulation> populations;

  void Init(const templates::BoundQuery& q);
  std::string TemplateName() const { return tmpl != nullptr ? tmpl->id : std::string("?"); }
  void Targets(const std::uint32_t* record_codes, std::uint32_t* out) const;
  void Emit(const Contribution& c, std::uint32_t record_key, std::uint32_t holding);
  void MergeHoldings();
  void GroupByUnit();
  absl::Status IndexUnits(UnitIndex& units);
  void RollUpMargins();
  absl::Status Aggregate(UnitIndex& units);
  absl::StatusOr<Release> Disclose(const DisclosureTools& tools, const std::string& data_version);

  // Sensitive categories and structural zeros of the template, resolved to this table.
  struct ZeroPlan {
    std::vector<std::pair<std::size_t, std::size_t>> coords;  // (table dimension, code index)
  };
  // A table dimension that is an attribute of a flag (DisclosureSettings::sensitive_dimensions
  // with a flag: the leefvorm of a bijstand spell): its codes imply the flag, its none code the
  // flag's absence.
  struct AttributeDim {
    std::size_t dim = 0;            // table dimension
    std::uint64_t flag_mask = 0;    // the flag it describes
    std::uint32_t none_coord = 0;   // coordinate of the none code
  };
  struct GroupPlan {
    std::vector<std::vector<bool>> sensitive_code;  // per table dimension, per code
    std::vector<bool> sensitive_stat;               // per statistic: its flag is sensitive
    std::vector<ZeroPlan> zeros;                    // only those whose dimensions are all in the table
    std::vector<AttributeDim> attributes;
  };
  enum class AttributeCell { kNone, kCategory, kAbsent };
  // Where a cell lies on the attribute dimensions of a flag: on a category of one (kCategory: the
  // cell is a part of the flag's units by definition), on the none code of one (kAbsent: the
  // flag's count is zero by definition), or neither. `group` receives the cell with every such
  // attribute dimension at its total (the group a category is part of).
  AttributeCell OnAttributes(const GroupPlan& plan, std::uint64_t flag_mask, std::size_t cell,
                             const std::vector<std::size_t>& coords, std::size_t* group) const;
  GroupPlan PlanGroups() const;
  // The groups a COUNT cell of statistic s belongs to: one per sensitive dimension code it lies in,
  // one when the statistic's flag is sensitive, and a non-sensitive one carrying a structural zero.
  std::vector<disclosure::GroupFacts> CellGroups(const GroupPlan& plan, std::size_t s,
                                                 std::size_t cell,
                                                 const std::vector<std::size_t>& coords) const;
};

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
        if (Matches(c.flags, plan.den_mask)) {
          ++a.units_b;
          a.key_b += record_key;
          if (Matches(c.flags, plan.flag_mask)) {
            ++a.units_a;
            a.key_a += record_key;
          }
        }
        break;
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

// Looks each distinct unit up once (index for the guard, record key for the cell keys) and
// collects the guarded populations: every cell of the table over its non-sensitive dimensions
// (released level of a hierarchy, and the total), with the partitions of it the table shows.
absl::Status TableBuilder::Impl::IndexUnits(UnitIndex& units) {
  const std::size_t unit_count = unit_start.size() - 1;
  unit_entry.resize(unit_count);
  const std::size_t dim_count = dims.size();
  for (std::size_t u = 0; u < unit_count; ++u) {
    const std::string_view key = keys[records[order[unit_start[u]]].key];
    std::optional<UnitIndex::Entry> entry = units.Lookup(key);
    if (!entry.has_value()) {
      return absl::InternalError("template " + TemplateName() + " returned a " + tmpl->unit +
                                 " that is not in the unit index of the loaded data");
    }
    unit_entry[u] = *entry;
  }

  // The sub-cube over the guarded (non-sensitive) dimensions: released codes and the total.
  std::vector<std::size_t> guarded;
  for (std::size_t d = 0; d < dim_count; ++d) {
    if (!tmpl->disclosure.IsSensitiveDimension(dims[d].dim->name)) guarded.push_back(d);
  }
  std::vector<std::uint32_t> g_total(guarded.size());
  std::vector<std::size_t> g_stride(guarded.size());
  std::size_t g_cells = 1;
  for (std::size_t i = guarded.size(); i-- > 0;) {
    g_total[i] = dims[guarded[i]].released.back();  // the released level's code count
    g_stride[i] = g_cells;
    g_cells *= g_total[i] + 1;
    if (g_cells > kMaxCells) return absl::InternalError("template " + TemplateName() + ": too many cells");
  }

  // Units in index order, so that each cell's members come out sorted.
  std::vector<std::uint32_t> by_index(unit_count);
  std::iota(by_index.begin(), by_index.end(), 0U);
  std::sort(by_index.begin(), by_index.end(), [&](std::uint32_t a, std::uint32_t b) {
    return unit_entry[a].index < unit_entry[b].index;
  });
  std::vector<std::vector<std::uint32_t>> members(g_cells);
  std::vector<std::uint32_t> stamp(g_cells, kNoUnit);
  std::vector<std::size_t> targets;
  for (std::uint32_t u : by_index) {
    const std::uint32_t index = unit_entry[u].index;
    for (std::uint32_t i = unit_start[u]; i < unit_start[u + 1]; ++i) {
      const std::uint32_t* rc = codes.data() + static_cast<std::size_t>(order[i]) * dim_count;
      // The record's cell and every cell above it (any guarded coordinates at the total).
      targets.assign(1, 0);
      for (std::size_t k = 0; k < guarded.size(); ++k) {
        const DimLookup& lookup = dims[guarded[k]];
        // The released code the record lies in: its own, or its parent's on the parent level.
        std::uint32_t g = lookup.released[rc[guarded[k]]];
        if (g == kDropped) g = lookup.released[lookup.up[rc[guarded[k]]]];
        const std::size_t n = targets.size();
        for (std::size_t t = 0; t < n; ++t) {
          targets.push_back(targets[t] + g_total[k] * g_stride[k]);
          targets[t] += g * g_stride[k];
        }
      }
      for (std::size_t cell : targets) {
        if (stamp[cell] == u) continue;
        stamp[cell] = u;
        members[cell].push_back(index);
      }
    }
  }

  // The partitions a cell's population is shown in: every non-empty set of the table's
  // dimensions at their total there (sensitive dimensions are always at their total in a guarded
  // cell), named by the released levels' code lists.
  populations.clear();
  std::vector<std::string> names;
  for (std::size_t cell = 0; cell < g_cells; ++cell) {
    if (members[cell].empty()) continue;
    names.clear();
    for (std::size_t d = 0; d < dim_count; ++d) {
      const auto k = std::find(guarded.begin(), guarded.end(), d);
      const bool at_total =
          k == guarded.end() ||
          (cell / g_stride[static_cast<std::size_t>(k - guarded.begin())]) %
                  (g_total[static_cast<std::size_t>(k - guarded.begin())] + 1) ==
              g_total[static_cast<std::size_t>(k - guarded.begin())];
      if (at_total) names.push_back(dims[d].dim->codes.name);
    }
    std::sort(names.begin(), names.end());
    disclosure::GuardedPopulation p;
    for (std::size_t subset = 1; subset < (std::size_t{1} << names.size()); ++subset) {
      std::string partition;
      for (std::size_t b = 0; b < names.size(); ++b) {
        if ((subset >> b & 1U) == 0) continue;
        if (!partition.empty()) partition += '+';
        partition += names[b];
      }
      p.partitions.push_back(std::move(partition));
    }
    p.units = disclosure::Population::FromSorted(std::move(members[cell]));
    populations.push_back(std::move(p));
  }
  return absl::OkStatus();
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

absl::Status TableBuilder::Impl::Aggregate(UnitIndex& units) {
  cell_units.assign(cell_count, 0);
  acc.assign(cell_count * stats.size(), Accumulator{});
  quantile_values.assign(static_cast<std::size_t>(quantile_slots),
                         std::vector<std::vector<std::int64_t>>(cell_count));
  const std::size_t dim_count = dims.size();
  std::vector<std::uint32_t> targets(fan);

  GroupByUnit();
  ENCLAVE_RETURN_IF_ERROR(IndexUnits(units));
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

absl::StatusOr<Release> TableBuilder::Impl::Disclose(const DisclosureTools& tools,
                                                     const std::string& data_version) {
  const disclosure::RuleSetParams& rules = *tools.rules;
  Release release;
  release.tmpl = tmpl;
  release.params = query->params;
  release.data_version = data_version;
  release.rule_set = disclosure::Tag(rules);
  release.rule_set_text = disclosure::CanonicalText(rules);
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

  // The one count treatment of the rule set (§5.5: never stack CKM and rounding).
  std::optional<disclosure::Ptable> rounding;
  const disclosure::Ptable* count_table = nullptr;
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

  const std::size_t stat_count = stats.size();
  const std::size_t cells = cell_count * stat_count;

  // Step 4: primary rules on true values. Sensitive categories and structural zeros (§3.4) are
  // resolved against this table's dimensions first.
  const GroupPlan groups = PlanGroups();
  std::vector<std::size_t> coords_of(dims.size(), 0);
  std::vector<disclosure::Decision> decisions(cells);
  std::vector<disclosure::ProtectionRequirement> requirement(cells);
  std::vector<bool> primary(cells, false);
  std::vector<std::int64_t> quantile(cells, 0);
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
          const disclosure::MagnitudeFacts facts = Facts(a.units_a, a.mag_a);
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
        case StatisticKind::kShare: {
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
        case StatisticKind::kRatio:
          d = disclosure::RatioDecision(rules, Facts(a.units_a, a.mag_a),
                                        Facts(a.units_b, a.mag_b));
          if (d.status == disclosure::CellStatus::kReleased && a.sum_b == 0) {
            d = disclosure::Decision{disclosure::CellStatus::kConfidential, "undefined"};
          }
          break;
      }
    }
  }

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
        additive[{0, plan.flag_mask | plan.den_mask}].push_back(s);
        break;
      case StatisticKind::kSum:
      case StatisticKind::kMean:
        additive[{1, plan.flag_mask}].push_back(s);
        break;
      case StatisticKind::kQuantile:
      case StatisticKind::kRatio:
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
          primaries.push_back({cell, requirement[i]});
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
            const std::int64_t num = released_count(a.units_a, a.key_a);
            const std::int64_t den = released_count(a.units_b, a.key_b);
            if (den > 0) value = RoundRational(static_cast<Int128>(num) * 100, den, plan.precision);
            break;
          }
          case StatisticKind::kRatio: {
            const std::int64_t num = perturb_sum(a.sum_a, a.mag_a, a.key_a, 1).perturbed;
            const std::int64_t den = perturb_sum(a.sum_b, a.mag_b, a.key_b, 1).perturbed;
            if (den != 0) value = RoundRational(static_cast<Int128>(num) * 100, den, plan.precision);
            break;
          }
        }
        if (!value.has_value()) {
          d = disclosure::Decision{disclosure::CellStatus::kConfidential, "derived-undefined"};
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
  ENCLAVE_RETURN_IF_ERROR(disclosure::CheckMagnitudeParams(tools.magnitude));
  ENCLAVE_RETURN_IF_ERROR(m.Aggregate(*tools.units));
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
