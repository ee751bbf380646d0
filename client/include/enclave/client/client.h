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
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
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
};

struct TemplateInfo {
  TemplateSummary summary;
  Text description;
  std::vector<ParameterInfo> parameters;
  std::vector<StatisticInfo> statistics;
  std::string unit;
  std::int64_t min_units = 0;
  std::string rule_set;
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
  virtual absl::StatusOr<std::vector<TemplateSummary>> ListTemplates() = 0;
  virtual absl::StatusOr<TemplateInfo> DescribeTemplate(const std::string& template_id) = 0;
  virtual absl::StatusOr<QueryResult> RunQuery(
      const std::string& template_id,
      const std::vector<std::pair<std::string, std::string>>& parameters) = 0;
};

// Reads the PEM files and opens a mutual-TLS channel (lazily: a bad server shows on first call).
// kInvalidArgument naming the file when one cannot be read.
absl::StatusOr<std::unique_ptr<EnclaveClient>> Connect(const ConnectOptions& options);

// Stops the transport library from writing its own diagnostics to stderr, for command-line tools
// whose errors are the returned statuses. Process-wide; call before Connect().
void SilenceTransportLogs();

}  // namespace enclave::client
