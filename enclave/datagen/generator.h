// Synthetic linked microdata for the enclave (docs/domain.md §2–§3).
//
// Generate() writes a complete SQLite database with the tables of schema.sql (embedded in the
// binary), fills them from a seeded simulation of Leidschendam-Voorburg 2015–2024, builds the
// indexes of indexes.sql and ANALYZEs. The file appears at out_path only on full success: the
// database is built in `<out_path>.tmp-XXXXXX` in the same directory and renamed over out_path.
//
//   enclave::datagen::GeneratorOptions options;
//   options.out_path = "/var/lib/enclave/microdata.sqlite";
//   absl::Status status = enclave::datagen::Generate(options);
//
// Deterministic: the same seed, scale and persons give identical table contents.
#pragma once

#include <cstdint>
#include <string>

#include "absl/status/status.h"

namespace enclave::datagen {

struct GeneratorOptions {
  std::string out_path;    // required
  std::uint64_t seed = 42;
  std::string scale = "lv";  // lv | nl (nl: GM1916 only for now, sized by persons)
  // Approximate number of persons ever in the window (gbapersoontab rows); 0 = scale default
  // (100,000 for lv). Residents on 1 Jan 2024 are ~78% of it; businesses scale along.
  std::int64_t persons = 0;
  // Optional: exact truth counts as "key value" lines, for tests. Never written into the database.
  std::string truth_out;
  // Test hook: fail after everything is written, just before the rename.
  bool fail_before_rename_for_test = false;
};

// kInvalidArgument: empty out_path, unknown scale, persons < 0 or > 50,000,000.
// kUnavailable: the temporary file or the rename failed (e.g. directory missing or read-only).
// kInternal: SQLite or OpenSSL failed while writing, or the test hook fired.
// On any non-OK status neither out_path (if it did not exist) nor a temporary file is left.
[[nodiscard]] absl::Status Generate(const GeneratorOptions& options);

// data_version written to meta for these options, e.g. "synthetic-lv-s42-v1".
std::string DataVersion(const GeneratorOptions& options);

}  // namespace enclave::datagen
