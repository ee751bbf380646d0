// The synthetic microdata generator: a seeded month-by-month simulation of the residents of
// Leidschendam-Voorburg 2015–2024, its businesses and PIN turnover, written to SQLite.
// Model, simplifications and calibration: enclave/datagen/README.md.
#include "enclave/datagen/generator.h"

#include <sqlite3.h>
#include <stdlib.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "enclave/base/file.h"
#include "enclave/base/log.h"
#include "enclave/base/status_macros.h"
#include "enclave/crypto/pseudonymiser.h"
#include "enclave/datagen/model.h"
#include "enclave/datagen/pseudonym.h"
#include "enclave/datagen/rng.h"
#include "enclave/datagen/sql_embed.h"

namespace enclave::datagen {
namespace {

using namespace internal;  // NOLINT: the parts of this generator

// ---------------------------------------------------------------- driver

absl::Status Build(sqlite3* db, const GeneratorOptions& options, std::int64_t persons) {
  const double f = static_cast<double>(persons) / 100000.0;
  const std::uint64_t seed = options.seed;
  Rng geo_rng(Mix(seed, 1));
  Rng biz_rng(Mix(seed, 2));
  Rng pop_rng(Mix(seed, 3));
  Rng sim_rng(Mix(seed, 4));
  Rng out_rng(Mix(seed, 5));
  const Geo geo = MakeGeography(geo_rng, f);
  Business biz = MakeBusinesses(biz_rng, geo, std::max(f, 0.02), seed);
  Population pop;
  BuildPopulation(pop_rng, geo, pop, f);
  // Pseudonyms in person order (tests recompute them from BsnSource).
  ENCLAVE_ASSIGN_OR_RETURN(std::unique_ptr<crypto::Pseudonymiser> pseudonymiser,
                           crypto::Pseudonymiser::FromKey(SyntheticKeyFromSeed(seed)));
  BsnSource bsns(seed);
  for (Person& p : pop.persons) p.rin = pseudonymiser->Pseudonym(bsns.Next());
  Simulate(sim_rng, pop, geo, biz);
  ENCLAVE_RETURN_IF_ERROR(Exec(db, "BEGIN", "begin transaction"));
  ENCLAVE_RETURN_IF_ERROR(WriteTables(db, out_rng, seed, options, pop, geo, biz, std::max(f, 0.02)));
  ENCLAVE_RETURN_IF_ERROR(Exec(db, "COMMIT", "commit"));
  base::LogInfo("datagen_tables_written", {{"persons", base::RowCount{static_cast<std::int64_t>(pop.persons.size())}},
                                           {"households", base::RowCount{static_cast<std::int64_t>(pop.households.size())}}});
  return absl::OkStatus();
}

}  // namespace

std::string DataVersion(const GeneratorOptions& options) {
  std::string v = "synthetic-" + options.scale + "-s" + std::to_string(options.seed);
  if (options.persons > 0) v += "-p" + std::to_string(options.persons);
  return v + "-v1";
}

absl::Status Generate(const GeneratorOptions& options) {
  if (options.out_path.empty()) return absl::InvalidArgumentError("out_path is required");
  if (options.scale != "lv" && options.scale != "nl") {
    return absl::InvalidArgumentError("scale must be lv or nl");
  }
  if (options.persons < 0 || options.persons > 50000000) {
    return absl::InvalidArgumentError("persons must be between 0 (scale default) and 50000000");
  }
  if (options.persons > 0 && options.persons < 500) {
    return absl::InvalidArgumentError("persons must be at least 500 (or 0 for the scale default)");
  }
  const std::int64_t persons = options.persons > 0 ? options.persons : 100000;
  if (options.scale == "nl") {
    base::LogWarning("datagen_scale_nl_partial", {{"note", base::Word("gm1916_only_sized_by_persons")}});
  }
  std::string tmp = options.out_path + ".tmp-XXXXXX";
  const int fd = mkstemp(tmp.data());
  if (fd < 0) return absl::UnavailableError("cannot create a temporary file next to the output path");
  close(fd);
  sqlite3* db = nullptr;
  absl::Status status;
  if (sqlite3_open_v2(tmp.c_str(), &db, SQLITE_OPEN_READWRITE, nullptr) != SQLITE_OK) {
    status = absl::UnavailableError("cannot open the temporary database");
  }
  if (status.ok()) status = Exec(db, "PRAGMA journal_mode=OFF; PRAGMA synchronous=OFF; PRAGMA cache_size=-200000;", "pragmas");
  if (status.ok()) status = Exec(db, internal::kSchemaSql, "create schema");
  if (status.ok()) status = Build(db, options, persons);
  if (status.ok()) status = Exec(db, internal::kIndexesSql, "create indexes");
  if (status.ok()) status = Exec(db, internal::kDerivedSql, "create derived layer");
  std::string truth;
  if (status.ok() && !options.truth_out.empty()) {
    absl::StatusOr<std::string> t = TruthText(db);
    if (t.ok()) {
      truth = *std::move(t);
    } else {
      status = t.status();
    }
  }
  if (db != nullptr && sqlite3_close(db) != SQLITE_OK && status.ok()) {
    status = absl::InternalError("closing the database failed");
  }
  if (status.ok() && options.fail_before_rename_for_test) status = absl::InternalError("injected failure before rename");
  if (status.ok() && !base::ReplaceFile(tmp, options.out_path).ok()) {
    status = absl::UnavailableError("cannot rename the database into place");
  }
  if (status.ok() && !options.truth_out.empty()) status = WriteTextFile(options.truth_out, truth);
  if (!status.ok()) {
    std::remove(tmp.c_str());
    std::remove((tmp + "-journal").c_str());
    base::LogError("datagen_failed", {{"code", status.code()}});
  }
  return status;
}

}  // namespace enclave::datagen

