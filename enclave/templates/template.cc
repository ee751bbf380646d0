// Template model helpers: names of enums and lookups by name.
#include "enclave/templates/template.h"

#include <algorithm>

namespace enclave::templates {

const char* RoleName(Role role) {
  switch (role) {
    case Role::kMunicipalAnalyst:
      return "municipal_analyst";
    case Role::kResearcher:
      return "researcher";
    case Role::kPrivacyOfficer:
      return "privacy_officer";
    case Role::kDataSteward:
      return "data_steward";
    case Role::kOperator:
      return "operator";
  }
  return "unknown";
}

const char* StatisticKindName(StatisticKind kind) {
  switch (kind) {
    case StatisticKind::kCount:
      return "count";
    case StatisticKind::kSum:
      return "sum";
    case StatisticKind::kMean:
      return "mean";
    case StatisticKind::kQuantile:
      return "quantile";
    case StatisticKind::kShare:
      return "share";
    case StatisticKind::kRatio:
      return "ratio";
    case StatisticKind::kShareDifference:
      return "share_difference";
    case StatisticKind::kRelativeRisk:
      return "relative_risk";
  }
  return "unknown";
}

const ParamSpec* Template::FindParam(const std::string& name) const {
  for (const ParamSpec& p : params) {
    if (p.name == name) return &p;
  }
  return nullptr;
}

const Dimension* Template::FindDimension(const std::string& name) const {
  for (const Dimension& d : dimensions) {
    if (d.name == name) return &d;
  }
  return nullptr;
}

bool DisclosureSettings::IsSensitiveDimension(const std::string& name) const {
  for (const SensitiveDimension& d : sensitive_dimensions) {
    if (d.dimension == name) return true;
  }
  for (const SensitiveCategory& c : sensitive) {
    if (c.flag.empty() && c.dimension == name) return true;
  }
  return false;
}

bool Template::AllowsRole(Role role) const {
  return std::find(roles.begin(), roles.end(), role) != roles.end();
}

std::vector<std::string> Template::ExpectedColumns() const {
  std::vector<std::string> columns;
  columns.reserve(1 + dimensions.size() + 1 + flag_columns.size() + 1);
  columns.push_back(unit_column);
  for (const Dimension& d : dimensions) columns.push_back(d.column);
  if (!measure_column.empty()) columns.push_back(measure_column);
  for (const std::string& f : flag_columns) columns.push_back(f);
  if (!disclosure.holding_column.empty()) columns.push_back(disclosure.holding_column);
  return columns;
}

}  // namespace enclave::templates
