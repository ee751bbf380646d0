// Internal to the TableBuilder (aggregate.h): the types and the state its files share. The request
// path shows in the file names: table_builder.cc (step 3: rows to per-cell unit contributions),
// guard_populations.cc (the populations of step 5), primary_rules.cc (step 4),
// secondary_suppression.cc (step 6), release_assembly.cc (steps 7-9 and the pipeline's order).
// Include only from those files.
#pragma once

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
#include "enclave/core/aggregate.h"

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
//   SHARE     per * (units with the flag among the denominator units) / (units with the
//             denominator flag, or all units); per = 100 (a percentage) or 1000 (per 1,000).
//   RATIO     100 * sum(measure | flag) / sum(measure | denominator flag).
//   RELATIVE_RISK  counted as SHARE; released as 100 * (the cell's share) / (the share of the
//             same cell with the reference dimensions at their total), from perturbed counts.
// Alongside, per cell and statistic: the cell key of the counted units (the sum of their record
// keys mod 2^32, rolled up like the counts) and, for magnitudes, |x| sum, min, max and the largest
// |x|. The disclosure pipeline (Disclose) then decides, suppresses, perturbs and derives; see
// aggregate.h. Every division is integer arithmetic on 128-bit intermediates, rounded once to the
namespace enclave::core {
namespace table_internal {


__extension__ using Int128 = __int128;

using templates::StatisticKind;

constexpr std::size_t kMaxCells = std::size_t{1} << 24;
constexpr std::size_t kMaxFlags = 64;
constexpr std::uint32_t kNoUnit = std::numeric_limits<std::uint32_t>::max();

inline std::int64_t Saturate(Int128 v) {
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
inline Int128 RoundDiv(Int128 num, Int128 den) {
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
inline std::int64_t RoundRational(Int128 num, Int128 den, std::int64_t precision) {
  const Int128 p = precision > 1 ? precision : 1;
  return Saturate(RoundDiv(num, den * p) * p);
}

inline std::int64_t SaturatingAdd(std::int64_t a, std::int64_t b) {
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
inline std::uint64_t Load64(const char* p) {
  std::uint64_t v = 0;
  std::memcpy(&v, p, sizeof(v));
  return v;
}

inline std::uint64_t Load32(const char* p) {
  std::uint32_t v = 0;
  std::memcpy(&v, p, sizeof(v));
  return v;
}

inline std::uint64_t HashKey(std::string_view s) {
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
  std::int64_t per = 100;  // SHARE: 100 (a percentage) or 1000 (per 1,000)
  int quantile_slot = -1;
  std::int64_t magnitude_precision = 1;  // set in Finish from the template and the rule set
  // SHARE_DIFFERENCE: the indices of the minuend and subtrahend SHARE statistics, and the bound.
  int minuend = -1;
  int subtrahend = -1;
  templates::DifferenceBound bound = templates::DifferenceBound::kEstimate;
  // RELATIVE_RISK: the table dimensions set to their total in the reference cell (reference
  // dimensions the request does not break down by are at their total anyway).
  std::vector<std::size_t> reference_dims;
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
inline void RadixSortByHash(std::vector<std::pair<std::uint32_t, std::uint32_t>>& items) {
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

inline bool Matches(std::uint64_t flags, std::uint64_t mask) { return (flags & mask) == mask; }

inline bool IsMagnitude(StatisticKind kind) {
  return kind == StatisticKind::kSum || kind == StatisticKind::kMean ||
         kind == StatisticKind::kRatio;
}

inline disclosure::MagnitudeFacts Facts(std::int64_t units, const MagnitudePart& part) {
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

inline std::string SafeParams(std::string params) {
  // The query log joins cells with ','; keep each cell's parameters one field.
  std::replace(params.begin(), params.end(), ',', '/');
  return params;
}

inline absl::Status Unsafe(const std::string& why) {
  return absl::FailedPreconditionError(
      "this table cannot be released safely (" + why +
      "); choose fewer breakdowns or a coarser geography");
}

}  // namespace table_internal

using namespace table_internal;  // NOLINT(google-build-using-namespace): internal header

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
  absl::Status IndexUnits(UnitIndex& units, UnitIndex* entities);
  void RollUpMargins();
  absl::Status Aggregate(UnitIndex& units, UnitIndex* entities);
  // The disclosure pipeline (release_assembly.cc runs it): one Pipeline per Finish.
  struct Pipeline {
    const DisclosureTools* tools = nullptr;
    const disclosure::RuleSetParams* rules = nullptr;
    Release release;
    std::optional<disclosure::Ptable> rounding;
    const disclosure::Ptable* count_table = nullptr;
    std::vector<disclosure::Decision> decisions;                // cell * stats + s
    std::vector<disclosure::ProtectionRequirement> requirement;  // for primary cells
    std::vector<bool> primary;
    std::vector<std::int64_t> quantile;
  };
  absl::StatusOr<Release> Disclose(const DisclosureTools& tools, const std::string& data_version);
  // The release's skeleton and the rule set's one count treatment (release_assembly.cc).
  absl::Status StartRelease(Pipeline& p, const std::string& data_version);
  // Step 4 (primary_rules.cc): every cell and statistic decided on true values.
  void PrimaryRules(Pipeline& p);
  // Step 6 (secondary_suppression.cc): complementary suppressions judged by the LP attacker.
  absl::Status SecondarySuppression(Pipeline& p);
  // After step 6 (release_assembly.cc): a comparison (SHARE_DIFFERENCE, its two shares and the
  // COUNTs of their denominator flags) is released in a cell only as a whole (§3.6a).
  void TieComparisons(Pipeline& p);
  // Steps 7-9 (release_assembly.cc): perturb, derive, assemble in canonical order.
  absl::Status PerturbAndAssemble(Pipeline& p);

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

}  // namespace enclave::core
