// Domain → protobuf marshalling for the QueryService responses.
#include "enclave/rpc/marshalling.h"

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <type_traits>
#include <variant>

#include "absl/status/status.h"
#include "enclave/core/dp_release.h"
#include "enclave/dp/selection.h"

namespace enclave::rpc {
namespace {

void SetText(const templates::LocalizedText& in, enclave::v1::LocalizedText* out) {
  out->set_nl(in.nl);
  out->set_en(in.en);
}

// The API's kind names (service.proto StatisticDescription.kind); kept here rather than borrowed
// from the domain so that the wire vocabulary changes only with the proto.
const char* KindName(templates::StatisticKind kind) {
  switch (kind) {
    case templates::StatisticKind::kCount: return "count";
    case templates::StatisticKind::kSum: return "sum";
    case templates::StatisticKind::kMean: return "mean";
    case templates::StatisticKind::kQuantile: return "quantile";
    case templates::StatisticKind::kShare: return "share";
    case templates::StatisticKind::kRatio: return "ratio";
    case templates::StatisticKind::kShareDifference: return "share_difference";
    case templates::StatisticKind::kRelativeRisk: return "relative_risk";
  }
  return "unknown";
}

enclave::v1::ParameterDescription::Type ParamTypeToProto(templates::ParamType type) {
  switch (type) {
    case templates::ParamType::kInteger: return enclave::v1::ParameterDescription::INTEGER;
    case templates::ParamType::kCode: return enclave::v1::ParameterDescription::CODE;
    case templates::ParamType::kBreakdown: return enclave::v1::ParameterDescription::BREAKDOWN;
  }
  return enclave::v1::ParameterDescription::TYPE_UNSPECIFIED;
}

void SetStatistic(const templates::Statistic& stat, enclave::v1::StatisticDescription* out) {
  out->set_name(stat.name);
  SetText(stat.label, out->mutable_label());
  out->set_kind(KindName(stat.kind));
  out->set_precision(stat.precision);
  if (stat.kind == templates::StatisticKind::kShare) out->set_per(stat.per);
}

std::string ParamValueText(const templates::ParamValue& value) {
  return std::visit(
      [](const auto& v) -> std::string {
        if constexpr (std::is_same_v<std::decay_t<decltype(v)>, std::int64_t>) {
          return std::to_string(v);
        } else {
          return v;
        }
      },
      value);
}

void AddNote(const char* nl, const char* en, enclave::v1::ReleaseMetadata* metadata) {
  enclave::v1::LocalizedText* note = metadata->add_notes();
  note->set_nl(nl);
  note->set_en(en);
}

void SetDpDescription(const templates::DpSettings& d, enclave::v1::TemplateDescription* out) {
  const bool laplace = d.mechanism == templates::DpSettings::Mechanism::kDiscreteLaplace;
  // The names DpReleaser gives its releases' rule_set (core/dp_release.cc).
  out->set_rule_set(laplace ? "dp-discrete-laplace" : "dp-discrete-gaussian");
  out->set_min_units(d.cells_public ? 0 : d.min_units);
  enclave::v1::DifferentialPrivacyDescription* dp = out->mutable_dp();
  dp->set_mechanism(laplace ? "discrete_laplace" : "discrete_gaussian");
  // Settings the loader accepted always have a charge; 0 would only show a broken template.
  dp->set_charge_micro(core::DpChargeMicro(d).value_or(0));
  if (laplace) {
    dp->set_epsilon_micro(d.epsilon_micro);
  } else {
    dp->set_rho_micro(d.rho_micro);
  }
  dp->set_max_cells_per_unit(d.max_cells_per_unit);
  dp->set_cells_public(d.cells_public);
  dp->set_display_threshold(d.display_threshold);
  if (!d.cells_public) {
    dp->set_selection_epsilon_micro(d.selection_epsilon_micro);
    dp->set_selection_threshold(dp::SelectionThreshold(d.min_units, d.max_cells_per_unit,
                                                       d.selection_epsilon_micro, d.delta_exponent)
                                    .value_or(0));
    dp->set_delta_exponent(d.delta_exponent);
  }
  // core::BudgetLimits: agreement, project and data-version ledgers.
  for (const char* ledger : {"agreement", "project", "data-version"}) dp->add_ledgers(ledger);
}

enclave::v1::Suggestion::Kind SuggestionKindToProto(templates::Suggestion::Kind kind) {
  switch (kind) {
    case templates::Suggestion::Kind::kCoarserGeography:
      return enclave::v1::Suggestion::COARSER_GEOGRAPHY;
    case templates::Suggestion::Kind::kFewerBreakdowns:
      return enclave::v1::Suggestion::FEWER_BREAKDOWNS;
    case templates::Suggestion::Kind::kOtherPeriod:
      return enclave::v1::Suggestion::OTHER_PERIOD;
  }
  return enclave::v1::Suggestion::KIND_UNSPECIFIED;
}

}  // namespace

void ToSuggestion(const templates::Suggestion& in, enclave::v1::Suggestion* out) {
  out->set_kind(SuggestionKindToProto(in.kind));
  for (const auto& [name, value] : in.changes) {
    enclave::v1::Parameter* p = out->add_changes();
    p->set_name(name);
    p->set_value(value);
  }
}

void ToBudgetCharge(const core::DpCharge& in, enclave::v1::BudgetCharge* out) {
  out->set_charged_micro(in.charged_micro);
  out->set_repeat(in.repeat);
  for (const core::LedgerBalance& b : in.balances) {
    enclave::v1::BudgetLedger* l = out->add_ledgers();
    l->set_ledger(b.ledger);
    l->set_cap_micro(b.cap_micro);
    l->set_spent_micro(b.spent_micro);
    l->set_reserved_micro(b.reserved_micro);
    l->set_remaining_micro(b.remaining_micro());
  }
}

enclave::v1::TemplateSummary ToTemplateSummary(const templates::Template& tmpl) {
  enclave::v1::TemplateSummary out;
  out.set_id(tmpl.id);
  out.set_version(tmpl.version);
  SetText(tmpl.title, out.mutable_title());
  out.set_theme(tmpl.theme);
  return out;
}

enclave::v1::TemplateDescription ToTemplateDescription(const templates::Template& tmpl,
                                                       const disclosure::RuleSetParams* rule_set) {
  enclave::v1::TemplateDescription out;
  *out.mutable_summary() = ToTemplateSummary(tmpl);
  SetText(tmpl.description, out.mutable_description());
  for (const templates::ParamSpec& spec : tmpl.params) {
    enclave::v1::ParameterDescription* param = out.add_parameters();
    param->set_name(spec.name);
    param->set_type(ParamTypeToProto(spec.type));
    SetText(spec.description, param->mutable_description());
    if (spec.type == templates::ParamType::kInteger) {
      param->set_min(spec.min);
      param->set_max(spec.max);
    }
    for (const templates::Code& code : spec.allowed) {
      enclave::v1::AllowedValue* allowed = param->add_allowed_values();
      allowed->set_code(code.code);
      SetText(code.label, allowed->mutable_label());
    }
    if (spec.default_value.has_value()) param->set_default_value(*spec.default_value);
  }
  for (const templates::Statistic& stat : tmpl.statistics) SetStatistic(stat, out.add_statistics());
  out.set_unit(tmpl.unit);
  if (tmpl.dp.has_value()) {
    // A DP template promises noise and a charge, not a minimum cell size under a rule set.
    SetDpDescription(*tmpl.dp, &out);
    return out;
  }
  std::int64_t min_units = tmpl.disclosure.min_units;
  if (rule_set != nullptr) {
    min_units = std::max(min_units, rule_set->min_units);
    out.set_rule_set(rule_set->id + "@" + std::to_string(rule_set->version));
  } else {
    out.set_rule_set(tmpl.disclosure.rule_set);
  }
  out.set_min_units(min_units);
  return out;
}

enclave::v1::ReleaseLayout ToReleaseLayout(const core::QueryService::Layout& layout) {
  enclave::v1::ReleaseLayout out;
  if (layout.tmpl == nullptr) return out;
  out.set_template_version(layout.tmpl->version);
  out.set_template_sha256(layout.tmpl->text_sha256);
  std::vector<const templates::BoundParam*> params;
  for (const templates::BoundParam& p : layout.params) params.push_back(&p);
  std::stable_sort(params.begin(), params.end(),
                   [](const auto* a, const auto* b) { return a->name < b->name; });
  for (const templates::BoundParam* p : params) {
    enclave::v1::Parameter* o = out.add_parameters();
    o->set_name(p->name);
    o->set_value(ParamValueText(p->value));
  }
  for (const core::ReleasedDimension& dim : layout.dimensions) {
    enclave::v1::Dimension* d = out.add_dimensions();
    d->set_name(dim.name);
    SetText(dim.label, d->mutable_label());
    for (const core::ReleasedCode& code : dim.codes) {
      enclave::v1::Code* c = d->add_codes();
      c->set_code(code.code);
      SetText(code.label, c->mutable_label());
      c->set_is_total(code.is_total);
    }
  }
  for (const templates::Statistic& stat : layout.tmpl->statistics) {
    SetStatistic(stat, out.add_statistics());
  }
  return out;
}

absl::StatusOr<enclave::v1::RunQueryResponse> ToRunQueryResponse(const core::Release& release,
                                                                 const std::string& request_id) {
  if (release.tmpl == nullptr) return absl::InternalError("release without a template");
  const templates::Template& tmpl = *release.tmpl;
  enclave::v1::RunQueryResponse response;

  enclave::v1::ReleaseMetadata* metadata = response.mutable_metadata();
  metadata->set_template_id(tmpl.id);
  metadata->set_template_version(tmpl.version);
  metadata->set_template_sha256(tmpl.text_sha256);
  metadata->set_rule_set(release.rule_set);
  metadata->set_data_version(release.data_version);
  metadata->set_treatment(release.treatment);
  metadata->set_record_key_version(release.record_key_version);
  std::vector<const templates::BoundParam*> params;
  params.reserve(release.params.size());
  for (const templates::BoundParam& p : release.params) params.push_back(&p);
  std::stable_sort(params.begin(), params.end(),
                   [](const auto* a, const auto* b) { return a->name < b->name; });
  for (const templates::BoundParam* p : params) {
    enclave::v1::Parameter* out = metadata->add_parameters();
    out->set_name(p->name);
    out->set_value(ParamValueText(p->value));
  }
  if (release.treatment.starts_with("DP_")) {
    AddNote(kDpNoteNl, kDpNoteEn, metadata);
  } else {
    AddNote(kTotalsNoteNl, kTotalsNoteEn, metadata);
  }
  AddNote(kConfidentialNoteNl, kConfidentialNoteEn, metadata);
  metadata->set_request_id(request_id);

  enclave::v1::Table* table = response.mutable_table();
  for (const core::ReleasedDimension& dim : release.dimensions) {
    enclave::v1::Dimension* out = table->add_dimensions();
    out->set_name(dim.name);
    SetText(dim.label, out->mutable_label());
    for (const core::ReleasedCode& code : dim.codes) {
      enclave::v1::Code* c = out->add_codes();
      c->set_code(code.code);
      SetText(code.label, c->mutable_label());
      c->set_is_total(code.is_total);
    }
  }
  for (const templates::Statistic& stat : tmpl.statistics) SetStatistic(stat, table->add_statistics());

  for (const core::ReleasedCell& cell : release.cells) {
    if (cell.coordinates.size() != release.dimensions.size()) {
      return absl::InternalError("release cell has the wrong number of coordinates");
    }
    for (std::size_t d = 0; d < cell.coordinates.size(); ++d) {
      if (cell.coordinates[d] >= release.dimensions[d].codes.size()) {
        return absl::InternalError("release cell coordinate out of range");
      }
    }
    if (cell.statistic >= tmpl.statistics.size()) {
      return absl::InternalError("release cell statistic out of range");
    }
    enclave::v1::Cell* out = table->add_cells();
    for (std::uint32_t c : cell.coordinates) out->add_coordinates(c);
    out->set_statistic(cell.statistic);
    if (cell.status == disclosure::CellStatus::kReleased) {
      if (!cell.value.has_value()) return absl::InternalError("released cell without a value");
      out->set_value(*cell.value);
    } else {
      out->set_withheld(enclave::v1::CONFIDENTIAL);
    }
  }
  return response;
}

absl::StatusOr<enclave::v1::RunQueryResponse> ToRunQueryResponse(const core::RunResult& result) {
  absl::StatusOr<enclave::v1::RunQueryResponse> response =
      ToRunQueryResponse(result.release, result.request_id);
  if (!response.ok()) return response;
  if (result.dp_charge.has_value()) ToBudgetCharge(*result.dp_charge, response->mutable_budget_charge());
  for (const templates::Suggestion& s : result.suggestions) ToSuggestion(s, response->add_suggestions());
  return response;
}

}  // namespace enclave::rpc
