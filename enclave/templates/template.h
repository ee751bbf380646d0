// The query template model: what an approved template declares, in plain C++.
//
// A Template is loaded from a policy file (adapters/policy_files) and then immutable. It says which
// unit-level rows its SQL selects inside the enclave, which closed-domain dimensions a table may
// have, which statistics are released and under which disclosure settings. Templates never
// aggregate in SQL: the enclave aggregates, so disclosure rules see each unit's contribution.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace enclave::templates {

struct LocalizedText {
  std::string nl;
  std::string en;
};

enum class Role { kMunicipalAnalyst, kResearcher, kPrivacyOfficer, kDataSteward, kOperator };

// Stable lower-case name ("municipal_analyst", ...), used in logs and in the CLI.
const char* RoleName(Role role);

struct Code {
  std::string code;
  LocalizedText label;
};

struct CodeList {
  std::string name;
  std::vector<Code> codes;
  // A hierarchical level (disclosure-control.md §4.6): the code list one level up, and per code
  // (same order as `codes`) the code of its parent there. Both empty for a flat list.
  std::string parent_list = {};
  std::vector<std::string> parents = {};
};

enum class ParamType { kInteger, kCode, kBreakdown };

// The value of a BREAKDOWN parameter that selects no dimension.
inline constexpr char kNoBreakdown[] = "geen";

struct ParamSpec {
  std::string name;
  ParamType type = ParamType::kInteger;
  LocalizedText description;
  std::int64_t min = 0;  // kInteger only
  std::int64_t max = 0;  // kInteger only
  // kCode: the allowed codes. kBreakdown: dimension names, optionally kNoBreakdown.
  std::vector<Code> allowed;
  std::optional<std::string> default_value;
};

struct Dimension {
  std::string name;
  LocalizedText label;
  std::string column;  // result column of the template's SQL
  CodeList codes;      // closed domain, resolved from the named code list at load
  // A unit may lie in several codes (its rows differ): margins over this dimension count distinct
  // units and are not sums (disclosure-control.md §4.6). Otherwise each unit has one code.
  bool multi_valued = false;
};

// kShare: 100 * (units with `flag`) / (units with `denominator_flag`, or all units of the cell).
// kRatio: 100 * (sum of measure over units with `flag`) / (sum over units with
// `denominator_flag`): an index such as PIN turnover in an event window against its baseline.
// kRelativeRisk: the cell's share (as kShare, from the same flags) divided by the share of its
// reference cell (the same cell with every `reference_dimensions` entry in the table at its
// total), times 100: an index, 100 = as often as in the whole reference group. Computed from the
// perturbed counts the two shares are derived from; withheld whenever either share is
// (disclosure-control.md §3.6).
// kShareDifference: the difference in percentage points between two SHARE statistics of the same
// template (`minuend` - `subtrahend`: two arms of a comparison, T6), with its 95% interval
// (`bound`), computed on integers from the two shares' released counts
// (disclosure/comparison.h). Released only where both shares are; the shares, the difference and
// the COUNTs of either arm's denominator flag are withheld together when any of them is.
enum class StatisticKind {
  kCount,
  kSum,
  kMean,
  kQuantile,
  kShare,
  kRatio,
  kRelativeRisk,
  kShareDifference
};

// Which number of a kShareDifference statistic is released.
enum class DifferenceBound { kEstimate, kLower95, kUpper95 };

const char* StatisticKindName(StatisticKind kind);

struct Statistic {
  std::string name;
  StatisticKind kind = StatisticKind::kCount;
  LocalizedText label;
  std::string flag;                   // empty: all units of the cell
  std::string denominator_flag;       // kShare, kRelativeRisk (optional) and kRatio (required)
  std::uint32_t quantile_permille = 0;  // kQuantile only, in (0, 1000)
  std::int64_t precision = 1;           // released values are multiples of this
  // kRelativeRisk only (at least one): dimensions of the template set to their total in the
  // reference cell.
  std::vector<std::string> reference_dimensions;
  std::string minuend = {};             // kShareDifference only: a SHARE statistic's name
  std::string subtrahend = {};          // kShareDifference only: another SHARE statistic's name
  DifferenceBound bound = DifferenceBound::kEstimate;  // kShareDifference only
  // kShare only: released per this many units of the denominator, 100 (a percentage) or 1000 (a
  // rate per 1,000). Decided and protected exactly as the percentage (disclosure-control.md §3.6).
  std::int64_t per = 100;
};

// A sensitive category (disclosure-control.md §3.4): either a code of a dimension (`dimension` and
// `code`: in a table with that dimension, each count in that code is checked against its group, the
// same cell with that dimension at its total), or a flag (`flag`: each COUNT of units with that flag
// is checked against all units of its cell, each SHARE with that numerator flag against its
// denominator). Unsafe when the category holds more than the rule set's group_max_permille of its
// group; a zero in it is unsafe when the rule set says sensitive zeros are.
struct SensitiveCategory {
  std::string dimension;
  std::string code;
  std::string flag;
};

// A structural zero (§3.4): a combination of codes that cannot occur (bijstand under 18). A count
// cell whose table has every named dimension at the named code, and no units, is released as a
// zero, not suppressed. A declared combination that does hold units is treated as any other cell.
struct StructuralZero {
  std::vector<std::pair<std::string, std::string>> codes;  // (dimension, code), all must match
};

// A dimension that describes a sensitive fact rather than a group of the population
// (disclosure-control.md §3.4, §6.1): never used for the differencing guard's populations. With
// `flag`: every code but `none_code` implies the flag (the leefvorm of a bijstand spell) and
// `none_code` ("geen_bijstand") its absence. A count of flagged units in a category is then
// checked for group disclosure against the cell with this dimension at its total, and counts and
// shares of the flag in `none_code` are structural zeros.
struct SensitiveDimension {
  std::string dimension;
  std::string flag;       // optional
  std::string none_code;  // with flag
};

struct DisclosureSettings {
  std::string rule_set = "cbs-default";
  std::int64_t min_units = 10;
  std::int64_t min_share_denominator = 100;
  // Result column naming each unit's holding (enterprise, household): dominance and p% are computed
  // on holdings, each holding's units' contributions to a cell summed first (disclosure-control.md
  // §3.1). Empty: every unit is its own holding. The column comes last in ExpectedColumns.
  std::string holding_column;
  std::vector<SensitiveCategory> sensitive;
  std::vector<StructuralZero> structural_zeros;
  std::vector<SensitiveDimension> sensitive_dimensions;
  // Partitions of one population the officer approved for this template beyond the rule set's
  // decomposition quota (§6.2); 0: the rule set's quota applies.
  std::int32_t max_partitions = 0;
  // The entity the thresholds and the differencing guard count when it is not the unit: the unit
  // type of holding_column's values ("enterprise" for T10's be_id). Empty: both count units.
  // Set: a magnitude's threshold counts distinct holdings with a contribution, and the guard's
  // populations are each cell's distinct entities (disclosure-control.md §6.1).
  std::string threshold_entity;

  // True when the dimension is declared in sensitive_dimensions or has a sensitive code.
  bool IsSensitiveDimension(const std::string& name) const;
};

// Differential privacy for researcher templates (disclosure-control.md §7). All integers: no
// floating point between the data and the release. Set only on templates released under DP;
// such a template runs through core::DpReleaser (noise on every cell, a privacy-budget charge)
// instead of the cell key method and suppression.
struct DpSettings {
  enum class Mechanism { kDiscreteLaplace, kDiscreteGaussian };
  Mechanism mechanism = Mechanism::kDiscreteLaplace;
  // Charged per release, in micro-ε (Laplace; 250000 = ε 0.25) or micro-ρ (Gaussian, zCDP).
  std::int64_t epsilon_micro = 0;
  std::int64_t rho_micro = 0;
  // Contribution bounding: cells one unit may touch (L0) and the clamp of a unit's per-cell
  // measure (sums, means); L∞ = max(|clamp_min|, |clamp_max|), or 1 for counts.
  std::int64_t max_cells_per_unit = 1;
  std::int64_t clamp_min = 0;
  std::int64_t clamp_max = 0;
  // Public cells: a noisy count below this is shown as "< display_threshold" (post-processing).
  std::int64_t display_threshold = 10;
  // Cells not public (disclosure-control.md §7.7): an inner cell is released iff its raw unit
  // count is at least min_units AND its noisy unit count (discrete Laplace, scale
  // L0/ε_sel) exceeds τ = min_units + ⌈(L0/ε_sel)·ln(1/(2δ))⌉, δ = 10^-delta_exponent;
  // selection_epsilon_micro is charged on top of epsilon_micro (or ρ's ε). A margin is released
  // only when every inner cell under it is. Unused while cells_public is true.
  bool cells_public = true;
  std::int64_t min_units = 10;
  std::int64_t selection_epsilon_micro = 0;
  std::int64_t delta_exponent = 8;
};

// The privacy officer's approval a template was loaded under (adapters/policy_files/approvals.h).
struct TemplateApproval {
  std::string approver;     // principal id of the privacy officer
  std::string key_id;       // the officer key that signed
  std::string approved_at;  // UTC, RFC 3339
  std::string digest;       // lower-case hex SHA-256 of the signature: the approval's id

  // "approval=<digest> approver=<id> key=<key id>": what each release records.
  std::string LogText() const {
    return "approval=" + digest + " approver=" + approver + " key=" + key_id;
  }
};

struct Template {
  std::string id;
  std::uint32_t version = 0;
  std::string theme;
  LocalizedText title;
  LocalizedText description;
  std::vector<Role> roles;
  std::string unit;  // "person", "spell", "establishment", ...
  std::vector<ParamSpec> params;
  std::vector<Dimension> dimensions;
  std::vector<std::string> fixed_dimensions;
  std::string sql;
  std::string unit_column;
  std::string measure_column;  // empty when no statistic needs a measure
  std::vector<std::string> flag_columns;
  std::vector<Statistic> statistics;
  DisclosureSettings disclosure;
  std::optional<DpSettings> dp;  // set: a differentially private researcher template

  // Where it came from and exactly what it was: for error messages and the query log.
  std::string source_file;
  std::string text_sha256;  // lower-case hex of the file's bytes
  // Four eyes: who wrote it (principal id), and the approval it was loaded under (set by the
  // server's approval check, never by the loader).
  std::string author;
  std::optional<TemplateApproval> approval;

  const ParamSpec* FindParam(const std::string& name) const;
  const Dimension* FindDimension(const std::string& name) const;
  bool AllowsRole(Role role) const;
  // The result columns the SQL must return, in this order: unit, dimension columns (in
  // declaration order), measure (if any), flags, holding (if any).
  std::vector<std::string> ExpectedColumns() const;
};

}  // namespace enclave::templates
