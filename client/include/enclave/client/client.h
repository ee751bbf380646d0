// The enclave client library: plain C++ types, no gRPC or protobuf in this header.
//
// A client sees only what the enclave released: each cell is a value or "confidential" (shown as
// "."), never a number standing in for a withheld cell.
//
//   enclave::client::ConnectOptions options;
//   options.target = "127.0.0.1:7443";
//   options.ca_file = "pki/ca.pem"; options.cert_file = "pki/analyst.pem"; options.key_file = "pki/analyst.key";
//   auto client = enclave::client::Connect(options);
//   if (!client.ok()) { ... }
//   absl::StatusOr<enclave::client::QueryResult> r =
//       (*client)->RunQuery("zzp_aantal_per_wijk", {{"year", "2023"}});
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"

namespace enclave::client {

struct Text {
  std::string nl;
  std::string en;
};

struct TemplateSummary {
  std::string id;
  std::uint32_t version = 0;
  std::string theme;
  Text title;
};

struct AllowedValue {
  std::string code;
  Text label;
};

struct ParameterInfo {
  std::string name;
  std::string type;  // "integer", "code", "breakdown"
  Text description;
  std::int64_t min = 0;
  std::int64_t max = 0;
  std::vector<AllowedValue> allowed_values;
  std::string default_value;  // empty: required
};

struct StatisticInfo {
  std::string name;
  Text label;
  std::string kind;
  std::int64_t precision = 1;
  // "share": the value is per this many units of its denominator, 100 (a percentage) or 1000
  // (per 1,000); 0 for every other kind (and from a server that predates it: a percentage).
  std::int64_t per = 0;
};

// A differentially private template's promise and cost (docs/differential-privacy.md).
struct DpInfo {
  std::string mechanism;            // "discrete_laplace" or "discrete_gaussian"
  std::int64_t charge_micro = 0;    // micro-ε each release (not an identical repeat) charges
  std::int64_t epsilon_micro = 0;   // Laplace: the query's ε
  std::int64_t rho_micro = 0;       // Gaussian: the query's ρ
  std::int64_t max_cells_per_unit = 1;
  bool cells_public = true;         // every cell noised and shown (below display_threshold: '.')
  std::int64_t display_threshold = 0;
  std::int64_t selection_epsilon_micro = 0;  // cells not public: the selection's ε (in charge)
  std::int64_t selection_threshold = 0;      // cells not public: τ
  std::int64_t delta_exponent = 0;           // cells not public: δ = 10^-delta_exponent
  std::vector<std::string> ledgers;          // "agreement", "project", "data-version"
};

struct TemplateInfo {
  TemplateSummary summary;
  Text description;
  std::vector<ParameterInfo> parameters;
  std::vector<StatisticInfo> statistics;
  std::string unit;
  std::int64_t min_units = 0;  // DP templates: the raw minimum of the cells-not-public mode, or 0
  std::string rule_set;
  std::optional<DpInfo> dp;    // set for differentially private templates
};

struct Code {
  std::string code;
  Text label;
  bool is_total = false;
};

struct Dimension {
  std::string name;
  Text label;
  std::vector<Code> codes;
};

struct Cell {
  std::vector<std::uint32_t> coordinates;
  std::uint32_t statistic = 0;
  // nullopt: confidential (withheld for any reason). Never rendered as 0 or blank.
  std::optional<std::int64_t> value;
};

// One privacy-budget ledger of the caller (researchers), in micro-ε (1000000 = ε 1.0).
struct BudgetLedger {
  std::string ledger;  // "agreement:<id>", "project:<id>", "data-version:<version>"
  std::int64_t cap_micro = 0;
  std::int64_t spent_micro = 0;
  std::int64_t reserved_micro = 0;
  std::int64_t remaining_micro = 0;
};

// What a differentially private release charged (RunQuery of a DP template only).
struct BudgetCharge {
  std::int64_t charged_micro = 0;  // micro-ε on every ledger; 0 for an identical repeat
  bool repeat = false;
  std::vector<BudgetLedger> ledgers;  // after the charge; empty when the enclave could not read them
};

// Another request that may give a usable table: the same request with `changes` applied. The
// enclave derives it from the template and the parameters only, never from the data.
struct Suggestion {
  std::string kind;  // "coarser_geography", "fewer_breakdowns", "other_period" (or "" if unknown)
  std::vector<std::pair<std::string, std::string>> changes;  // parameter name, new value
};

struct QueryResult {
  std::string template_id;
  std::uint32_t template_version = 0;
  std::string template_sha256;
  std::string rule_set;
  std::string data_version;
  std::string request_id;
  std::vector<std::pair<std::string, std::string>> parameters;  // canonical, as the enclave bound them
  std::vector<Text> notes;
  std::vector<Dimension> dimensions;
  std::vector<StatisticInfo> statistics;
  std::vector<Cell> cells;
  std::optional<BudgetCharge> budget_charge;  // differentially private releases only
  std::vector<Suggestion> suggestions;        // when every inner cell is confidential
};

// The layout every release of a template for given parameters has (DescribeLayout): what a
// query-result log entry's per-cell rules are decoded against (client/cell_rules.h).
struct ReleaseLayout {
  std::string template_id;
  std::uint32_t template_version = 0;
  std::string template_sha256;  // hex
  std::vector<std::pair<std::string, std::string>> parameters;  // canonical, sorted by name
  std::vector<Dimension> dimensions;
  std::vector<StatisticInfo> statistics;
};

struct ConnectOptions {
  std::string target;  // host:port
  std::string ca_file;    // PEM of the CA that issued the server certificate
  std::string cert_file;  // this user's client certificate (PEM)
  std::string key_file;   // its private key (PEM)
  // Name to verify the server certificate against, when it differs from the target's host.
  std::string server_name;
  std::chrono::milliseconds deadline{30000};
};

class EnclaveClient {
 public:
  virtual ~EnclaveClient() = default;
  // The caller's privacy budgets (researchers only; other roles kPermissionDenied).
  virtual absl::StatusOr<std::vector<BudgetLedger>> GetBudget() {
    return absl::UnimplementedError("this client does not support GetBudget");
  }
  virtual absl::StatusOr<std::vector<TemplateSummary>> ListTemplates() = 0;
  virtual absl::StatusOr<TemplateInfo> DescribeTemplate(const std::string& template_id) = 0;
  // DescribeTemplate with parameters: the release layout for them (derived by the enclave from
  // the template and the parameters only). kInvalidArgument for parameters it refuses.
  virtual absl::StatusOr<ReleaseLayout> DescribeLayout(
      const std::string& /*template_id*/,
      const std::vector<std::pair<std::string, std::string>>& /*parameters*/) {
    return absl::UnimplementedError("this client does not support DescribeLayout");
  }
  virtual absl::StatusOr<QueryResult> RunQuery(
      const std::string& template_id,
      const std::vector<std::pair<std::string, std::string>>& parameters) = 0;
};

// What the enclave accepts in a request (docs/analyst.md, "Limits"; the server checks the same,
// enclave/templates/binding.h): at most kMaxParameters parameters, names of at most
// kMaxParameterNameBytes bytes, values of at most kMaxParameterValueBytes bytes, template ids of
// at most kMaxTemplateIdBytes bytes, all valid UTF-8. RunQuery and DescribeTemplate check this
// before sending anything and return kInvalidArgument naming the parameter, what was wrong (its
// length, or that it is not UTF-8; never its bytes) and what is allowed.
inline constexpr std::size_t kMaxParameters = 32;
inline constexpr std::size_t kMaxParameterNameBytes = 64;
inline constexpr std::size_t kMaxParameterValueBytes = 256;
inline constexpr std::size_t kMaxTemplateIdBytes = 128;

// OK, or the kInvalidArgument above for a request RunQuery would refuse to send.
absl::Status CheckRequest(const std::string& template_id,
                          const std::vector<std::pair<std::string, std::string>>& parameters);

// The alternatives a refusal of RunQuery carries (FAILED_PRECONDITION: the table cannot be
// released safely, or it differs too little from an earlier one); empty when there are none.
std::vector<Suggestion> SuggestionsOf(const absl::Status& status);

// Reads the PEM files and opens a mutual-TLS channel (lazily: a bad server shows on first call).
// kInvalidArgument naming the file when one cannot be read.
absl::StatusOr<std::unique_ptr<EnclaveClient>> Connect(const ConnectOptions& options);

// --- The audit log (issue 4) ------------------------------------------------------------------
// Privacy officers may call every method; researchers only GetReceipt for their own requests.
// Leaves and hashes are raw bytes exactly as the enclave stores them: verify them with
// client/verifier (enclave::verifier), never trust these copies.
//
//   auto audit = enclave::client::ConnectAudit(options);
//   absl::StatusOr<enclave::client::AuditCheckpoint> cp = (*audit)->GetCheckpoint();

struct AuditCheckpoint {
  std::string note;  // the signed C2SP note
  std::string origin;
  std::uint64_t tree_size = 0;
  std::string root_hash;  // 32 bytes
  std::uint64_t log_size = 0;  // GetCheckpoint only: leaves written, signed or not
};

struct AuditLogEntry {
  std::uint64_t sequence = 0;
  std::string leaf;  // enclave-log-leaf/1 bytes
  // For an entry below the page's checkpoint: its inclusion path there, 32 bytes each.
  std::vector<std::string> inclusion_path;
};

// Empty strings and 0 match anything. Times: UTC ms since the epoch, from inclusive, to exclusive.
struct AuditFilter {
  std::string caller;
  std::string template_id;
  std::string decision;
  std::string entry_type;
  std::int64_t from_unix_ms = 0;
  std::int64_t to_unix_ms = 0;
  std::string project;
  // Each name=value pair must be one of the entry's canonical parameters (issue 12).
  std::vector<std::pair<std::string, std::string>> parameters;
};

struct AuditPage {
  std::vector<AuditLogEntry> entries;
  std::uint64_t next_page_token = 0;  // 0: no more pages
  std::uint64_t log_size = 0;
  // The latest signed checkpoint when the page was read, which the entries' paths lead to
  // (unset if none was signed yet). Entries at or beyond its size carry no path.
  std::optional<AuditCheckpoint> checkpoint;
};

struct AuditLeafProof {
  std::uint64_t sequence = 0;
  std::string leaf;       // empty when redacted
  std::string leaf_hash;  // 32 bytes
  std::vector<std::string> path;  // 32 bytes each
  bool redacted = false;
};

struct AuditProofs {
  AuditCheckpoint checkpoint;  // the latest
  std::uint64_t tree_size = 0;
  std::vector<AuditLeafProof> proofs;
};

class AuditClient {
 public:
  virtual ~AuditClient() = default;
  virtual absl::StatusOr<AuditCheckpoint> GetCheckpoint() = 0;
  // Leaves [start, end) (end 0: to the log size) matching `filter`, each with its inclusion path
  // under the page's checkpoint; page_token from the previous page (0: start at `start`);
  // page_size 0: the server's default.
  virtual absl::StatusOr<AuditPage> ListEntries(std::uint64_t start, std::uint64_t end,
                                                const AuditFilter& filter,
                                                std::uint32_t page_size,
                                                std::uint64_t page_token) = 0;
  // tree_size 0: the latest checkpoint's.
  virtual absl::StatusOr<AuditProofs> GetInclusionProof(std::uint64_t sequence,
                                                        std::uint64_t tree_size) = 0;
  virtual absl::StatusOr<AuditProofs> GetRequestInclusionProofs(const std::string& request_id,
                                                                std::uint64_t tree_size) = 0;
  // new_size 0: the latest checkpoint's. The proof's hashes, 32 bytes each.
  virtual absl::StatusOr<std::vector<std::string>> GetConsistencyProof(std::uint64_t old_size,
                                                                       std::uint64_t new_size) = 0;
  // Streams the export bundle (from_size 0: whole log) to `sink`, chunk by chunk. OK only when
  // the whole bundle arrived; otherwise the caller must discard what the sink received.
  virtual absl::Status ExportBundle(std::uint64_t from_size,
                                    const std::function<absl::Status(std::string_view)>& sink) = 0;
  // The receipt of one request: its leaves with inclusion proofs in `checkpoint`.
  virtual absl::StatusOr<AuditProofs> GetReceipt(const std::string& request_id) = 0;
};

// As Connect, for the AuditService. The deadline applies to each call (the whole export included).
absl::StatusOr<std::unique_ptr<AuditClient>> ConnectAudit(const ConnectOptions& options);

// --- Health (issue 13) --------------------------------------------------------------------------
// The standard gRPC health check (grpc.health.v1.Health/Check) of `service` ("" = the whole
// server): "SERVING", "NOT_SERVING" (starting, stopping, or the query log cannot be written) or
// "UNKNOWN". Operators only: other roles get kPermissionDenied; kNotFound for an unknown service.
absl::StatusOr<std::string> CheckHealth(const ConnectOptions& options,
                                        const std::string& service = "");

// Stops the transport library from writing its own diagnostics to stderr, for command-line tools
// whose errors are the returned statuses. Process-wide; call before Connect().
void SilenceTransportLogs();

}  // namespace enclave::client
