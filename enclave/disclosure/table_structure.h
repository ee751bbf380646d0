// The additive structure of a table for secondary suppression (disclosure-control.md §4): cells
// 0..N-1 and relations cell[total] = Σ cell[parts], or, for the distinct-unit counts of a
// multi-valued dimension (a unit may lie in several of its codes), part <= total <= Σ parts.
// Pure: no I/O.
//
// A cube is laid out as enclave/core lays out a release (core/table_builder.cc, core/release.h): each
// dimension has its codes 0..n-1 and then its total at index n; cell index = Σ coord[d]·stride[d],
// the first dimension slowest. A hierarchical dimension (wijk → wijkcluster → gemeente) lists the
// codes of every level in one code list and gives each code its parent: the index of another code
// in the same list, or kRoot when the parent is the dimension's total. Example, 4 wijken in 2
// clusters: codes {w1, w2, w3, w4, c1, c2}, parent {4, 4, 5, 5, kRoot, kRoot}: relations
// c1 = w1 + w2, c2 = w3 + w4 and total = c1 + c2 (not total = Σ wijken: the total's parts are the
// codes whose parent is kRoot). A flat dimension leaves `parent` empty (every code under the total).
//
// A multi-valued dimension (disclosure-control.md §4.6: T7's verblijf, a young person with two
// trajectories lies in two codes) gives kUnion relations: its total counts each unit once, so it
// is at least every part and at most their sum. Its other relations (along the other dimensions)
// stay sums as long as each unit has one code in each other dimension.
//
//   absl::StatusOr<TableStructure> t = BuildCube({{.codes = 13}, {.codes = 50}});
//   std::size_t cell = t->CellIndex({3, 50});  // wijk 3, total over the second dimension
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

#include "absl/status/statusor.h"

namespace enclave::disclosure {

enum class RelationKind {
  kSum,    // cell[total] = Σ cell[parts]
  kUnion,  // cell[part] <= cell[total] for every part, and cell[total] <= Σ cell[parts]
};

struct Relation {
  std::size_t total = 0;
  std::vector<std::size_t> parts;
  RelationKind kind = RelationKind::kSum;
};

inline constexpr int kRoot = -1;

struct DimensionShape {
  std::size_t codes = 0;    // codes, not counting the total
  std::vector<int> parent;  // empty (flat) or one entry per code: a code index or kRoot
  bool multi_valued = false;  // its relations are kUnion (distinct-unit counts)
};

struct TableStructure {
  std::size_t cell_count = 0;
  std::vector<Relation> relations;
  // Set by BuildCube; empty for a structure built by hand (then only the audit can use it, not
  // ProtectTable, which needs the cube to form its candidate hypercubes).
  std::vector<DimensionShape> dimensions;
  std::vector<std::size_t> strides;

  // REQUIRES: a cube, coords.size() == dimensions.size(), each coordinate <= its dimension's codes.
  std::size_t CellIndex(const std::vector<std::size_t>& coords) const;
  // REQUIRES: a cube, cell < cell_count.
  std::vector<std::size_t> Coordinates(std::size_t cell) const;
};

// Largest cube BuildCube lays out (cells, margins included).
inline constexpr std::size_t kMaxCubeCells = std::size_t{1} << 22;

// Relations of the full cube with every margin: for each dimension, each of its parent nodes (the
// total and every code with children) and each combination of the other dimensions' coordinates
// (codes and totals): parent cell = Σ child cells (kUnion for a multi-valued dimension).
// kInvalidArgument for a parent list of the
// wrong length, a parent index out of range or pointing at itself, a cycle, or a cube larger than
// kMaxCubeCells. Zero dimensions give the one-cell table with no relations.
absl::StatusOr<TableStructure> BuildCube(const std::vector<DimensionShape>& dimensions);

// kInvalidArgument unless values has cell_count entries, each in [0, 2^52] (exact as a double),
// and every relation holds exactly (a kUnion relation: every part <= total <= Σ parts).
absl::Status CheckValues(const TableStructure& structure, const std::vector<std::int64_t>& values);

}  // namespace enclave::disclosure
