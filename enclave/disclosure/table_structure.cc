#include "enclave/disclosure/table_structure.h"

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/status.h"

namespace enclave::disclosure {
namespace {

constexpr std::int64_t kMaxExactValue = std::int64_t{1} << 52;

absl::Status CheckParents(const DimensionShape& dim, std::size_t d) {
  const std::string where = "table dimension " + std::to_string(d);
  if (dim.parent.empty()) return absl::OkStatus();
  if (dim.parent.size() != dim.codes) {
    return absl::InvalidArgumentError(where + ": the parent list must be empty or have one entry "
                                      "per code");
  }
  for (std::size_t c = 0; c < dim.codes; ++c) {
    const int p = dim.parent[c];
    if (p == kRoot) continue;
    if (p < 0 || static_cast<std::size_t>(p) >= dim.codes || static_cast<std::size_t>(p) == c) {
      return absl::InvalidArgumentError(where + ": a parent must be another code of the dimension "
                                        "or the total");
    }
  }
  // Every chain of parents reaches the total within `codes` steps, or there is a cycle.
  for (std::size_t c = 0; c < dim.codes; ++c) {
    int node = static_cast<int>(c);
    std::size_t steps = 0;
    while (node != kRoot) {
      if (++steps > dim.codes) {
        return absl::InvalidArgumentError(where + ": the parent list has a cycle");
      }
      node = dim.parent[static_cast<std::size_t>(node)];
    }
  }
  return absl::OkStatus();
}

}  // namespace

std::size_t TableStructure::CellIndex(const std::vector<std::size_t>& coords) const {
  std::size_t cell = 0;
  for (std::size_t d = 0; d < coords.size(); ++d) cell += coords[d] * strides[d];
  return cell;
}

std::vector<std::size_t> TableStructure::Coordinates(std::size_t cell) const {
  std::vector<std::size_t> coords(dimensions.size());
  for (std::size_t d = 0; d < dimensions.size(); ++d) {
    coords[d] = (cell / strides[d]) % (dimensions[d].codes + 1);
  }
  return coords;
}

absl::StatusOr<TableStructure> BuildCube(const std::vector<DimensionShape>& dimensions) {
  TableStructure t;
  t.dimensions = dimensions;
  t.strides.assign(dimensions.size(), 1);
  std::size_t cells = 1;
  for (std::size_t d = dimensions.size(); d-- > 0;) {
    if (absl::Status s = CheckParents(dimensions[d], d); !s.ok()) return s;
    t.strides[d] = cells;
    const std::size_t radix = dimensions[d].codes + 1;
    if (radix == 0 || cells > kMaxCubeCells / radix) {
      return absl::InvalidArgumentError("the table has more than " +
                                        std::to_string(kMaxCubeCells) + " cells");
    }
    cells *= radix;
  }
  t.cell_count = cells;

  for (std::size_t d = 0; d < dimensions.size(); ++d) {
    const DimensionShape& dim = dimensions[d];
    const std::size_t radix = dim.codes + 1;
    // children[node]: node is a code index or dim.codes (the total).
    std::vector<std::vector<std::size_t>> children(radix);
    for (std::size_t c = 0; c < dim.codes; ++c) {
      const int p = dim.parent.empty() ? kRoot : dim.parent[c];
      children[p == kRoot ? dim.codes : static_cast<std::size_t>(p)].push_back(c);
    }
    const std::size_t stride = t.strides[d];
    for (std::size_t node = 0; node < radix; ++node) {
      if (children[node].empty()) continue;
      for (std::size_t cell = 0; cell < cells; ++cell) {
        if ((cell / stride) % radix != node) continue;
        Relation r;
        r.total = cell;
        r.kind = dim.multi_valued ? RelationKind::kUnion : RelationKind::kSum;
        r.parts.reserve(children[node].size());
        for (std::size_t child : children[node]) r.parts.push_back(cell - node * stride + child * stride);
        t.relations.push_back(std::move(r));
      }
    }
  }
  return t;
}

absl::Status CheckValues(const TableStructure& structure, const std::vector<std::int64_t>& values) {
  if (values.size() != structure.cell_count) {
    return absl::InvalidArgumentError("the table has " + std::to_string(structure.cell_count) +
                                      " cells but " + std::to_string(values.size()) +
                                      " values were given");
  }
  for (std::int64_t v : values) {
    if (v < 0 || v > kMaxExactValue) {
      return absl::InvalidArgumentError("cell values must lie in [0, 2^52]");
    }
  }
  for (const Relation& r : structure.relations) {
    if (r.total >= values.size()) return absl::InvalidArgumentError("a relation names no cell");
    std::int64_t sum = 0;
    for (std::size_t p : r.parts) {
      if (p >= values.size()) return absl::InvalidArgumentError("a relation names no cell");
      if (__builtin_add_overflow(sum, values[p], &sum)) {
        return absl::InvalidArgumentError("a relation's parts overflow");
      }
      if (r.kind == RelationKind::kUnion && values[p] > values[r.total]) {
        return absl::InvalidArgumentError("a part exceeds its distinct-unit total");
      }
    }
    if (r.kind == RelationKind::kUnion) {
      if (values[r.total] > sum) {
        return absl::InvalidArgumentError("a distinct-unit total exceeds the sum of its parts");
      }
    } else if (sum != values[r.total]) {
      return absl::InvalidArgumentError("a total differs from the sum of its parts (the table is "
                                        "not additive)");
    }
  }
  return absl::OkStatus();
}

}  // namespace enclave::disclosure
