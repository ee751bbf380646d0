// Loading and validating enclaved's configuration (text-format enclave.v1.config.ServerConfig).
#include "enclave/server/config.h"

#include <google/protobuf/descriptor.h>
#include <google/protobuf/io/tokenizer.h>
#include <google/protobuf/text_format.h>

#include <cerrno>
#include <charconv>
#include <cstring>
#include <filesystem>
#include <cstdlib>
#include <fstream>
#include <span>
#include <sstream>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "enclave/server/metrics.h"
#include "enclave/v1/config.pb.h"

namespace enclave::server {
namespace {

namespace pb = google::protobuf;
using enclave::v1::config::ServerConfig;

// One numeric limit: where it lives in Config and in the file, and what is allowed.
struct LimitRule {
  const char* setting;  // as written in the file, e.g. "limits.max_deadline_ms"
  const char* field;    // field name inside Limits
  int Config::*member;
  int min;
  int max;
  const char* unit;
};

constexpr LimitRule kLimitRules[] = {
    {"limits.max_receive_message_bytes", "max_receive_message_bytes",
     &Config::max_receive_message_bytes, 1024, 64 * 1024 * 1024, "bytes"},
    {"limits.max_send_message_bytes", "max_send_message_bytes", &Config::max_send_message_bytes,
     1024, 256 * 1024 * 1024, "bytes"},
    {"limits.default_deadline_ms", "default_deadline_ms", &Config::default_deadline_ms, 100,
     3600000, "ms"},
    {"limits.max_deadline_ms", "max_deadline_ms", &Config::max_deadline_ms, 100, 3600000, "ms"},
    {"limits.max_concurrent_queries", "max_concurrent_queries", &Config::max_concurrent_queries, 1,
     256, ""},
    {"limits.handshake_timeout_ms", "handshake_timeout_ms", &Config::handshake_timeout_ms, 100,
     120000, "ms"},
    {"limits.max_connection_age_ms", "max_connection_age_ms", &Config::max_connection_age_ms, 1000,
     86400000, "ms"},
    {"limits.max_connection_age_grace_ms", "max_connection_age_grace_ms",
     &Config::max_connection_age_grace_ms, 0, 600000, "ms"},
    {"limits.max_concurrent_streams", "max_concurrent_streams", &Config::max_concurrent_streams, 1,
     1024, ""},
    {"limits.shutdown_grace_ms", "shutdown_grace_ms", &Config::shutdown_grace_ms, 0, 600000, "ms"},
    {"limits.max_queued_queries", "max_queued_queries", &Config::max_queued_queries, 0, 4096, ""},
    {"limits.max_queue_wait_ms", "max_queue_wait_ms", &Config::max_queue_wait_ms, 0, 3600000,
     "ms"},
};

// audit_log { ... }: the query log's checkpoint and summary timers.
constexpr LimitRule kAuditLogRules[] = {
    {"audit_log.checkpoint_every_entries", "checkpoint_every_entries",
     &Config::checkpoint_every_entries, 1, 10000000, "entries"},
    {"audit_log.checkpoint_interval_ms", "checkpoint_interval_ms", &Config::checkpoint_interval_ms,
     1000, 86400000, "ms"},
    {"audit_log.auth_failure_summary_interval_ms", "auth_failure_summary_interval_ms",
     &Config::auth_failure_summary_interval_ms, 1000, 86400000, "ms"},
};

constexpr std::string_view kCredentialsPrefix = "$CREDENTIALS_DIRECTORY/";

std::string RangeProblem(const LimitRule& rule, int value) {
  std::string unit = rule.unit[0] == '\0' ? "" : absl::StrCat(" ", rule.unit);
  return absl::StrCat(rule.setting, " is ", value, "; allowed: ", rule.min, " to ", rule.max, unit);
}

// Collects the parser's problems as "FILE:LINE:COL: message" (1-based).
class CollectErrors final : public pb::io::ErrorCollector {
 public:
  explicit CollectErrors(std::string path) : path_(std::move(path)) {}
  void AddError(int line, pb::io::ColumnNumber column, const std::string& message) override {
    errors_.push_back(absl::StrCat(path_, ":", line + 1, ":", column + 1, ": ", message));
  }
  void AddWarning(int line, pb::io::ColumnNumber column, const std::string& message) override {
    AddError(line, column, message);  // unknown-field warnings etc. are errors for a config
  }
  const std::vector<std::string>& errors() const { return errors_; }

 private:
  std::string path_;
  std::vector<std::string> errors_;
};

std::string Resolve(const std::filesystem::path& base, const std::string& value) {
  if (value.empty()) return value;
  std::filesystem::path p(value);
  if (p.is_absolute()) return value;
  return (base / p).lexically_normal().string();
}

}  // namespace

absl::Status ValidateListenAddress(const std::string& address) {
  const std::string problem = absl::StrCat(
      "listen_address \"", address,
      "\" is not host:port; allowed: a host name or IPv4 address, or [IPv6], then :PORT with "
      "PORT 0 to 65535 (e.g. 127.0.0.1:7443)");
  const std::size_t colon = address.rfind(':');
  if (colon == std::string::npos || colon == 0 || colon + 1 == address.size()) {
    return absl::InvalidArgumentError(problem);
  }
  const std::string_view host(address.data(), colon);
  const std::string_view port(address.data() + colon + 1, address.size() - colon - 1);
  if (port.size() > 5) return absl::InvalidArgumentError(problem);
  int port_value = 0;
  auto [end, ec] = std::from_chars(port.data(), port.data() + port.size(), port_value);
  if (ec != std::errc() || end != port.data() + port.size() || port_value < 0 ||
      port_value > 65535) {
    return absl::InvalidArgumentError(problem);
  }
  if (host.front() == '[') {
    if (host.size() < 3 || host.back() != ']') return absl::InvalidArgumentError(problem);
    for (char c : host.substr(1, host.size() - 2)) {
      const bool ok = (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F') ||
                      c == ':' || c == '.';
      if (!ok) return absl::InvalidArgumentError(problem);
    }
    return absl::OkStatus();
  }
  for (char c : host) {
    const bool ok = (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
                    c == '.' || c == '-' || c == '_';
    if (!ok) return absl::InvalidArgumentError(problem);
  }
  return absl::OkStatus();
}

absl::StatusOr<Config> LoadConfigFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    const int err = errno;
    return absl::NotFoundError(
        absl::StrCat("config file: cannot read ", path, ": ", std::strerror(err)));
  }
  std::ostringstream text;
  text << in.rdbuf();
  if (in.bad()) {
    return absl::UnavailableError(absl::StrCat("config file: error reading ", path));
  }

  ServerConfig proto;
  CollectErrors errors(path);
  pb::TextFormat::ParseInfoTree info;
  pb::TextFormat::Parser parser;
  parser.RecordErrorsTo(&errors);
  parser.WriteLocationsTo(&info);
  const bool parsed = parser.ParseFromString(text.str(), &proto);
  if (!parsed || !errors.errors().empty()) {
    std::vector<std::string> all = errors.errors();
    if (all.empty()) all.push_back(absl::StrCat(path, ": not a valid enclaved configuration"));
    return absl::InvalidArgumentError(absl::StrJoin(all, "\n"));
  }

  const std::filesystem::path base = std::filesystem::path(path).parent_path();
  Config config;
  if (proto.has_listen_address()) config.listen_address = proto.listen_address();
  config.port_file = Resolve(base, proto.port_file());
  config.client_ca_file = Resolve(base, proto.tls().client_ca_file());
  config.server_cert_file = Resolve(base, proto.tls().server_cert_file());
  config.server_key_file = Resolve(base, proto.tls().server_key_file());
  config.database_path = Resolve(base, proto.database_path());
  config.policies_dir = Resolve(base, proto.policies_dir());
  config.state_dir = Resolve(base, proto.state_dir());
  config.expected_data_version = proto.data_version();
  config.approvers_file = Resolve(base, proto.approvers_file());
  config.approvals_dir = Resolve(base, proto.approvals_dir());

  // Location of a field for messages: FILE:LINE:COL of where it was written.
  auto where = [&](const pb::FieldDescriptor* field, const pb::TextFormat::ParseInfoTree* tree) {
    pb::TextFormat::ParseLocation loc;
    if (tree != nullptr) loc = tree->GetLocation(field, -1);
    if (loc.line < 0) return absl::StrCat(path, ": ");
    return absl::StrCat(path, ":", loc.line + 1, ":", loc.column + 1, ": ");
  };

  std::vector<std::string> problems;
  const pb::Descriptor* root = ServerConfig::descriptor();
  if (proto.has_listen_address()) {
    if (absl::Status s = ValidateListenAddress(config.listen_address); !s.ok()) {
      problems.push_back(
          absl::StrCat(where(root->FindFieldByName("listen_address"), &info), s.message()));
    }
  }
  const auto apply_rules = [&](const char* section, bool present, const pb::Message& message,
                               std::span<const LimitRule> rules) {
    const pb::TextFormat::ParseInfoTree* tree =
        present ? info.GetTreeForNested(root->FindFieldByName(section), -1) : nullptr;
    const pb::Reflection* reflection = message.GetReflection();
    for (const LimitRule& rule : rules) {
      const pb::FieldDescriptor* field = message.GetDescriptor()->FindFieldByName(rule.field);
      if (field == nullptr || !reflection->HasField(message, field)) continue;
      const int value = reflection->GetInt32(message, field);
      config.*rule.member = value;
      if (value < rule.min || value > rule.max) {
        problems.push_back(absl::StrCat(where(field, tree), RangeProblem(rule, value)));
      }
    }
  };
  apply_rules("limits", proto.has_limits(), proto.limits(), kLimitRules);
  apply_rules("audit_log", proto.has_audit_log(), proto.audit_log(), kAuditLogRules);
  if (const std::string& key = proto.audit_log().signing_key_file(); !key.empty()) {
    if (key.rfind(kCredentialsPrefix, 0) == 0) {
      // systemd (LoadCredentialEncrypted=) decrypts the credential into this directory at start.
      const char* credentials = std::getenv("CREDENTIALS_DIRECTORY");
      const std::string name = key.substr(kCredentialsPrefix.size());
      if (credentials == nullptr || credentials[0] == '\0') {
        problems.push_back(absl::StrCat(
            where(proto.audit_log().GetDescriptor()->FindFieldByName("signing_key_file"), nullptr),
            "audit_log.signing_key_file names a systemd credential but $CREDENTIALS_DIRECTORY is "
            "not set; allowed: start enclaved from its unit with LoadCredentialEncrypted=, or give "
            "a file path"));
      } else if (name.empty() || name.find('/') != std::string::npos) {
        problems.push_back(absl::StrCat(
            path, ": audit_log.signing_key_file: \"", key,
            "\" does not name a credential; allowed: $CREDENTIALS_DIRECTORY/NAME"));
      } else {
        config.log_signing_key_file = (std::filesystem::path(credentials) / name).string();
      }
    } else {
      config.log_signing_key_file = Resolve(base, key);
    }
  }
  if (const std::string& metrics = proto.metrics().listen(); !metrics.empty()) {
    config.metrics_listen = metrics;
    if (absl::Status s = ValidateMetricsListen(metrics); !s.ok()) {
      const pb::Descriptor* section = proto.metrics().GetDescriptor();
      problems.push_back(absl::StrCat(
          where(section->FindFieldByName("listen"),
                info.GetTreeForNested(root->FindFieldByName("metrics"), -1)),
          s.message()));
    }
  }
  if (!problems.empty()) return absl::InvalidArgumentError(absl::StrJoin(problems, "\n"));
  return config;
}

absl::Status ValidateConfig(const Config& config) {
  std::vector<std::string> problems;
  if (absl::Status s = ValidateListenAddress(config.listen_address); !s.ok()) {
    problems.emplace_back(s.message());
  }
  struct Required {
    const char* setting;
    const char* flag;
    const std::string* value;
  };
  const Required required[] = {
      {"tls.client_ca_file", "--client-ca", &config.client_ca_file},
      {"tls.server_cert_file", "--cert", &config.server_cert_file},
      {"tls.server_key_file", "--key", &config.server_key_file},
      {"database_path", "--database", &config.database_path},
      {"policies_dir", "--policies", &config.policies_dir},
      {"state_dir", "--state-dir", &config.state_dir},
  };
  for (const Required& r : required) {
    if (r.value->empty()) {
      problems.push_back(absl::StrCat(r.setting, " is required (set it in the config file or with ",
                                      r.flag, ")"));
    }
  }
  for (std::span<const LimitRule> rules : {std::span<const LimitRule>(kLimitRules),
                                           std::span<const LimitRule>(kAuditLogRules)}) {
    for (const LimitRule& rule : rules) {
      const int value = config.*rule.member;
      if (value < rule.min || value > rule.max) problems.push_back(RangeProblem(rule, value));
    }
  }
  if (absl::Status s = ValidateMetricsListen(config.metrics_listen); !s.ok()) {
    problems.emplace_back(s.message());
  }
  if (config.default_deadline_ms > config.max_deadline_ms) {
    problems.push_back(absl::StrCat("limits.default_deadline_ms (", config.default_deadline_ms,
                                    ") exceeds limits.max_deadline_ms (", config.max_deadline_ms,
                                    "); allowed: default <= max"));
  }
  if (problems.empty()) return absl::OkStatus();
  return absl::InvalidArgumentError(absl::StrJoin(problems, "\n"));
}

}  // namespace enclave::server
