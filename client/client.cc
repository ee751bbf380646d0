// EnclaveClient over gRPC with mutual TLS: the only file of the client that sees gRPC or protobuf.
#include "enclave/client/client.h"
#include "enclave/client/retry.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <charconv>
#include <cstdint>
#include <cstring>
#include <string_view>

#include <grpc/grpc_security_constants.h>
#include <grpc/support/log.h>
#include <grpcpp/grpcpp.h>

#include "absl/status/status.h"
#include "absl/strings/cord.h"
#include "enclave/v1/audit.grpc.pb.h"
#include "grpc/health/v1/health.grpc.pb.h"
#include "enclave/v1/service.grpc.pb.h"
#include "enclave/v1/service.pb.h"

namespace enclave::client {
namespace {

// PEM files are small; anything larger is certainly not a certificate or key.
constexpr std::size_t kMaxPemBytes = 1 << 20;

absl::StatusOr<std::string> ReadPemFile(std::string_view flag, const std::string& path) {
  const std::string prefix = std::string(flag) + ": ";
  if (path.empty()) {
    return absl::InvalidArgumentError(prefix + "no file given");
  }
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    return absl::InvalidArgumentError(prefix + "cannot read '" + path + "': " + std::strerror(errno));
  }
  std::string contents;
  char buffer[8192];
  for (;;) {
    const ssize_t n = ::read(fd, buffer, sizeof buffer);
    if (n < 0) {
      if (errno == EINTR) continue;
      const int saved = errno;
      ::close(fd);
      return absl::InvalidArgumentError(prefix + "cannot read '" + path + "': " + std::strerror(saved));
    }
    if (n == 0) break;
    contents.append(buffer, static_cast<std::size_t>(n));
    if (contents.size() > kMaxPemBytes) {
      ::close(fd);
      return absl::InvalidArgumentError(prefix + "'" + path +
                                        "' is larger than 1 MiB; expected a PEM file");
    }
  }
  ::close(fd);
  if (contents.find("-----BEGIN ") == std::string::npos) {
    return absl::InvalidArgumentError(prefix + "'" + path +
                                      "' is not a PEM file (no '-----BEGIN' line)");
  }
  return contents;
}

Text FromProto(const v1::LocalizedText& text) { return Text{text.nl(), text.en()}; }

TemplateSummary FromProto(const v1::TemplateSummary& s) {
  TemplateSummary out;
  out.id = s.id();
  out.version = s.version();
  out.theme = s.theme();
  out.title = FromProto(s.title());
  return out;
}

std::string TypeName(v1::ParameterDescription::Type type) {
  switch (type) {
    case v1::ParameterDescription::INTEGER:
      return "integer";
    case v1::ParameterDescription::CODE:
      return "code";
    case v1::ParameterDescription::BREAKDOWN:
      return "breakdown";
    default:
      return "unspecified";
  }
}

StatisticInfo FromProto(const v1::StatisticDescription& s) {
  StatisticInfo out;
  out.name = s.name();
  out.label = FromProto(s.label());
  out.kind = s.kind();
  out.precision = s.precision();
  out.per = s.per();
  return out;
}

TemplateInfo FromProto(const v1::TemplateDescription& d) {
  TemplateInfo out;
  out.summary = FromProto(d.summary());
  out.description = FromProto(d.description());
  for (const v1::ParameterDescription& p : d.parameters()) {
    ParameterInfo param;
    param.name = p.name();
    param.type = TypeName(p.type());
    param.description = FromProto(p.description());
    param.min = p.min();
    param.max = p.max();
    for (const v1::AllowedValue& v : p.allowed_values()) {
      param.allowed_values.push_back(AllowedValue{v.code(), FromProto(v.label())});
    }
    param.default_value = p.default_value();
    out.parameters.push_back(std::move(param));
  }
  for (const v1::StatisticDescription& s : d.statistics()) out.statistics.push_back(FromProto(s));
  out.unit = d.unit();
  out.min_units = d.min_units();
  out.rule_set = d.rule_set();
  if (d.has_dp()) {
    const v1::DifferentialPrivacyDescription& p = d.dp();
    DpInfo dp;
    dp.mechanism = p.mechanism();
    dp.charge_micro = p.charge_micro();
    dp.epsilon_micro = p.epsilon_micro();
    dp.rho_micro = p.rho_micro();
    dp.max_cells_per_unit = p.max_cells_per_unit();
    dp.cells_public = p.cells_public();
    dp.display_threshold = p.display_threshold();
    dp.selection_epsilon_micro = p.selection_epsilon_micro();
    dp.selection_threshold = p.selection_threshold();
    dp.delta_exponent = p.delta_exponent();
    dp.ledgers.assign(p.ledgers().begin(), p.ledgers().end());
    out.dp = std::move(dp);
  }
  return out;
}

Suggestion FromProto(const v1::Suggestion& s) {
  Suggestion out;
  switch (s.kind()) {
    case v1::Suggestion::COARSER_GEOGRAPHY:
      out.kind = "coarser_geography";
      break;
    case v1::Suggestion::FEWER_BREAKDOWNS:
      out.kind = "fewer_breakdowns";
      break;
    case v1::Suggestion::OTHER_PERIOD:
      out.kind = "other_period";
      break;
    default:
      break;
  }
  for (const v1::Parameter& p : s.changes()) out.changes.emplace_back(p.name(), p.value());
  return out;
}

BudgetLedger FromProto(const v1::BudgetLedger& l) {
  return {l.ledger(), l.cap_micro(), l.spent_micro(), l.reserved_micro(), l.remaining_micro()};
}

// The enclave's "retry after" hint on a RESOURCE_EXHAUSTED: decimal milliseconds.
constexpr char kRetryAfterMetadata[] = "retry-after-ms";

// The refusal's details travel on the absl::Status as this payload (the serialized proto).
constexpr char kRefusalDetailsPayload[] = "type.googleapis.com/enclave.v1.RefusalDetails";

// A table whose cells point outside its dimensions cannot be shown faithfully; refuse it rather
// than guess which cell a value belongs to.
Dimension FromProto(const v1::Dimension& d) {
  Dimension dim;
  dim.name = d.name();
  dim.label = FromProto(d.label());
  for (const v1::Code& c : d.codes()) {
    dim.codes.push_back(Code{c.code(), FromProto(c.label()), c.is_total()});
  }
  return dim;
}

// The request's parameters, in the caller's order.
template <typename Request>
void AddParameters(const std::vector<std::pair<std::string, std::string>>& parameters,
                   Request& request) {
  for (const auto& [name, value] : parameters) {
    v1::Parameter* p = request.add_parameters();
    p->set_name(name);
    p->set_value(value);
  }
}

absl::StatusOr<QueryResult> FromProto(const v1::RunQueryResponse& response) {
  QueryResult out;
  const v1::ReleaseMetadata& m = response.metadata();
  out.template_id = m.template_id();
  out.template_version = m.template_version();
  out.template_sha256 = m.template_sha256();
  out.rule_set = m.rule_set();
  out.data_version = m.data_version();
  out.request_id = m.request_id();
  for (const v1::Parameter& p : m.parameters()) out.parameters.emplace_back(p.name(), p.value());
  for (const v1::LocalizedText& n : m.notes()) out.notes.push_back(FromProto(n));

  const v1::Table& t = response.table();
  for (const v1::Dimension& d : t.dimensions()) out.dimensions.push_back(FromProto(d));
  for (const v1::StatisticDescription& s : t.statistics()) out.statistics.push_back(FromProto(s));
  if (response.has_budget_charge()) {
    BudgetCharge charge;
    charge.charged_micro = response.budget_charge().charged_micro();
    charge.repeat = response.budget_charge().repeat();
    for (const v1::BudgetLedger& l : response.budget_charge().ledgers()) {
      charge.ledgers.push_back(FromProto(l));
    }
    out.budget_charge = std::move(charge);
  }
  for (const v1::Suggestion& s : response.suggestions()) out.suggestions.push_back(FromProto(s));

  out.cells.reserve(static_cast<std::size_t>(t.cells_size()));
  for (const v1::Cell& c : t.cells()) {
    if (static_cast<std::size_t>(c.coordinates_size()) != out.dimensions.size()) {
      return absl::InternalError(
          "the enclave sent a malformed table: a cell has " + std::to_string(c.coordinates_size()) +
          " coordinates for " + std::to_string(out.dimensions.size()) + " dimensions");
    }
    Cell cell;
    for (int i = 0; i < c.coordinates_size(); ++i) {
      const std::uint32_t index = c.coordinates(i);
      if (index >= out.dimensions[static_cast<std::size_t>(i)].codes.size()) {
        return absl::InternalError(
            "the enclave sent a malformed table: a cell coordinate is outside its dimension");
      }
      cell.coordinates.push_back(index);
    }
    if (c.statistic() >= out.statistics.size()) {
      return absl::InternalError(
          "the enclave sent a malformed table: a cell names a statistic that is not in the table");
    }
    cell.statistic = c.statistic();
    // Only an explicit value is a value; withheld or unset is confidential (fail closed).
    if (c.outcome_case() == v1::Cell::kValue) cell.value = c.value();
    out.cells.push_back(std::move(cell));
  }
  return out;
}

// Same code and the server's message. A failure while the channel is not connected happened
// before any handler ran (no route, refused TCP, or a rejected TLS handshake, which gRPC reports
// as UNAVAILABLE): say so in terms a shell user can act on.
absl::Status TransportStatus(const grpc::Status& status, grpc::Channel& channel,
                             const std::string& target, std::chrono::milliseconds deadline) {
  const auto code = static_cast<absl::StatusCode>(status.error_code());
  std::string message = status.error_message();
  const bool connected = channel.GetState(false) == GRPC_CHANNEL_READY;
  if (!connected && code == absl::StatusCode::kUnavailable) {
    message = "cannot reach the enclave at " + target +
              " (server down, wrong address, or TLS handshake refused: check --ca/--cert/--key)" +
              (message.empty() ? "" : ": " + message);
  } else if (!connected && code == absl::StatusCode::kDeadlineExceeded) {
    message = "no answer from the enclave at " + target + " within the deadline of " +
              std::to_string(deadline.count()) +
              " ms (raise --timeout if it is slow; it may also be down or unreachable)" +
              (message.empty() ? "" : ": " + message);
  }
  return absl::Status(code, message);
}

class GrpcEnclaveClient final : public EnclaveClient {
 public:
  GrpcEnclaveClient(std::shared_ptr<grpc::Channel> channel, std::string target,
                    std::chrono::milliseconds deadline)
      : channel_(std::move(channel)),
        stub_(v1::QueryService::NewStub(channel_)),
        target_(std::move(target)),
        deadline_(deadline) {}

  absl::StatusOr<std::vector<TemplateSummary>> ListTemplates() override {
    grpc::ClientContext context;
    SetDeadline(context);
    v1::ListTemplatesResponse response;
    const grpc::Status status = stub_->ListTemplates(&context, v1::ListTemplatesRequest(), &response);
    if (!status.ok()) return ToAbsl(status, context);
    std::vector<TemplateSummary> out;
    out.reserve(static_cast<std::size_t>(response.templates_size()));
    for (const v1::TemplateSummary& s : response.templates()) out.push_back(FromProto(s));
    return out;
  }

  absl::StatusOr<TemplateInfo> DescribeTemplate(const std::string& template_id) override {
    if (absl::Status checked = CheckRequest(template_id, {}); !checked.ok()) return checked;
    grpc::ClientContext context;
    SetDeadline(context);
    v1::DescribeTemplateRequest request;
    request.set_template_id(template_id);
    v1::DescribeTemplateResponse response;
    const grpc::Status status = stub_->DescribeTemplate(&context, request, &response);
    if (!status.ok()) return ToAbsl(status, context);
    return FromProto(response.template_());
  }

  absl::StatusOr<ReleaseLayout> DescribeLayout(
      const std::string& template_id,
      const std::vector<std::pair<std::string, std::string>>& parameters) override {
    if (absl::Status checked = CheckRequest(template_id, parameters); !checked.ok()) return checked;
    if (parameters.empty()) {
      return absl::InvalidArgumentError("DescribeLayout needs the parameters of a release");
    }
    grpc::ClientContext context;
    SetDeadline(context);
    v1::DescribeTemplateRequest request;
    request.set_template_id(template_id);
    AddParameters(parameters, request);
    v1::DescribeTemplateResponse response;
    const grpc::Status status = stub_->DescribeTemplate(&context, request, &response);
    if (!status.ok()) return ToAbsl(status, context);
    if (!response.has_layout()) {
      return absl::UnimplementedError("the enclave did not return a release layout (an older "
                                      "enclaved without DescribeTemplate parameters)");
    }
    ReleaseLayout out;
    out.template_id = response.template_().summary().id();
    const v1::ReleaseLayout& l = response.layout();
    out.template_version = l.template_version();
    out.template_sha256 = l.template_sha256();
    for (const v1::Parameter& p : l.parameters()) out.parameters.emplace_back(p.name(), p.value());
    for (const v1::Dimension& d : l.dimensions()) out.dimensions.push_back(FromProto(d));
    for (const v1::StatisticDescription& s : l.statistics()) out.statistics.push_back(FromProto(s));
    return out;
  }

  absl::StatusOr<QueryResult> RunQuery(
      const std::string& template_id,
      const std::vector<std::pair<std::string, std::string>>& parameters) override {
    // Checked here, before anything is sent: protobuf would refuse to serialise a value that is
    // not UTF-8 with no useful message, and the server refuses the rest anyway.
    if (absl::Status checked = CheckRequest(template_id, parameters); !checked.ok()) {
      return checked;
    }
    grpc::ClientContext context;
    SetDeadline(context);
    v1::RunQueryRequest request;
    request.set_template_id(template_id);
    AddParameters(parameters, request);
    v1::RunQueryResponse response;
    const grpc::Status status = stub_->RunQuery(&context, request, &response);
    if (!status.ok()) {
      absl::Status refused = ToAbsl(status, context);
      if (status.error_code() == grpc::StatusCode::FAILED_PRECONDITION &&
          !status.error_details().empty()) {
        refused.SetPayload(kRefusalDetailsPayload, absl::Cord(status.error_details()));
      }
      return refused;
    }
    return FromProto(response);
  }

  absl::StatusOr<std::vector<BudgetLedger>> GetBudget() override {
    grpc::ClientContext context;
    SetDeadline(context);
    v1::GetBudgetResponse response;
    const grpc::Status status = stub_->GetBudget(&context, v1::GetBudgetRequest(), &response);
    if (!status.ok()) return ToAbsl(status, context);
    std::vector<BudgetLedger> out;
    for (const v1::BudgetLedger& l : response.ledgers()) out.push_back(FromProto(l));
    return out;
  }

 private:
  void SetDeadline(grpc::ClientContext& context) const {
    context.set_deadline(std::chrono::system_clock::now() + deadline_);
  }

  // With the enclave's retry hint (trailing metadata retry-after-ms) on a RESOURCE_EXHAUSTED.
  absl::Status ToAbsl(const grpc::Status& status, const grpc::ClientContext& context) const {
    absl::Status out = TransportStatus(status, *channel_, target_, deadline_);
    if (status.error_code() != grpc::StatusCode::RESOURCE_EXHAUSTED) return out;
    const auto& trailers = context.GetServerTrailingMetadata();
    const auto hint = trailers.find(kRetryAfterMetadata);
    if (hint == trailers.end()) return out;
    const std::string_view text(hint->second.data(), hint->second.size());
    std::int64_t ms = 0;
    const auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), ms);
    if (text.empty() || ec != std::errc() || ptr != text.data() + text.size() || ms < 0) {
      return out;  // not a number: no hint, no retry
    }
    return WithRetryAfter(std::move(out), std::chrono::milliseconds(ms));
  }

  std::shared_ptr<grpc::Channel> channel_;
  std::unique_ptr<v1::QueryService::Stub> stub_;
  std::string target_;
  std::chrono::milliseconds deadline_;
};

void DiscardLog(gpr_log_func_args* /*args*/) {}

}  // namespace

void SilenceTransportLogs() { gpr_set_log_function(&DiscardLog); }

namespace {

// Well-formed UTF-8 (as protobuf requires of a string field): no overlong forms, surrogates or
// code points above U+10FFFF.
bool IsUtf8(std::string_view text) {
  const auto* p = reinterpret_cast<const unsigned char*>(text.data());
  const unsigned char* end = p + text.size();
  while (p < end) {
    const unsigned char c = *p;
    if (c < 0x80) {
      ++p;
      continue;
    }
    int extra = 0;
    std::uint32_t cp = 0;
    if (c >= 0xC2 && c <= 0xDF) {
      extra = 1;
      cp = c & 0x1FU;
    } else if (c >= 0xE0 && c <= 0xEF) {
      extra = 2;
      cp = c & 0x0FU;
    } else if (c >= 0xF0 && c <= 0xF4) {
      extra = 3;
      cp = c & 0x07U;
    } else {
      return false;
    }
    if (end - p <= extra) return false;
    for (int i = 1; i <= extra; ++i) {
      if ((p[i] & 0xC0U) != 0x80U) return false;
      cp = (cp << 6U) | (p[i] & 0x3FU);
    }
    if ((extra == 2 && cp < 0x800) || (extra == 3 && (cp < 0x10000 || cp > 0x10FFFF)) ||
        (cp >= 0xD800 && cp <= 0xDFFF)) {
      return false;
    }
    p += extra + 1;
  }
  return true;
}

// A name fit to quote in a one-line message: short UTF-8 without control characters.
bool Quotable(std::string_view text) {
  if (text.size() > kMaxParameterNameBytes || !IsUtf8(text)) return false;
  for (char c : text) {
    if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) return false;
  }
  return true;
}

constexpr char kSeeDescribe[] = " (see 'enclavectl describe TEMPLATE' for the values allowed)";

}  // namespace

absl::Status CheckRequest(const std::string& template_id,
                          const std::vector<std::pair<std::string, std::string>>& parameters) {
  if (template_id.size() > kMaxTemplateIdBytes || !IsUtf8(template_id)) {
    return absl::InvalidArgumentError(
        "the template id of " + std::to_string(template_id.size()) + " bytes" +
        (IsUtf8(template_id) ? "" : " is not valid UTF-8") + "; allowed: an id of at most " +
        std::to_string(kMaxTemplateIdBytes) +
        " bytes of UTF-8 (see 'enclavectl templates' for the ids)");
  }
  if (parameters.size() > kMaxParameters) {
    return absl::InvalidArgumentError("too many parameters (" + std::to_string(parameters.size()) +
                                      "); allowed: at most " + std::to_string(kMaxParameters));
  }
  for (const auto& [name, value] : parameters) {
    if (!Quotable(name)) {
      return absl::InvalidArgumentError(
          "a parameter name of " + std::to_string(name.size()) + " bytes" +
          (IsUtf8(name) ? "" : " that is not valid UTF-8") +
          "; allowed: a name of at most " + std::to_string(kMaxParameterNameBytes) +
          " bytes of printable UTF-8 (see 'enclavectl describe TEMPLATE' for the names)");
    }
    if (value.size() > kMaxParameterValueBytes) {
      return absl::InvalidArgumentError(
          "parameter '" + name + "': the value is " + std::to_string(value.size()) +
          " bytes long; allowed: at most " + std::to_string(kMaxParameterValueBytes) + " bytes" +
          kSeeDescribe);
    }
    if (!IsUtf8(value)) {
      return absl::InvalidArgumentError("parameter '" + name +
                                        "': the value is not valid UTF-8; allowed: UTF-8 text of "
                                        "at most " +
                                        std::to_string(kMaxParameterValueBytes) + " bytes" +
                                        kSeeDescribe);
    }
  }
  return absl::OkStatus();
}

std::vector<Suggestion> SuggestionsOf(const absl::Status& status) {
  std::vector<Suggestion> out;
  const auto payload = status.GetPayload(kRefusalDetailsPayload);
  if (!payload.has_value()) return out;
  v1::RefusalDetails details;
  if (!details.ParseFromString(std::string(*payload))) return out;  // unreadable: no hints
  for (const v1::Suggestion& s : details.suggestions()) out.push_back(FromProto(s));
  return out;
}

namespace {

// The mutual-TLS channel both clients use. kInvalidArgument naming the flag of a bad setting.
absl::StatusOr<std::shared_ptr<grpc::Channel>> OpenChannel(const ConnectOptions& options) {
  if (options.target.empty()) {
    return absl::InvalidArgumentError("--target: no address given (expected HOST:PORT)");
  }
  if (options.deadline <= std::chrono::milliseconds(0)) {
    return absl::InvalidArgumentError("--timeout: must be positive");
  }
  absl::StatusOr<std::string> ca = ReadPemFile("--ca", options.ca_file);
  if (!ca.ok()) return ca.status();
  absl::StatusOr<std::string> cert = ReadPemFile("--cert", options.cert_file);
  if (!cert.ok()) return cert.status();
  absl::StatusOr<std::string> key = ReadPemFile("--key", options.key_file);
  if (!key.ok()) return key.status();

  grpc::SslCredentialsOptions ssl;
  ssl.pem_root_certs = *std::move(ca);
  ssl.pem_private_key = *std::move(key);
  ssl.pem_cert_chain = *std::move(cert);
  std::shared_ptr<grpc::ChannelCredentials> credentials = grpc::SslCredentials(ssl);
  if (credentials == nullptr) {
    return absl::InvalidArgumentError("cannot build TLS credentials from --ca/--cert/--key");
  }

  grpc::ChannelArguments args;
  if (!options.server_name.empty()) {
    args.SetString(GRPC_SSL_TARGET_NAME_OVERRIDE_ARG, options.server_name);
  }
  std::shared_ptr<grpc::Channel> channel =
      grpc::CreateCustomChannel(options.target, credentials, args);
  if (channel == nullptr) {
    return absl::InvalidArgumentError("--target: cannot create a channel to '" + options.target + "'");
  }
  return channel;
}

}  // namespace

absl::StatusOr<std::unique_ptr<EnclaveClient>> Connect(const ConnectOptions& options) {
  absl::StatusOr<std::shared_ptr<grpc::Channel>> channel = OpenChannel(options);
  if (!channel.ok()) return channel.status();
  return std::unique_ptr<EnclaveClient>(
      std::make_unique<GrpcEnclaveClient>(*std::move(channel), options.target, options.deadline));
}

// --- AuditService -------------------------------------------------------------------------------

namespace {

AuditCheckpoint FromProto(const v1::SignedCheckpoint& c) {
  AuditCheckpoint out;
  out.note = c.note();
  out.origin = c.origin();
  out.tree_size = c.tree_size();
  out.root_hash = c.root_hash();
  return out;
}

AuditLeafProof FromProto(const v1::LeafProof& p) {
  AuditLeafProof out;
  out.sequence = p.sequence();
  out.leaf = p.leaf();
  out.leaf_hash = p.leaf_hash();
  out.path.assign(p.path().begin(), p.path().end());
  out.redacted = p.redacted();
  return out;
}

class GrpcAuditClient final : public AuditClient {
 public:
  GrpcAuditClient(std::shared_ptr<grpc::Channel> channel, std::string target,
                  std::chrono::milliseconds deadline)
      : channel_(std::move(channel)),
        stub_(v1::AuditService::NewStub(channel_)),
        target_(std::move(target)),
        deadline_(deadline) {}

  absl::StatusOr<AuditCheckpoint> GetCheckpoint() override {
    grpc::ClientContext context;
    SetDeadline(context);
    v1::GetCheckpointResponse response;
    const grpc::Status status =
        stub_->GetCheckpoint(&context, v1::GetCheckpointRequest(), &response);
    if (!status.ok()) return ToAbsl(status);
    AuditCheckpoint out = FromProto(response.checkpoint());
    out.log_size = response.log_size();
    return out;
  }

  absl::StatusOr<AuditPage> ListEntries(std::uint64_t start, std::uint64_t end,
                                        const AuditFilter& filter, std::uint32_t page_size,
                                        std::uint64_t page_token) override {
    grpc::ClientContext context;
    SetDeadline(context);
    v1::ListEntriesRequest request;
    request.set_start(start);
    request.set_end(end);
    request.set_caller(filter.caller);
    request.set_template_id(filter.template_id);
    request.set_decision(filter.decision);
    request.set_entry_type(filter.entry_type);
    request.set_from_unix_ms(filter.from_unix_ms);
    request.set_to_unix_ms(filter.to_unix_ms);
    request.set_project(filter.project);
    for (const auto& [name, value] : filter.parameters) request.add_parameters(name + "=" + value);
    request.set_page_size(page_size);
    request.set_page_token(page_token);
    request.set_with_proofs(true);
    v1::ListEntriesResponse response;
    const grpc::Status status = stub_->ListEntries(&context, request, &response);
    if (!status.ok()) return ToAbsl(status);
    AuditPage out;
    for (const v1::LogEntry& e : response.entries()) {
      out.entries.push_back(AuditLogEntry{
          e.sequence(), e.leaf(), {e.inclusion_path().begin(), e.inclusion_path().end()}});
    }
    if (response.has_checkpoint()) out.checkpoint = FromProto(response.checkpoint());
    out.next_page_token = response.next_page_token();
    out.log_size = response.log_size();
    return out;
  }

  absl::StatusOr<AuditProofs> GetInclusionProof(std::uint64_t sequence,
                                                std::uint64_t tree_size) override {
    v1::GetInclusionProofRequest request;
    request.set_sequence(sequence);
    request.set_tree_size(tree_size);
    return Inclusion(request);
  }

  absl::StatusOr<AuditProofs> GetRequestInclusionProofs(const std::string& request_id,
                                                        std::uint64_t tree_size) override {
    v1::GetInclusionProofRequest request;
    request.set_request_id(request_id);
    request.set_tree_size(tree_size);
    return Inclusion(request);
  }

  absl::StatusOr<std::vector<std::string>> GetConsistencyProof(std::uint64_t old_size,
                                                               std::uint64_t new_size) override {
    grpc::ClientContext context;
    SetDeadline(context);
    v1::GetConsistencyProofRequest request;
    request.set_old_size(old_size);
    request.set_new_size(new_size);
    v1::GetConsistencyProofResponse response;
    const grpc::Status status = stub_->GetConsistencyProof(&context, request, &response);
    if (!status.ok()) return ToAbsl(status);
    if (response.old_size() != old_size || (new_size != 0 && response.new_size() != new_size)) {
      return absl::DataLossError("the enclave answered a consistency proof for other sizes");
    }
    return std::vector<std::string>(response.proof().begin(), response.proof().end());
  }

  absl::Status ExportBundle(std::uint64_t from_size,
                            const std::function<absl::Status(std::string_view)>& sink) override {
    grpc::ClientContext context;
    SetDeadline(context);
    v1::ExportBundleRequest request;
    request.set_from_size(from_size);
    std::unique_ptr<grpc::ClientReader<v1::ExportBundleChunk>> reader =
        stub_->ExportBundle(&context, request);
    v1::ExportBundleChunk chunk;
    absl::Status sink_status;
    while (reader->Read(&chunk)) {
      sink_status = sink(chunk.data());
      if (!sink_status.ok()) {
        context.TryCancel();
        break;
      }
    }
    const grpc::Status status = reader->Finish();
    if (!sink_status.ok()) return sink_status;
    if (!status.ok()) return ToAbsl(status);
    return absl::OkStatus();
  }

  absl::StatusOr<AuditProofs> GetReceipt(const std::string& request_id) override {
    grpc::ClientContext context;
    SetDeadline(context);
    v1::GetReceiptRequest request;
    request.set_request_id(request_id);
    v1::GetReceiptResponse response;
    const grpc::Status status = stub_->GetReceipt(&context, request, &response);
    if (!status.ok()) return ToAbsl(status);
    AuditProofs out;
    out.checkpoint = FromProto(response.checkpoint());
    out.tree_size = out.checkpoint.tree_size;
    for (const v1::LeafProof& p : response.leaves()) out.proofs.push_back(FromProto(p));
    return out;
  }

 private:
  absl::StatusOr<AuditProofs> Inclusion(const v1::GetInclusionProofRequest& request) {
    grpc::ClientContext context;
    SetDeadline(context);
    v1::GetInclusionProofResponse response;
    const grpc::Status status = stub_->GetInclusionProof(&context, request, &response);
    if (!status.ok()) return ToAbsl(status);
    AuditProofs out;
    out.checkpoint = FromProto(response.checkpoint());
    out.tree_size = response.tree_size();
    for (const v1::LeafProof& p : response.proofs()) out.proofs.push_back(FromProto(p));
    return out;
  }

  void SetDeadline(grpc::ClientContext& context) const {
    context.set_deadline(std::chrono::system_clock::now() + deadline_);
  }

  absl::Status ToAbsl(const grpc::Status& status) const {
    return TransportStatus(status, *channel_, target_, deadline_);
  }

  std::shared_ptr<grpc::Channel> channel_;
  std::unique_ptr<v1::AuditService::Stub> stub_;
  std::string target_;
  std::chrono::milliseconds deadline_;
};

}  // namespace

absl::StatusOr<std::unique_ptr<AuditClient>> ConnectAudit(const ConnectOptions& options) {
  absl::StatusOr<std::shared_ptr<grpc::Channel>> channel = OpenChannel(options);
  if (!channel.ok()) return channel.status();
  return std::unique_ptr<AuditClient>(
      std::make_unique<GrpcAuditClient>(*std::move(channel), options.target, options.deadline));
}

// --- Health (issue 13) ----------------------------------------------------------------------------

absl::StatusOr<std::string> CheckHealth(const ConnectOptions& options, const std::string& service) {
  absl::StatusOr<std::shared_ptr<grpc::Channel>> channel = OpenChannel(options);
  if (!channel.ok()) return channel.status();
  std::unique_ptr<grpc::health::v1::Health::Stub> stub =
      grpc::health::v1::Health::NewStub(*channel);
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() + options.deadline);
  grpc::health::v1::HealthCheckRequest request;
  request.set_service(service);
  grpc::health::v1::HealthCheckResponse response;
  const grpc::Status status = stub->Check(&context, request, &response);
  if (!status.ok()) return TransportStatus(status, **channel, options.target, options.deadline);
  return grpc::health::v1::HealthCheckResponse::ServingStatus_Name(response.status());
}

}  // namespace enclave::client
