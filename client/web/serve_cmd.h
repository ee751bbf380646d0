// enclavectl serve (issue 12, docs/web-api.md): the local web page for analysts, researchers and
// privacy officers, over the same mutual-TLS client library and the user's own certificate.
#pragma once

#include <cstdint>
#include <ostream>

#include "client/cli/args.h"
#include "client/cli/audit.h"

namespace enclave::web {

struct ServeOptions {
  client::cli::Settings settings;   // connection, retries, language (as every command resolves)
  client::cli::AuditTrust trust;    // the officer's pinned log key and origin (log view, export)
  std::uint16_t port = 0;           // 0: any free port
  bool browser_hint = true;         // a human hint on stderr besides the "open:" line
};

// Connects (one EnclaveClient and one AuditClient for the session), reads the certificate's URI,
// makes the session token, listens on 127.0.0.1, prints exactly one line to `out`
// ("open: http://127.0.0.1:PORT/?token=TOKEN") and flushes it, then serves until SIGINT or
// SIGTERM. Returns the process exit code (0 after a clean stop); errors go to `err`.
int RunServe(const ServeOptions& options, std::ostream& out, std::ostream& err);

// `enclavectl serve` from the parsed command line and the config file: resolves the Settings as
// every command does (a usage error: exit 2), the trust from --log-key/--origin/--state or the
// config file (log_key, log_origin; state default HOME/.config/enclavectl/checkpoint), then
// RunServe.
int RunServeCommand(const client::cli::ParsedArgs& parsed, const client::cli::ConfigValues& file,
                    const char* home, std::ostream& out, std::ostream& err);

}  // namespace enclave::web
