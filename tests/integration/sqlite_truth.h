// The same aggregation as the enclave's, done by plain SQLite over a template's own unit-level SQL:
// exact distinct-unit counts for every cell, margins included. Tests use it as an independent
// truth; the benchmark uses it as its baseline.
#pragma once

#include <compare>
#include <cstdint>
#include <map>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "enclave/templates/binding.h"

namespace enclave::testing {

using CellCounts = std::map<std::vector<std::uint32_t>, std::int64_t>;

// Keys are cell coordinates as in a Release (a dimension's total = its number of codes). Cells
// with no units are absent. `flag` restricts to rows whose flag column is 1 (empty: all rows).
absl::StatusOr<CellCounts> IndependentCounts(const std::string& db_path,
                                             const templates::BoundQuery& q,
                                             const std::string& flag);

// Per cell (margins included, coordinates as above): the units in it and how many of them have
// `flag` (all of them when empty). Cells with no units are absent. For the differencing attack,
// which compares the populations of two releases.
struct CellUnitSet {
  std::set<std::string> units;
  std::int64_t flagged = 0;
};
using CellUnitSets = std::map<std::vector<std::uint32_t>, CellUnitSet>;
absl::StatusOr<CellUnitSets> IndependentCellUnits(const std::string& db_path,
                                                  const templates::BoundQuery& q,
                                                  const std::string& flag);
// Each unit the template's own SQL returns (bound as `q`), with its dimension codes in the
// template's dimension order: what decides the unit set of every cell and margin of any table of
// the template. kInternal when one unit's rows disagree about a code.
using UnitCodes = std::map<std::string, std::vector<std::string>>;
absl::StatusOr<UnitCodes> UnitDimensionCodes(const std::string& db_path,
                                             const templates::BoundQuery& q);

// T10 (event_impact_pin) per (winkelgebied, sector_group), computed with plain SQL straight from
// vestiging, ref_sbi, pin_dag and evenement (SQLite's own date functions, not the template's SQL
// nor the derived d_dag): the panel (vestigingen of the four sector groups with any PIN row), the
// vestigingen with PIN rows in the window and in the baseline, and the two weighted sums.
struct PinCellTruth {
  std::int64_t panel = 0;
  std::int64_t window_units = 0;
  std::int64_t baseline_units = 0;
  std::int64_t window_sum = 0;
  std::int64_t baseline_sum = 0;
};
using PinTruth = std::map<std::pair<std::string, std::string>, PinCellTruth>;
absl::StatusOr<PinTruth> EventImpactTruth(const std::string& db_path, const std::string& event_id,
                                          const std::string& window, const std::string& baseline,
                                          const std::string& measure);

// T4 (bijstand_stromen) for the period van..tot (YYYYMMDD, inclusive), computed with plain SQL
// straight from bijstandpersoonbus (ALG spells of persons in gbapersoontab), not from the
// template's SQL: distinct persons with a spell running at the start (aanvang < van <= einde),
// with a spell that started in the period, with one that ended in it, with a spell of the stock
// that ended in it, and the leavers by the reason of the first spell that ended in the period.
struct BijstandFlowTruth {
  std::int64_t stand_begin = 0;
  std::int64_t instroom = 0;
  std::int64_t uitstroom = 0;
  std::int64_t uitstroom_uit_stand = 0;
  std::map<std::string, std::int64_t> uitstroom_by_reason;
};
absl::StatusOr<BijstandFlowTruth> BijstandFlows(const std::string& db_path, const std::string& van,
                                                const std::string& tot);

// T12 (bevolking_noemer): residents of GM1916 on `peildatum` (YYYYMMDD) with plain SQL straight
// from gbaadresobjectbus, vslgwbtab and gbapersoontab (not the derived layer): distinct persons
// with an address spell running that day at an address in GM1916, alive that day, by buurt, sex
// (man, vrouw) and completed age in years (month precision).
struct ResidentKey {
  std::string buurt;
  std::string geslacht;
  std::int64_t leeftijd = 0;
  auto operator<=>(const ResidentKey&) const = default;
};
using ResidentTruth = std::map<ResidentKey, std::int64_t>;
absl::StatusOr<ResidentTruth> Residents(const std::string& db_path, const std::string& peildatum);

// T6 (reintegratie_vergelijking_gematcht): the template's unit-level rows, from its own SQL run by
// plain sqlite3 with the named parameters bound, aggregated here per code of `subgroup_column`
// (the column of the subgroup dimension; empty: one group "" of all rows): persons per arm and
// persons with the outcome per arm. It checks the enclave's aggregation and disclosure of T6, not
// its SQL; StartersInPeriod is the independent bound on the participant arm.
struct ArmTruth {
  std::int64_t deelnemers = 0;
  std::int64_t deelnemers_uitkomst = 0;
  std::int64_t controles = 0;
  std::int64_t controles_uitkomst = 0;
  std::int64_t rows = 0;
  std::int64_t distinct_persons = 0;  // distinct (person, arm)
};
absl::StatusOr<std::map<std::string, ArmTruth>> MatchedArms(
    const std::string& db_path, const std::string& sql,
    const std::map<std::string, std::string>& params, const std::string& subgroup_column);

// Distinct persons with an SRG provision or a municipal trajectory starting between van and tot
// (YYYYMMDD, inclusive), straight from srg_reintegratie and gem_reintegratietraject.
absl::StatusOr<std::int64_t> StartersInPeriod(const std::string& db_path, const std::string& van,
                                              const std::string& tot);

// T6's design, from the raw tables: every row of d_reintegratie_koppel (participants rang 0,
// candidate controls rang 1..6) checked on its start day s. Violations counted: not on ALG
// bijstand on s; a candidate with a provision or trajectory running on s or in the year before;
// a participant without a start on s or with one running in the year before; a candidate whose
// stratum on s (sex, age group, education, wijkcluster, duration class) differs from its
// participant's; baan_12 not the raw SECM 11-14 at s + 12 months. controls_starting_later counts
// candidates who start a provision or trajectory in the 12 months after s (intention to treat:
// the design must not drop them).
struct T6Design {
  std::int64_t rows = 0;
  std::int64_t participants = 0;
  std::int64_t controls = 0;
  std::int64_t not_on_alg = 0;
  std::int64_t control_provision = 0;
  std::int64_t participant_not_new = 0;
  std::int64_t stratum_differs = 0;
  std::int64_t outcome_differs = 0;
  std::int64_t controls_starting_later = 0;
};
absl::StatusOr<T6Design> T6DesignCheck(const std::string& db_path);
// T8 (jeugdhulp_gezinscontext) for `year`, with plain SQL straight from the raw tables (not the
// derived layer): children aged 0-17 (year - birth year) resident in GM1916 on 31 December
// (an address spell running that day, alive), distinct persons, and those of them with a
// jgdhulpbus trajectory running on some day of the year; per context dimension (the template's
// dimension names) and code: ouder_in_bijstand (a kinderoudertab parent with an ALG spell in the
// year: ja/nee), eenoudergezin (gbahuishoudensbus typhh eenouder on 31 December: ja/nee),
// huishoudinkomen_kwintiel (kwintiel_(p+19)/20 of inhatab.inhp100hgest of the child's household
// that year, onbekend without), ouder_opleidingsniveau (the parents' highest hoogsteopltab level,
// onbekend without). Key "" / "" holds all children.
struct ChildCount {
  std::int64_t children = 0;
  std::int64_t jeugdhulp = 0;
};
using FamilyContextTruth = std::map<std::pair<std::string, std::string>, ChildCount>;
absl::StatusOr<FamilyContextTruth> FamilyContext(const std::string& db_path, int year);

}  // namespace enclave::testing
