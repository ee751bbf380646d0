// The derived layer's steps and their dependency map, parsed from derived.sql (the map is
// declared there, once, next to the SQL it describes: see the file's header).
//
//   -- @derive d_persoon cost 2 reads gbapersoontab hoogsteopltab jgdhulpbus
//   CREATE TABLE d_persoon (...);
//   INSERT INTO d_persoon SELECT ...;
//   -- @derive temp d_tmp_peil cost 2 reads d_peildatum bijstandpersoonbus d_persoon
//   ...
//   -- @end
//
// A delivery of bijstandpersoonbus changes d_tmp_peil, hence d_ingezetene, hence
// d_jeugdhulp_periode: Affected({"bijstandpersoonbus"}) names those two persistent tables, and
// StepsFor() adds the helper steps they read (d_tmp_peil, d_tmp_jaar, d_tmp_adres). Since the
// layer is a pure function of the raw tables, rebuilding only the affected tables gives the
// same derived tables as a whole rebuild (tests/steward checks it for every delivered dataset).
//
// Parsing fails closed: a step whose SQL mentions a raw table or derived table it does not
// declare in `reads` (so a new read in derived.sql cannot be forgotten in the map), that
// declares a table that is neither raw nor made by an earlier step, or that does not create its
// own table, is refused with the step named.
#pragma once

#include <cstddef>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"

namespace enclave::steward {

struct DerivedStep {
  std::string table;               // the table the step creates (d_*)
  bool temporary = false;          // a TEMP helper table, dropped when the rebuild ends
  double cost = 1;                 // rough share (percent) of a whole rebuild (time estimate)
  std::vector<std::string> reads;  // raw tables and tables of earlier steps
  std::string sql;                 // the step's statements, as written in derived.sql
};

class DerivedLayer {
 public:
  // The steps in file order (a step reads only raw tables and earlier steps).
  const std::vector<DerivedStep>& steps() const { return steps_; }
  // The persistent tables, in step order.
  std::vector<std::string> Tables() const;
  // The persistent tables that read any table in `changed` (raw datasets, or derived tables to
  // be rebuilt), directly or through other steps, in step order.
  std::vector<std::string> Affected(const std::set<std::string>& changed) const;
  // Indices of the steps to run to rebuild `tables`: their own steps and the helper (temp)
  // steps they read, directly or through other helpers, in file order.
  std::vector<std::size_t> StepsFor(const std::vector<std::string>& tables) const;

 private:
  friend absl::StatusOr<DerivedLayer> ParseDerivedLayer(std::string_view,
                                                        const std::set<std::string>&);
  std::vector<DerivedStep> steps_;
};

// `raw_tables`: the tables of schema.sql (SchemaTables). kInvalidArgument naming the step and
// the table for a malformed marker or a map that does not match the SQL (see above).
absl::StatusOr<DerivedLayer> ParseDerivedLayer(std::string_view derived_sql,
                                               const std::set<std::string>& raw_tables);

// The names of the tables `CREATE TABLE [IF NOT EXISTS] name` in `schema_sql`.
std::set<std::string> SchemaTables(std::string_view schema_sql);

}  // namespace enclave::steward
