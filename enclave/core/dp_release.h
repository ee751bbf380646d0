// Differentially private releases for researcher templates (disclosure-control.md §7): the query
// path a template with `dp` settings takes instead of the cell key method and suppression.
//
// Flow of Run: identical repeat? -> stored answer, no charge. Otherwise reserve the template's
// charge on every ledger of the request (BudgetLedger::Reserve), scan the unit-level rows, bound
// each unit's contribution (L0 cells, values clamped to the template's bounds), draw all noise
// first (integer samplers, dp::RandomSource), build the Release, charge durably (with the answer
// stored for repeats), log a kBudget entry, return. A failure before any row is read refunds; any
// later failure keeps the charge (no refund once data has been read).
//
// Cells not public (DpSettings::cells_public false, disclosure-control.md §7.7): the charge is the
// query's ε plus selection_epsilon_micro; after the value noise, one selection noise per inner cell
// (discrete Laplace, Δ₁ = L0, ε_sel) is drawn, and an inner cell is released iff its raw unit
// count (after bounding) is ≥ min_units and raw + selection noise > τ (dp::SelectionThreshold, a
// policy constant). An unselected inner cell is confidential for every statistic; a margin is
// released only when every inner cell under it is, so no margin reveals an unselected cell.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "enclave/core/budget_ledger.h"
#include "enclave/core/ports.h"
#include "enclave/core/query_log.h"
#include "enclave/core/release.h"
#include "enclave/dp/noise.h"
#include "enclave/dp/random.h"
#include "enclave/templates/binding.h"

namespace enclave::core {

struct DpRequest {
  const templates::BoundQuery* query = nullptr;  // its template has dp settings
  std::string request_id;
  std::string caller;  // URI SAN
  std::string role;
  std::string project;
  std::string agreement;             // researcher agreement id
  std::vector<LedgerLimit> limits;   // agreement, project and data-version ledgers with caps
  std::string data_version;
};

struct DpOutcome {
  Release release;
  std::int64_t charged_micro = 0;  // 0 when served from a stored identical release
  bool repeat = false;
};

// What one release of a template with these settings charges every ledger, micro-ε: the query's
// ε (a Gaussian's ρ converted at δ = 1e-8) plus selection_epsilon_micro when cells are not public.
// kInternal for settings without a budget. The same amount DpReleaser::Run reserves.
absl::StatusOr<std::int64_t> DpChargeMicro(const templates::DpSettings& dp);

class DpReleaser {
 public:
  // Draws one noise value; production uses dp::Sample. Tests force noise values through it.
  using NoiseSampler =
      std::function<absl::StatusOr<std::int64_t>(dp::RandomSource&, const dp::Noise&)>;

  DpReleaser(std::shared_ptr<BudgetLedger> ledger, std::shared_ptr<dp::RandomSource> random,
             std::shared_ptr<QueryLog> log, NoiseSampler sampler = nullptr);

  // kResourceExhausted (budget; the message says what is left and what is needed),
  // kUnavailable (ledger, log or randomness failed: nothing is released), kDeadlineExceeded,
  // kCancelled, kInternal. Budget changes are logged as QueryLogEntry::Type::kBudget entries
  // (detail: ledger names, amounts in micro-ε, reservation id; never data).
  absl::StatusOr<DpOutcome> Run(const DpRequest& request, MicrodataSource& source,
                                const Cancellation& cancel);

  absl::StatusOr<std::vector<LedgerBalance>> Balances(std::span<const LedgerLimit> limits);

 private:
  std::shared_ptr<BudgetLedger> ledger_;
  std::shared_ptr<dp::RandomSource> random_;
  std::shared_ptr<QueryLog> log_;
  NoiseSampler sampler_;
};

}  // namespace enclave::core
