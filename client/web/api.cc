#include "client/web/api.h"

#include <google/protobuf/struct.pb.h>
#include <google/protobuf/util/json_util.h>

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstddef>
#include <optional>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "client/cli/args.h"
#include "client/web/assets.h"
#include "client/web/identity.h"
#include "client/verifier/verifier.h"

namespace enclave::web {
namespace {

using Params = std::vector<std::pair<std::string, std::string>>;

constexpr std::string_view kCsp =
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; font-src 'self'; base-uri 'none'; form-action 'self'; "
    "frame-ancestors 'none'";

constexpr std::string_view kJsonType = "application/json; charset=utf-8";

constexpr std::string_view kUnauthorizedText =
    "Not authorised. Open the URL that 'enclavectl serve' printed (it carries the session "
    "token).\n"
    "Geen toegang. Open de URL die 'enclavectl serve' heeft getoond (daarin staat het "
    "sessietoken).\n";

// ---- JSON --------------------------------------------------------------------------------------

std::string JsonString(std::string_view s) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out = "\"";
  for (const char c : s) {
    const auto u = static_cast<unsigned char>(c);
    switch (c) {
      case '"':
        out += "\\\"";
        break;
      case '\\':
        out += "\\\\";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\r':
        out += "\\r";
        break;
      case '\t':
        out += "\\t";
        break;
      default:
        if (u < 0x20) {
          out += "\\u00";
          out.push_back(kHex[u >> 4]);
          out.push_back(kHex[u & 0x0f]);
        } else if (c == '<' || c == '>' || c == '&') {
          // Harmless in JSON, but never markup if a body is ever shown as HTML.
          out += "\\u00";
          out.push_back(kHex[u >> 4]);
          out.push_back(kHex[u & 0x0f]);
        } else {
          out.push_back(c);
        }
    }
  }
  out.push_back('"');
  return out;
}

std::string JsonText(const client::Text& text) {
  return "{\"nl\":" + JsonString(text.nl) + ",\"en\":" + JsonString(text.en) + "}";
}

std::string JsonBool(bool b) { return b ? "true" : "false"; }

std::string JsonSuggestions(const std::vector<client::Suggestion>& suggestions) {
  std::string out = "[";
  for (std::size_t i = 0; i < suggestions.size(); ++i) {
    if (i > 0) out += ",";
    out += "{\"kind\":" + JsonString(suggestions[i].kind) + ",\"changes\":[";
    for (std::size_t c = 0; c < suggestions[i].changes.size(); ++c) {
      if (c > 0) out += ",";
      out += "{\"name\":" + JsonString(suggestions[i].changes[c].first) +
             ",\"value\":" + JsonString(suggestions[i].changes[c].second) + "}";
    }
    out += "]}";
  }
  return out + "]";
}

std::string ErrorBody(std::string_view code, std::string_view message) {
  return "{\"error\":{\"code\":" + JsonString(code) + ",\"message\":" + JsonString(message) +
         "}}";
}

// ---- URLs --------------------------------------------------------------------------------------

int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// Percent-decoding of one query component ('+' is a space). nullopt for a malformed escape.
std::optional<std::string> PercentDecode(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (std::size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '+') {
      out.push_back(' ');
    } else if (s[i] == '%') {
      if (i + 2 >= s.size()) return std::nullopt;
      const int hi = HexValue(s[i + 1]);
      const int lo = HexValue(s[i + 2]);
      if (hi < 0 || lo < 0) return std::nullopt;
      out.push_back(static_cast<char>(hi * 16 + lo));
      i += 2;
    } else {
      out.push_back(s[i]);
    }
  }
  return out;
}

// The query string's name=value pairs, decoded, in order. nullopt if an escape is malformed.
std::optional<Params> ParseQuery(std::string_view query) {
  Params out;
  while (!query.empty()) {
    const std::size_t amp = query.find('&');
    const std::string_view part = query.substr(0, amp);
    query = amp == std::string_view::npos ? std::string_view() : query.substr(amp + 1);
    if (part.empty()) continue;
    const std::size_t eq = part.find('=');
    auto name = PercentDecode(part.substr(0, eq));
    auto value = PercentDecode(eq == std::string_view::npos ? std::string_view()
                                                            : part.substr(eq + 1));
    if (!name || !value) return std::nullopt;
    out.emplace_back(*std::move(name), *std::move(value));
  }
  return out;
}

bool IEquals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i) {
    char x = a[i], y = b[i];
    if (x >= 'A' && x <= 'Z') x = static_cast<char>(x - 'A' + 'a');
    if (y >= 'A' && y <= 'Z') y = static_cast<char>(y - 'A' + 'a');
    if (x != y) return false;
  }
  return true;
}

std::string_view Trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

// The session token the request carries: the cookie, else "Authorization: Bearer T".
std::vector<std::string_view> PresentedTokens(const Request& request,
                                               std::string_view cookie_name) {
  std::vector<std::string_view> tokens;
  for (const auto& field : request) {
    if (field.name() == http::field::cookie) {
      std::string_view cookies(field.value().data(), field.value().size());
      while (!cookies.empty()) {
        const std::size_t semi = cookies.find(';');
        const std::string_view pair = Trim(cookies.substr(0, semi));
        cookies = semi == std::string_view::npos ? std::string_view() : cookies.substr(semi + 1);
        const std::size_t eq = pair.find('=');
        if (eq != std::string_view::npos && pair.substr(0, eq) == cookie_name) {
          tokens.push_back(pair.substr(eq + 1));
        }
      }
    } else if (field.name() == http::field::authorization) {
      const std::string_view value = Trim({field.value().data(), field.value().size()});
      if (value.size() > 7 && IEquals(value.substr(0, 7), "bearer ")) {
        tokens.push_back(Trim(value.substr(7)));
      }
    }
  }
  return tokens;
}

// ---- Responses ---------------------------------------------------------------------------------

Response Make(const Request& request, http::status status, std::string_view content_type,
              std::string body) {
  Response response(status, request.version());
  AddSecurityHeaders(response);
  response.set(http::field::content_type, std::string(content_type));
  response.body() = std::move(body);
  response.keep_alive(request.keep_alive());
  response.prepare_payload();
  return response;
}

Response Json(const Request& request, std::string body) {
  return Make(request, http::status::ok, kJsonType, std::move(body));
}

Response JsonError(const Request& request, http::status status, std::string_view code,
                   std::string_view message) {
  return Make(request, status, kJsonType, ErrorBody(code, message));
}

Response StatusError(const Request& request, const absl::Status& status) {
  return Make(request, HttpStatusFor(status.code()), kJsonType, ErrorJson(status));
}

// ---- The API's JSON ----------------------------------------------------------------------------

std::string TemplatesJson(const std::vector<client::TemplateSummary>& templates) {
  std::string out = "{\"templates\":[";
  for (std::size_t i = 0; i < templates.size(); ++i) {
    const auto& t = templates[i];
    if (i > 0) out += ",";
    out += "{\"id\":" + JsonString(t.id) + ",\"version\":" + std::to_string(t.version) +
           ",\"theme\":" + JsonString(t.theme) + ",\"title\":" + JsonText(t.title) + "}";
  }
  return out + "]}";
}

std::string TemplateInfoJson(const client::TemplateInfo& info) {
  std::string out = "{\"id\":" + JsonString(info.summary.id) +
                    ",\"version\":" + std::to_string(info.summary.version) +
                    ",\"theme\":" + JsonString(info.summary.theme) +
                    ",\"title\":" + JsonText(info.summary.title) +
                    ",\"description\":" + JsonText(info.description) + ",\"parameters\":[";
  for (std::size_t i = 0; i < info.parameters.size(); ++i) {
    const auto& p = info.parameters[i];
    if (i > 0) out += ",";
    out += "{\"name\":" + JsonString(p.name) + ",\"type\":" + JsonString(p.type) +
           ",\"description\":" + JsonText(p.description) + ",\"min\":" + std::to_string(p.min) +
           ",\"max\":" + std::to_string(p.max) + ",\"allowed_values\":[";
    for (std::size_t v = 0; v < p.allowed_values.size(); ++v) {
      if (v > 0) out += ",";
      out += "{\"code\":" + JsonString(p.allowed_values[v].code) +
             ",\"label\":" + JsonText(p.allowed_values[v].label) + "}";
    }
    out += "],\"default\":" + JsonString(p.default_value) + "}";
  }
  out += "],\"statistics\":[";
  for (std::size_t i = 0; i < info.statistics.size(); ++i) {
    const auto& s = info.statistics[i];
    if (i > 0) out += ",";
    out += "{\"name\":" + JsonString(s.name) + ",\"label\":" + JsonText(s.label) +
           ",\"kind\":" + JsonString(s.kind) + ",\"precision\":" + std::to_string(s.precision) +
           (s.per != 0 ? ",\"per\":" + std::to_string(s.per) : std::string()) + "}";
  }
  out += "],\"unit\":" + JsonString(info.unit) + ",\"rule_set\":" + JsonString(info.rule_set) +
         ",\"min_units\":" + std::to_string(info.min_units) + ",\"dp\":";
  if (!info.dp.has_value()) {
    out += "null";
  } else {
    const client::DpInfo& dp = *info.dp;
    out += "{\"mechanism\":" + JsonString(dp.mechanism) +
           ",\"charge_micro\":" + std::to_string(dp.charge_micro) +
           ",\"epsilon_micro\":" + std::to_string(dp.epsilon_micro) +
           ",\"rho_micro\":" + std::to_string(dp.rho_micro) +
           ",\"max_cells_per_unit\":" + std::to_string(dp.max_cells_per_unit) +
           ",\"cells_public\":" + JsonBool(dp.cells_public) +
           ",\"display_threshold\":" + std::to_string(dp.display_threshold) +
           ",\"selection_epsilon_micro\":" + std::to_string(dp.selection_epsilon_micro) +
           ",\"selection_threshold\":" + std::to_string(dp.selection_threshold) +
           ",\"delta_exponent\":" + std::to_string(dp.delta_exponent) + ",\"ledgers\":[";
    for (std::size_t i = 0; i < dp.ledgers.size(); ++i) {
      if (i > 0) out += ",";
      out += JsonString(dp.ledgers[i]);
    }
    out += "]}";
  }
  return out + "}";
}

std::string BudgetJson(const std::vector<client::BudgetLedger>& ledgers) {
  std::string out = "{\"ledgers\":[";
  for (std::size_t i = 0; i < ledgers.size(); ++i) {
    const auto& l = ledgers[i];
    if (i > 0) out += ",";
    out += "{\"ledger\":" + JsonString(l.ledger) +
           ",\"cap_micro\":" + std::to_string(l.cap_micro) +
           ",\"spent_micro\":" + std::to_string(l.spent_micro) +
           ",\"reserved_micro\":" + std::to_string(l.reserved_micro) +
           ",\"remaining_micro\":" + std::to_string(l.remaining_micro) + "}";
  }
  return out + "]}";
}

// POST /api/run's body: {"template":"…","parameters":{"name":"value",…}}. Values may also be
// integral JSON numbers. kInvalidArgument naming what is wrong (never a value).
absl::Status ParseRunBody(std::string_view body, std::string& template_id, Params& params) {
  google::protobuf::Struct root;
  google::protobuf::util::JsonParseOptions options;
  options.ignore_unknown_fields = false;
  if (!google::protobuf::util::JsonStringToMessage(body, &root, options).ok()) {
    return absl::InvalidArgumentError(
        "the body is not a JSON object {\"template\":\"…\",\"parameters\":{…}}");
  }
  for (const auto& [key, value] : root.fields()) {
    if (key != "template" && key != "parameters") {
      return absl::InvalidArgumentError("unknown field '" + key +
                                        "' in the body (allowed: template, parameters)");
    }
    (void)value;
  }
  const auto tmpl = root.fields().find("template");
  if (tmpl == root.fields().end() ||
      tmpl->second.kind_case() != google::protobuf::Value::kStringValue ||
      tmpl->second.string_value().empty()) {
    return absl::InvalidArgumentError("the body needs \"template\": a template id (a string)");
  }
  template_id = tmpl->second.string_value();
  const auto parameters = root.fields().find("parameters");
  if (parameters == root.fields().end() ||
      parameters->second.kind_case() == google::protobuf::Value::kNullValue) {
    return absl::OkStatus();
  }
  if (parameters->second.kind_case() != google::protobuf::Value::kStructValue) {
    return absl::InvalidArgumentError("\"parameters\" must be an object of name: value");
  }
  // Sorted by name (a protobuf map has no order): the enclave binds by name.
  std::vector<std::string> names;
  for (const auto& [name, value] : parameters->second.struct_value().fields()) {
    names.push_back(name);
  }
  std::sort(names.begin(), names.end());
  for (const std::string& name : names) {
    const google::protobuf::Value& value = parameters->second.struct_value().fields().at(name);
    if (value.kind_case() == google::protobuf::Value::kStringValue) {
      params.emplace_back(name, value.string_value());
    } else if (value.kind_case() == google::protobuf::Value::kNumberValue &&
               std::isfinite(value.number_value()) &&
               std::trunc(value.number_value()) == value.number_value() &&
               std::fabs(value.number_value()) < 9.0e15) {
      params.emplace_back(name, std::to_string(static_cast<long long>(value.number_value())));
    } else {
      return absl::InvalidArgumentError("parameter '" + name +
                                        "' must be a string (or a whole number)");
    }
  }
  return absl::OkStatus();
}

// GET /api/audit/entries' query → the filter and the limit.
absl::Status ParseAuditQuery(const Params& query, client::AuditFilter& filter, std::size_t& limit) {
  limit = 200;
  for (const auto& [name, value] : query) {
    if (name == "caller") {
      filter.caller = value;
    } else if (name == "project") {
      filter.project = value;
    } else if (name == "template") {
      filter.template_id = value;
    } else if (name == "decision") {
      filter.decision = value;
    } else if (name == "type") {
      filter.entry_type = value;
    } else if (name == "param") {
      const std::size_t eq = value.find('=');
      if (eq == std::string::npos || eq == 0) {
        return absl::InvalidArgumentError("param: expected NAME=VALUE");
      }
      filter.parameters.emplace_back(value.substr(0, eq), value.substr(eq + 1));
    } else if (name == "from" || name == "to") {
      if (value.empty()) continue;
      absl::StatusOr<std::int64_t> ms = client::cli::ParseAuditTime(name, value);
      if (!ms.ok()) return ms.status();
      (name == "from" ? filter.from_unix_ms : filter.to_unix_ms) = *ms;
    } else if (name == "limit") {
      if (value.empty()) continue;
      std::size_t n = 0;
      const auto [ptr, ec] = std::from_chars(value.data(), value.data() + value.size(), n);
      if (ec != std::errc() || ptr != value.data() + value.size() || n < 1 || n > 1000) {
        return absl::InvalidArgumentError("limit: a whole number from 1 to 1000");
      }
      limit = n;
    } else {
      return absl::InvalidArgumentError(
          "unknown query parameter '" + name +
          "' (allowed: caller, project, template, decision, type, param, from, to, limit)");
    }
  }
  return absl::OkStatus();
}

std::string SafeFileName(std::string_view s) {
  std::string out;
  for (const char c : s) {
    const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                    c == '.' || c == '_' || c == '-';
    out.push_back(ok ? c : '_');
  }
  return out.empty() ? "log" : out;
}

}  // namespace

absl::StatusOr<Api::ExportedBundle> Api::ExportBundle() const {
  if (config_.trust.log_key.empty()) {
    return absl::FailedPreconditionError(
        "no pinned log key: set log_key in the config file or pass --log-key to 'enclavectl "
        "serve'");
  }
  absl::StatusOr<verifier::PinnedKey> key = verifier::ParseVerifierKey(config_.trust.log_key);
  if (!key.ok()) return absl::InvalidArgumentError("log_key: " + std::string(key.status().message()));
  absl::StatusOr<client::AuditCheckpoint> checkpoint = audit_.GetCheckpoint();
  if (!checkpoint.ok()) return checkpoint.status();
  ExportedBundle out;
  // Kept in memory only: nothing is written to disk unless the user's browser saves it.
  constexpr std::size_t kMaxBundleBytes = std::size_t{1} << 30;
  absl::Status streamed = audit_.ExportBundle(0, [&](std::string_view chunk) {
    if (out.bytes.size() + chunk.size() > kMaxBundleBytes) {
      return absl::ResourceExhaustedError("the export is larger than 1 GiB: use 'enclavectl "
                                          "audit export'");
    }
    out.bytes.append(chunk);
    return absl::OkStatus();
  });
  if (!streamed.ok()) return streamed;
  verifier::BundleOptions options;
  options.key = *key;
  options.origin = config_.trust.origin.empty() ? checkpoint->origin : config_.trust.origin;
  absl::StatusOr<verifier::BundleReport> report = verifier::VerifyBundle(out.bytes, options);
  if (!report.ok()) return report.status();  // kDataLoss naming the entry: nothing is offered
  out.origin = report->checkpoint.origin;
  out.size = report->checkpoint.size;
  return out;
}

void AddSecurityHeaders(Response& response) {
  response.set("Content-Security-Policy", std::string(kCsp));
  response.set("X-Content-Type-Options", "nosniff");
  response.set("Referrer-Policy", "no-referrer");
  response.set(http::field::cache_control, "no-store");
  response.set("Cross-Origin-Opener-Policy", "same-origin");
  response.set("Cross-Origin-Resource-Policy", "same-origin");
  response.set(http::field::x_frame_options, "DENY");
}

http::status HttpStatusFor(absl::StatusCode code) {
  switch (code) {
    case absl::StatusCode::kOk:
      return http::status::ok;
    case absl::StatusCode::kInvalidArgument:
      return http::status::bad_request;
    case absl::StatusCode::kPermissionDenied:
    case absl::StatusCode::kUnauthenticated:
      return http::status::forbidden;
    case absl::StatusCode::kNotFound:
      return http::status::not_found;
    case absl::StatusCode::kFailedPrecondition:
      return http::status::conflict;
    case absl::StatusCode::kResourceExhausted:
      return http::status::too_many_requests;
    case absl::StatusCode::kUnavailable:
      return http::status::service_unavailable;
    case absl::StatusCode::kDeadlineExceeded:
      return http::status::gateway_timeout;
    case absl::StatusCode::kUnimplemented:
      return http::status::not_implemented;
    default:
      return http::status::internal_server_error;
  }
}

std::string ErrorJson(const absl::Status& status) {
  std::string out = "{\"error\":{\"code\":" + JsonString(absl::StatusCodeToString(status.code())) +
                    ",\"message\":" + JsonString(std::string(status.message()));
  const std::vector<client::Suggestion> suggestions = client::SuggestionsOf(status);
  if (!suggestions.empty()) out += ",\"suggestions\":" + JsonSuggestions(suggestions);
  return out + "}}";
}

Api::Api(ApiConfig config, client::EnclaveClient& enclave, client::AuditClient& audit)
    : config_(std::move(config)), enclave_(enclave), audit_(audit) {}

Response Api::TooLarge(unsigned version) const {
  Response response(http::status::payload_too_large, version);
  AddSecurityHeaders(response);
  response.set(http::field::content_type, std::string(kJsonType));
  response.body() = ErrorBody("INVALID_ARGUMENT", "the request body is larger than 64 KiB");
  response.keep_alive(false);
  response.prepare_payload();
  return response;
}

Handled Api::Handle(const Request& request) const {
  const std::string port = std::to_string(config_.port);
  const std::string_view method_name(request.method_string().data(),
                                     request.method_string().size());
  const std::string_view target(request.target().data(), request.target().size());
  const std::size_t question = target.find('?');
  const std::string_view path = target.substr(0, question);
  const std::string_view query_text =
      question == std::string_view::npos ? std::string_view() : target.substr(question + 1);
  Handled out;
  out.route = std::string(method_name) + " (unknown path)";

  // DNS rebinding: only our own names reach the page.
  const auto host = request.find(http::field::host);
  const std::string_view host_value =
      host == request.end() ? std::string_view()
                            : std::string_view(host->value().data(), host->value().size());
  if (host_value != "127.0.0.1:" + port && !IEquals(host_value, "localhost:" + port)) {
    out.route = std::string(method_name) + " (bad Host)";
    out.response = Make(request, http::status::forbidden, "text/plain; charset=utf-8",
                        "Forbidden: use http://127.0.0.1:" + port + "/\n");
    return out;
  }

  const std::optional<Params> query = ParseQuery(query_text);

  // GET /?token=T: the URL printed at start; exchanged for the session cookie.
  if (path == "/" && request.method() == http::verb::get && query.has_value()) {
    for (const auto& [name, value] : *query) {
      if (name != "token") continue;
      out.route = "GET /?token=";
      if (!ConstantTimeEquals(value, config_.token)) break;
      out.response = Make(request, http::status::see_other, "text/plain; charset=utf-8", "");
      out.response.set(http::field::location, "/");
      out.response.set(http::field::set_cookie, SessionCookieName(config_.port) + "=" +
                                                    config_.token +
                                                    "; HttpOnly; SameSite=Strict; Path=/");
      return out;
    }
  }
  bool authorised = false;
  for (const std::string_view token : PresentedTokens(request, SessionCookieName(config_.port))) {
    if (ConstantTimeEquals(token, config_.token)) authorised = true;
  }
  if (!authorised) {
    out.response = Make(request, http::status::unauthorized, "text/plain; charset=utf-8",
                        std::string(kUnauthorizedText));
    out.response.set(http::field::www_authenticate, "Bearer");
    if (out.route == std::string(method_name) + " (unknown path)") {
      out.route = std::string(method_name) + " (no token)";
    }
    return out;
  }

  // Another origin may not drive the API (a form or fetch from a page the user has open).
  const auto origin = request.find(http::field::origin);
  if (origin != request.end()) {
    const std::string_view o(origin->value().data(), origin->value().size());
    if (o != "http://127.0.0.1:" + port && o != "http://localhost:" + port) {
      out.route = std::string(method_name) + " (foreign Origin)";
      out.response = JsonError(request, http::status::forbidden, "PERMISSION_DENIED",
                               "requests from another origin are refused");
      return out;
    }
  }
  if (request.method() == http::verb::post) {
    const auto type = request.find(http::field::content_type);
    std::string_view t = type == request.end()
                             ? std::string_view()
                             : std::string_view(type->value().data(), type->value().size());
    t = Trim(t.substr(0, t.find(';')));
    if (!IEquals(t, "application/json")) {
      out.route = "POST (not JSON)";
      out.response = JsonError(request, http::status::forbidden, "PERMISSION_DENIED",
                               "a POST must have Content-Type: application/json");
      return out;
    }
  }
  if (!query.has_value()) {
    out.response = JsonError(request, http::status::bad_request, "INVALID_ARGUMENT",
                             "the query string has a malformed %-escape");
    return out;
  }

  const auto method_not_allowed = [&](std::string_view allowed) {
    Response r = JsonError(request, http::status::method_not_allowed, "METHOD_NOT_ALLOWED",
                           "use " + std::string(allowed));
    r.set(http::field::allow, std::string(allowed));
    return r;
  };
  const bool get = request.method() == http::verb::get;
  const auto retrying = [&](auto call) {
    return client::CallWithRetries<typename decltype(call())::value_type>(
        config_.retry, client::SystemRetryHooks(), call);
  };

  if (path.starts_with("/api/")) {
    if (path == "/api/session") {
      out.route = std::string(method_name) + " /api/session";
      if (!get) {
        out.response = method_not_allowed("GET");
        return out;
      }
      out.response = Json(
          request, "{\"caller\":" + JsonString(config_.caller) +
                       ",\"role\":" + JsonString(RoleOfUri(config_.caller)) +
                       ",\"target\":" + JsonString(config_.target) + ",\"lang\":" +
                       JsonString(config_.lang == client::Language::kNl ? "nl" : "en") +
                       ",\"version\":" + JsonString(config_.version) + "}");
      return out;
    }
    if (path == "/api/templates") {
      out.route = std::string(method_name) + " /api/templates";
      if (!get) {
        out.response = method_not_allowed("GET");
        return out;
      }
      auto templates = retrying([&] { return enclave_.ListTemplates(); });
      out.response = templates.ok() ? Json(request, TemplatesJson(*templates))
                                    : StatusError(request, templates.status());
      return out;
    }
    if (path.starts_with("/api/templates/")) {
      out.route = std::string(method_name) + " /api/templates/{id}";
      if (!get) {
        out.response = method_not_allowed("GET");
        return out;
      }
      const std::optional<std::string> id = PercentDecode(path.substr(15));
      if (!id.has_value() || id->empty() || id->find('/') != std::string::npos) {
        out.response = JsonError(request, http::status::not_found, "NOT_FOUND",
                                 "no such template");
        return out;
      }
      auto info = retrying([&] { return enclave_.DescribeTemplate(*id); });
      out.response = info.ok() ? Json(request, TemplateInfoJson(*info))
                               : StatusError(request, info.status());
      return out;
    }
    if (path == "/api/run") {
      out.route = std::string(method_name) + " /api/run";
      if (request.method() != http::verb::post) {
        out.response = method_not_allowed("POST");
        return out;
      }
      std::string template_id;
      Params params;
      if (absl::Status s = ParseRunBody(request.body(), template_id, params); !s.ok()) {
        out.response = StatusError(request, s);
        return out;
      }
      auto result = retrying([&] { return enclave_.RunQuery(template_id, params); });
      out.response = result.ok() ? Json(request, client::FormatJson(*result))
                                 : StatusError(request, result.status());
      return out;
    }
    if (path == "/api/budget") {
      out.route = std::string(method_name) + " /api/budget";
      if (!get) {
        out.response = method_not_allowed("GET");
        return out;
      }
      auto ledgers = retrying([&] { return enclave_.GetBudget(); });
      out.response = ledgers.ok() ? Json(request, BudgetJson(*ledgers))
                                  : StatusError(request, ledgers.status());
      return out;
    }
    if (path == "/api/audit/entries") {
      out.route = std::string(method_name) + " /api/audit/entries";
      if (!get) {
        out.response = method_not_allowed("GET");
        return out;
      }
      client::AuditFilter filter;
      std::size_t limit = 200;
      if (absl::Status s = ParseAuditQuery(*query, filter, limit); !s.ok()) {
        out.response = StatusError(request, s);
        return out;
      }
      absl::StatusOr<std::string> body =
          client::cli::AuditEntriesJson(audit_, enclave_, filter, limit, config_.trust);
      out.response = body.ok() ? Json(request, *std::move(body)) : StatusError(request, body.status());
      return out;
    }
    if (path == "/api/audit/export") {
      out.route = std::string(method_name) + " /api/audit/export";
      if (!get) {
        out.response = method_not_allowed("GET");
        return out;
      }
      absl::StatusOr<ExportedBundle> bundle = ExportBundle();
      if (!bundle.ok()) {
        out.response = StatusError(request, bundle.status());
        return out;
      }
      out.response = Make(request, http::status::ok, "application/octet-stream",
                          std::move(bundle->bytes));
      out.response.set(http::field::content_disposition,
                       "attachment; filename=\"query-log-" + SafeFileName(bundle->origin) + "-" +
                           std::to_string(bundle->size) + ".bundle\"");
      return out;
    }
    out.response = JsonError(request, http::status::not_found, "NOT_FOUND", "no such API route");
    return out;
  }

  // The page's files.
  const std::string_view asset_path = path == "/" ? std::string_view("/index.html") : path;
  for (const Asset& asset : Assets()) {
    if (asset.path != asset_path) continue;
    out.route = std::string(method_name) + " (asset)";
    if (!get) {
      out.response = method_not_allowed("GET");
      return out;
    }
    out.response = Make(request, http::status::ok, asset.content_type,
                        std::string(reinterpret_cast<const char*>(asset.data), asset.size));
    return out;
  }
  out.response = JsonError(request, http::status::not_found, "NOT_FOUND", "no such page");
  return out;
}

}  // namespace enclave::web
