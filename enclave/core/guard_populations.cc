// The populations step 5 compares (disclosure-control.md §6.1, §6.2): every cell of the table over its
// non-sensitive dimensions, with the partitions of it the table shows.
#include "enclave/core/internal/table.h"

namespace enclave::core {

// Looks each distinct unit up once (index for the guard, record key for the cell keys) and
// collects the guarded populations: every cell of the table over its non-sensitive dimensions
// (released level of a hierarchy, and the total), with the partitions of it the table shows.
// With `entities` (the template's disclosure.threshold_entity) each population is the cell's
// distinct entities (its units' holdings) plus the identity element of its units
// (disclosure::EntityPopulation): the guard then compares what the thresholds count.
absl::Status TableBuilder::Impl::IndexUnits(UnitIndex& units, UnitIndex* entities) {
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
  std::vector<std::uint32_t> entity_of;  // per holding id: its index among the entities
  if (entities != nullptr) {
    entity_of.resize(holdings.size());
    for (std::uint32_t h = 0; h < holdings.size(); ++h) {
      std::optional<UnitIndex::Entry> entry = entities->Lookup(holdings.key(h));
      if (!entry.has_value()) {
        return absl::InternalError("template " + TemplateName() + " returned a " +
                                   entities->unit_type() +
                                   " that is not in the unit index of the loaded data");
      }
      entity_of[h] = entry->index;
    }
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
  std::vector<std::vector<std::uint32_t>> entity_members(entities != nullptr ? g_cells : 0);
  std::vector<std::uint32_t> stamp(g_cells, kNoUnit);
  std::vector<std::size_t> targets;
  for (std::uint32_t u : by_index) {
    const std::uint32_t index = unit_entry[u].index;
    // A unit's rows normally share one holding; when they do not, every row's holding is an
    // entity of the cells the row lies in (repeats are removed below).
    bool mixed = false;
    for (std::uint32_t i = unit_start[u]; entities != nullptr && i < unit_start[u + 1]; ++i) {
      mixed = mixed || records[order[i]].holding != records[order[unit_start[u]]].holding;
    }
    for (std::uint32_t i = unit_start[u]; i < unit_start[u + 1]; ++i) {
      const std::uint32_t holding = records[order[i]].holding;
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
        if (stamp[cell] == u) {
          if (mixed) entity_members[cell].push_back(entity_of[holding]);
          continue;
        }
        stamp[cell] = u;
        members[cell].push_back(index);
        if (entities != nullptr) entity_members[cell].push_back(entity_of[holding]);
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
    if (entities != nullptr) {
      ENCLAVE_ASSIGN_OR_RETURN(p.units, disclosure::EntityPopulation(
                                            std::move(entity_members[cell]), p.units));
    }
    populations.push_back(std::move(p));
  }
  return absl::OkStatus();
}

}  // namespace enclave::core
