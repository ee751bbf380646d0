#include "enclave/disclosure/ptable.h"

#include <algorithm>
#include <limits>
#include <utility>

#include "enclave/base/check.h"

namespace enclave::disclosure {
namespace {

std::string RowName(const PtableSpec& spec, std::size_t r) {
  if (spec.mapping == RowMapping::kGeneralBeyond && r + 1 == spec.rows.size()) {
    return "ptable " + spec.id + " general row";
  }
  return "ptable " + spec.id + " row " + std::to_string(r);
}

}  // namespace

std::int32_t PtableRow::Lookup(std::uint32_t cell_key) const {
  std::uint64_t cumulative = 0;
  for (std::size_t k = 0; k < counts.size(); ++k) {
    cumulative += counts[k];
    if (cumulative > cell_key) return min_v + static_cast<std::int32_t>(k);
  }
  ENCLAVE_CHECK(false && "ptable row does not cover the key space");
  return 0;
}

Int128 PtableRow::SumV() const {
  Int128 sum = 0;
  for (std::size_t k = 0; k < counts.size(); ++k) {
    sum += static_cast<Int128>(min_v + static_cast<std::int32_t>(k)) * counts[k];
  }
  return sum;
}

Int128 PtableRow::SumV2() const {
  Int128 sum = 0;
  for (std::size_t k = 0; k < counts.size(); ++k) {
    const std::int64_t v = min_v + static_cast<std::int32_t>(k);
    sum += static_cast<Int128>(v * v) * counts[k];
  }
  return sum;
}

absl::Status CheckPtable(const PtableSpec& spec) {
  if (spec.rows.empty()) return absl::InvalidArgumentError("ptable " + spec.id + " has no rows");
  if (spec.max_deviation < 0 || spec.js < 0 || spec.max_bias_numerator < 0) {
    return absl::InvalidArgumentError("ptable " + spec.id +
                                      ": D, js and the bias bound must be >= 0");
  }
  for (std::size_t r = 0; r < spec.rows.size(); ++r) {
    const PtableRow& row = spec.rows[r];
    if (row.counts.empty()) return absl::InvalidArgumentError(RowName(spec, r) + " is empty");
    std::uint64_t sum = 0;
    for (std::size_t k = 0; k < row.counts.size(); ++k) {
      const std::uint64_t c = row.counts[k];
      if (c > kKeySpace || sum > kKeySpace - c) {
        return absl::InvalidArgumentError(RowName(spec, r) + " counts exceed 2^32");
      }
      sum += c;
      const std::int64_t v = std::int64_t{row.min_v} + static_cast<std::int64_t>(k);
      if (c > 0 && (v > spec.max_deviation || -v > spec.max_deviation)) {
        return absl::InvalidArgumentError(RowName(spec, r) + " has deviation " +
                                          std::to_string(v) + " beyond D = " +
                                          std::to_string(spec.max_deviation));
      }
    }
    if (sum != kKeySpace) {
      return absl::InvalidArgumentError(RowName(spec, r) + " sums to " + std::to_string(sum) +
                                        "; allowed: exactly 2^32");
    }
    Int128 bias = row.SumV();
    if (bias < 0) bias = -bias;
    if (bias > spec.max_bias_numerator) {
      return absl::InvalidArgumentError(RowName(spec, r) + " is biased (mean not 0)");
    }
  }
  if (spec.mapping == RowMapping::kGeneralBeyond) {
    const PtableRow& general = spec.rows.back();
    if (general.SumV() != 0) {
      return absl::InvalidArgumentError(RowName(spec, spec.rows.size() - 1) +
                                        " must have mean exactly 0");
    }
    for (std::int32_t v = 1; v <= spec.max_deviation; ++v) {
      auto count_of = [&](std::int32_t w) -> std::uint64_t {
        const std::int64_t k = std::int64_t{w} - general.min_v;
        if (k < 0 || k >= static_cast<std::int64_t>(general.counts.size())) return 0;
        return general.counts[static_cast<std::size_t>(k)];
      };
      if (count_of(v) != count_of(-v)) {
        return absl::InvalidArgumentError(RowName(spec, spec.rows.size() - 1) +
                                          " must be symmetric");
      }
    }
  }
  // For every i up to D + js + rows (beyond that i + v > js for any |v| <= D), each target is
  // >= 0 and outside [1, js]; count 0 stays 0.
  const std::int64_t limit =
      std::int64_t{spec.max_deviation} + spec.js + static_cast<std::int64_t>(spec.rows.size());
  for (std::int64_t i = 0; i <= limit; ++i) {
    std::size_t r = 0;
    if (spec.mapping == RowMapping::kPeriodic) {
      r = static_cast<std::size_t>(i % static_cast<std::int64_t>(spec.rows.size()));
    } else {
      r = std::min(static_cast<std::size_t>(i), spec.rows.size() - 1);
    }
    const PtableRow& row = spec.rows[r];
    for (std::size_t k = 0; k < row.counts.size(); ++k) {
      if (row.counts[k] == 0) continue;
      const std::int64_t target = i + row.min_v + static_cast<std::int64_t>(k);
      if (target < 0) {
        return absl::InvalidArgumentError(RowName(spec, r) + " moves count " + std::to_string(i) +
                                          " below 0");
      }
      if (target >= 1 && target <= spec.js) {
        return absl::InvalidArgumentError(RowName(spec, r) + " moves count " + std::to_string(i) +
                                          " to a blocked value in [1, js]");
      }
      if (i == 0 && target != 0) {
        return absl::InvalidArgumentError(RowName(spec, r) + " moves count 0; a zero stays 0");
      }
    }
  }
  return absl::OkStatus();
}

absl::StatusOr<Ptable> Ptable::Create(PtableSpec spec) {
  if (absl::Status s = CheckPtable(spec); !s.ok()) return s;
  return Ptable(std::move(spec));
}

const PtableRow& Ptable::RowFor(std::int64_t count) const {
  ENCLAVE_CHECK(count >= 0);
  const auto n = static_cast<std::int64_t>(spec_.rows.size());
  if (spec_.mapping == RowMapping::kPeriodic) {
    return spec_.rows[static_cast<std::size_t>(count % n)];
  }
  return spec_.rows[static_cast<std::size_t>(std::min(count, n - 1))];
}

std::int32_t Ptable::Deviation(std::int64_t count, std::uint32_t cell_key) const {
  return RowFor(count).Lookup(cell_key);
}

std::int64_t Ptable::Perturb(std::int64_t count, std::uint32_t cell_key) const {
  const std::int32_t v = Deviation(count, cell_key);
  std::int64_t out = 0;
  if (__builtin_add_overflow(count, std::int64_t{v}, &out)) {
    return std::numeric_limits<std::int64_t>::max();
  }
  return out;
}

Ptable RandomRoundingPtable(std::int64_t base) {
  ENCLAVE_CHECK(base >= 2 && base <= 1000);
  PtableSpec spec;
  spec.id = "round-" + std::to_string(base);
  spec.version = 1;
  spec.max_deviation = static_cast<std::int32_t>(base - 1);
  spec.js = 0;
  spec.mapping = RowMapping::kPeriodic;
  spec.max_bias_numerator = base / 2;
  const auto b = static_cast<std::uint64_t>(base);
  for (std::uint64_t r = 0; r < b; ++r) {
    PtableRow row;
    if (r == 0) {
      row.min_v = 0;
      row.counts = {kKeySpace};
    } else {
      // up = round(r·2^32 / b), half up; exact in 64 bits since r·2^32 < 2^42.
      const std::uint64_t up = (r * kKeySpace * 2 + b) / (2 * b);
      row.min_v = -static_cast<std::int32_t>(r);
      row.counts.assign(static_cast<std::size_t>(b + 1), 0);
      row.counts.front() = kKeySpace - up;  // v = -r: down, iff ck < 2^32 - up
      row.counts.back() = up;               // v = b - r: up
    }
    spec.rows.push_back(std::move(row));
  }
  absl::StatusOr<Ptable> table = Ptable::Create(std::move(spec));
  ENCLAVE_CHECK(table.ok());
  return *std::move(table);
}

const Ptable& PtableD3V1Js2() {
  static const Ptable* const table = [] {
    PtableSpec spec;
    spec.id = "ckm-d3-v1-js2";
    spec.version = 1;
    spec.max_deviation = 3;
    spec.js = 2;
    spec.mapping = RowMapping::kGeneralBeyond;
    spec.max_bias_numerator = 0;
    // Counts out of 2^32 = 4294967296. Rows 1..5 from the published 4-digit probabilities
    // (normalised, rounded, then the mean made exactly 0); the general row symmetric with the
    // remainder on 0. Generated once; changing any count requires a new version.
    spec.rows = {
        /* i = 0 */ {0, {kKeySpace}},
        /* i = 1 */ {-1, {3027522447, 0, 0, 774812100, 492632749}},
        /* i = 2 */ {-2, {2051930181, 0, 0, 947375048, 730500887, 565161180}},
        /* i = 3 */ {-3, {341879397, 0, 0, 3020650499, 842672583, 86328843, 3435974}},
        /* i = 4 */ {-1, {1638530023, 1457711901, 828499191, 300647711, 69578470}},
        /* i = 5 */ {-2, {259012429, 1060963019, 1682506940, 1027888463, 242689921, 21906524}},
        /* >= 6 */
        {-3, {19327353, 233216724, 1039382086, 1711114970, 1039382086, 233216724, 19327353}},
    };
    absl::StatusOr<Ptable> t = Ptable::Create(std::move(spec));
    ENCLAVE_CHECK(t.ok());
    return new Ptable(*std::move(t));
  }();
  return *table;
}

}  // namespace enclave::disclosure
