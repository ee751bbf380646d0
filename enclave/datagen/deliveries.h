// The synthetic data as deliveries (issue 6, docs/domain.md §4): CSV files with BSNs, as the
// municipality and CBS would send them, for enclave-steward to validate, pseudonymise and load.
//
// From a database written by Generate() (same seed), WriteDeliveries recovers each person's
// synthetic BSN (BsnSource and the seed's key: rinpersoon → BSN) and writes into `out_dir`:
//   <dataset>.csv        one file per description in policies/deliveries/ (gbapersoontab,
//                        bijstandpersoonbus, srg_reintegratie, gem_reintegratietraject,
//                        jgdhulpbus): header, then the table's rows in rowid order with `bsn`
//                        in place of rinpersoons/rinpersoon. Municipal files spell every tenth
//                        BSN without its leading zeros or with a space, as source systems do;
//                        canonicalisation gives the same pseudonym.
//   bad/bijstandpersoonbus.csv  the first rows of the bijstand delivery followed by one
//                        deliberate error of each kind a data row can have (column count,
//                        encoding, quoting, type, domain, missing value, invalid BSN, duplicate
//                        key); the lines are listed in truth.txt.
//   pseudonym.key        the seed's synthetic pseudonymisation key (32 bytes, mode 0600), so a
//                        load reproduces the generator's rinpersoon values exactly.
//   truth.txt            "key value" lines: rows per delivery, expected linkage (linked,
//                        not_in_register), and the bad delivery's error lines by kind.
// Synthetic BSNs are handled as real ones: the directory is created with mode 0700.
#pragma once

#include <cstdint>
#include <string>

#include "absl/status/status.h"

namespace enclave::datagen {

// kUnavailable when the database cannot be read or a file cannot be written; kInternal when a
// rinpersoon of the database has no BSN under this seed (the database is not from this seed).
[[nodiscard]] absl::Status WriteDeliveries(const std::string& database_path, std::uint64_t seed,
                                           const std::string& out_dir);

}  // namespace enclave::datagen
