#include "client/web/serve_cmd.h"

#include <cstdlib>
#include <memory>
#include <string>
#include <utility>

#include "client/web/api.h"
#include "client/web/identity.h"
#include "client/web/server.h"
#include "enclave/client/client.h"

namespace enclave::web {

int RunServe(const ServeOptions& options, std::ostream& out, std::ostream& err) {
  namespace cli = client::cli;
  const auto fail = [&](const absl::Status& status) {
    err << "enclavectl: error: " << status.message() << "\n";
    return cli::ExitCodeFor(status);
  };
  absl::StatusOr<std::unique_ptr<client::EnclaveClient>> enclave =
      client::Connect(options.settings.connect);  // names the flag of a file it cannot read
  if (!enclave.ok()) return fail(enclave.status());
  absl::StatusOr<std::string> caller = CertificateUri(options.settings.connect.cert_file);
  if (!caller.ok()) return fail(caller.status());
  absl::StatusOr<std::unique_ptr<client::AuditClient>> audit =
      client::ConnectAudit(options.settings.connect);
  if (!audit.ok()) return fail(audit.status());
  absl::StatusOr<std::string> token = NewSessionToken();
  if (!token.ok()) return fail(token.status());

  WebServer server;
  absl::StatusOr<std::uint16_t> port = server.Listen(options.port);
  if (!port.ok()) return fail(port.status());

  ApiConfig config;
  config.token = *token;
  config.port = *port;
  config.caller = *caller;
  config.target = options.settings.connect.target;
  config.lang = options.settings.lang;
  config.version = ENCLAVE_VERSION;
  config.retry = options.settings.retry;
  config.trust = options.trust;
  Api api(std::move(config), **enclave, **audit);

  server.StopOnSignals();  // before the URL is printed: a test may signal right after reading it
  const std::string url =
      "http://127.0.0.1:" + std::to_string(*port) + "/?token=" + *token;
  out << "open: " << url << "\n";
  out.flush();
  if (options.browser_hint) {
    err << "enclavectl serve: open the URL above in your browser (it holds this session's "
           "token; keep it private). Ctrl-C stops the server.\n";
    err.flush();
  }
  server.Run(api);
  return 0;
}

int RunServeCommand(const client::cli::ParsedArgs& parsed, const client::cli::ConfigValues& file,
                    const char* home, std::ostream& out, std::ostream& err) {
  namespace cli = client::cli;
  absl::StatusOr<cli::Settings> settings = cli::ResolveSettings(parsed, file);
  if (!settings.ok()) {
    err << "enclavectl: error: " << settings.status().message() << "\n" << cli::ShortUsage();
    return 2;
  }
  ServeOptions options;
  options.settings = *std::move(settings);
  options.trust.log_key = parsed.audit.log_key.value_or(file.log_key.value_or(""));
  options.trust.origin = parsed.audit.origin.value_or(file.log_origin.value_or(""));
  options.trust.state_path = parsed.audit.state.value_or(
      cli::DefaultCheckpointStatePath(home == nullptr ? "" : home));
  options.port = parsed.port.has_value() ? cli::ParsePort(*parsed.port).value_or(0) : 0;
  options.browser_hint = !parsed.no_browser_hint;
  if (const char* debug = std::getenv("ENCLAVECTL_DEBUG"); debug == nullptr || *debug == '\0') {
    client::SilenceTransportLogs();
  }
  return RunServe(options, out, err);
}

}  // namespace enclave::web
