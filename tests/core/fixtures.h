// Templates and rows for the core tests.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "enclave/core/ports.h"
#include "enclave/templates/binding.h"
#include "enclave/templates/template.h"
#include "tests/testing/fake_microdata_source.h"

namespace enclave::core::test {

inline templates::Dimension MakeDimension(std::string name, std::vector<std::string> codes) {
  templates::Dimension d;
  d.name = name;
  d.label = {name + "-nl", name + "-en"};
  d.column = name;
  d.codes.name = name + "_codes";
  for (std::string& c : codes) d.codes.codes.push_back({c, {c + "-nl", c + "-en"}});
  return d;
}

inline templates::Statistic MakeStatistic(std::string name, templates::StatisticKind kind,
                                          std::string flag = "", std::int64_t precision = 1) {
  templates::Statistic s;
  s.name = std::move(name);
  s.kind = kind;
  s.flag = std::move(flag);
  s.precision = precision;
  return s;
}

// Dimensions wijk {W1, W2} and sex {M, V}; flags zzp and werkend; measure income.
inline templates::Template MakeTemplate(std::vector<templates::Statistic> statistics) {
  templates::Template t;
  t.id = "test_template";
  t.version = 3;
  t.title = {"Test", "Test"};
  t.roles = {templates::Role::kMunicipalAnalyst, templates::Role::kResearcher};
  t.unit = "person";
  t.dimensions = {MakeDimension("wijk", {"W1", "W2"}), MakeDimension("sex", {"M", "V"})};
  t.fixed_dimensions = {"wijk", "sex"};
  t.sql = "SELECT 1";
  t.unit_column = "unit";
  t.measure_column = "income";
  t.flag_columns = {"zzp", "werkend"};
  t.statistics = std::move(statistics);
  t.text_sha256 = std::string(64, 'a');
  return t;
}

inline templates::BoundQuery BindAll(const templates::Template& t) {
  templates::BoundQuery q;
  q.tmpl = &t;
  for (const templates::Dimension& d : t.dimensions) q.dimensions.push_back(&d);
  return q;
}

// `count` units named prefix0..prefix{count-1}, one row each.
inline void AddUnits(std::vector<testing::FakeRow>& rows, const std::string& prefix, int count,
                     const std::string& wijk, const std::string& sex,
                     std::optional<std::int64_t> measure = std::nullopt, std::int64_t zzp = 0,
                     std::int64_t werkend = 0) {
  for (int i = 0; i < count; ++i) {
    rows.push_back({prefix + std::to_string(i), {wijk, sex}, measure, {zzp, werkend}});
  }
}

}  // namespace enclave::core::test
