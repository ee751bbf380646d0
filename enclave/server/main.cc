// enclaved: the enclave's server process. Loads the configuration (file, then flags), checks it,
// starts the mutual-TLS gRPC server and stops it cleanly on SIGTERM or SIGINT.
//
// Exit codes: 0 clean stop (or --check passed), 1 start-up failure, 2 usage or configuration error,
// 3 stopped without logging the stop or signing the final checkpoint (the query log had failed).
#include <sys/stat.h>

#include <chrono>
#include <csignal>
#include <cstdio>
#include <exception>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include <boost/asio/io_context.hpp>
#include <boost/asio/signal_set.hpp>

#include "enclave/base/log.h"
#include "enclave/server/backup.h"
#include "enclave/server/config.h"
#include "enclave/server/server.h"
#include "enclave/server/systemd_notify.h"

namespace {

constexpr int kExitOk = 0;
constexpr int kExitStartFailure = 1;
constexpr int kExitUsage = 2;
constexpr int kExitUncleanStop = 3;

constexpr char kUsage[] =
    "usage: enclaved [--config FILE] [options]\n"
    "\n"
    "Runs the enclave's query server (gRPC with mutual TLS). Flags override the config file.\n"
    "\n"
    "  --config FILE      text-format configuration (see deploy/enclaved.example.textproto)\n"
    "  --listen ADDR      host:port to listen on (default 127.0.0.1:7443; port 0 = any free port)\n"
    "  --port-file FILE   write the port actually used to FILE once listening\n"
    "  --database FILE    read-only SQLite microdata database\n"
    "  --policies DIR     policy directory (templates/, codelists/, disclosure/, access/)\n"
    "  --state-dir DIR    writable state directory (query log, lock file)\n"
    "  --client-ca FILE   PEM CA that issued the client certificates\n"
    "  --cert FILE        PEM server certificate chain\n"
    "  --key FILE         PEM server private key\n"
    "  --approvers FILE   the privacy officers' template-approval keys (required)\n"
    "  --approvals DIR    the templates' four-eyes approvals (required)\n"
    "  --metrics-listen ADDR  GET /metrics on 127.0.0.1:PORT, [::1]:PORT or unix:/PATH\n"
    "  --check            load and check everything, print a summary, exit without listening\n"
    "\n"
    "Back up and restore (docs/operator.md), allowed while the server runs (backup) or stopped\n"
    "(restore); they use state_dir, database_path and the signing key of the configuration:\n"
    "  --backup DIR           copy the state consistently into the new directory DIR\n"
    "  --verify-backup DIR    check a backup against --verifier-key, change nothing\n"
    "  --restore DIR          verify a backup against --verifier-key, then copy it into an\n"
    "                         empty state_dir (holding only the secrets)\n"
    "  --verifier-key FILE    the log's verifier key as the privacy officers pinned it\n"
    "\n"
    "  --version          print the version\n"
    "  --help             show this help\n"
    "\n"
    "Exit status: 0 clean stop, 1 start-up failure, 2 usage or configuration error, 3 stopped\n"
    "without logging the stop or signing the final checkpoint (the query log had failed).\n";

struct Flags {
  std::optional<std::string> config_file;
  std::optional<std::string> listen, port_file, database, policies, state_dir, client_ca, cert,
      key;
  std::optional<std::string> approvers, approvals;
  std::optional<std::string> metrics_listen, backup, verify_backup, restore, verifier_key;
  bool check = false;
  bool help = false;
  bool version = false;
};

// Parses "--name VALUE" and "--name=VALUE". Returns an error message, or "" on success.
std::string ParseFlags(int argc, char** argv, Flags& flags) {
  struct ValueFlag {
    std::string_view name;
    std::optional<std::string> Flags::*field;
  };
  const ValueFlag value_flags[] = {
      {"--config", &Flags::config_file}, {"--listen", &Flags::listen},
      {"--port-file", &Flags::port_file}, {"--database", &Flags::database},
      {"--policies", &Flags::policies},   {"--state-dir", &Flags::state_dir},
      {"--client-ca", &Flags::client_ca}, {"--cert", &Flags::cert},
      {"--key", &Flags::key},
      {"--approvers", &Flags::approvers}, {"--approvals", &Flags::approvals},
      {"--metrics-listen", &Flags::metrics_listen}, {"--backup", &Flags::backup},
      {"--verify-backup", &Flags::verify_backup},   {"--restore", &Flags::restore},
      {"--verifier-key", &Flags::verifier_key},
  };
  for (int i = 1; i < argc; ++i) {
    std::string_view arg(argv[i]);
    if (arg == "--help" || arg == "-h") {
      flags.help = true;
      continue;
    }
    if (arg == "--check") {
      flags.check = true;
      continue;
    }
    if (arg == "--version") {
      flags.version = true;
      continue;
    }
    std::string_view name = arg;
    std::optional<std::string> inline_value;
    if (const std::size_t eq = arg.find('='); eq != std::string_view::npos) {
      name = arg.substr(0, eq);
      inline_value = std::string(arg.substr(eq + 1));
    }
    bool matched = false;
    for (const ValueFlag& f : value_flags) {
      if (name != f.name) continue;
      matched = true;
      if (inline_value.has_value()) {
        flags.*f.field = *inline_value;
      } else if (i + 1 < argc) {
        flags.*f.field = std::string(argv[++i]);
      } else {
        return std::string(f.name) + " needs a value";
      }
      if ((flags.*f.field)->empty()) return std::string(f.name) + " needs a non-empty value";
    }
    if (!matched) return "unknown argument: " + std::string(arg);
  }
  return "";
}

void ApplyOverrides(const Flags& flags, enclave::server::Config& config) {
  if (flags.listen) config.listen_address = *flags.listen;
  if (flags.port_file) config.port_file = *flags.port_file;
  if (flags.database) config.database_path = *flags.database;
  if (flags.policies) config.policies_dir = *flags.policies;
  if (flags.state_dir) config.state_dir = *flags.state_dir;
  if (flags.client_ca) config.client_ca_file = *flags.client_ca;
  if (flags.cert) config.server_cert_file = *flags.cert;
  if (flags.key) config.server_key_file = *flags.key;
  if (flags.approvers) config.approvers_file = *flags.approvers;
  if (flags.approvals) config.approvals_dir = *flags.approvals;
  if (flags.metrics_listen) config.metrics_listen = *flags.metrics_listen;
}

// --backup, --verify-backup, --restore (issue 13, server/backup.h): need only the state
// directory, the database and the signing key of the configuration, not the TLS files.
int RunStateCommand(const Flags& flags, const enclave::server::Config& config) {
  namespace server = enclave::server;
  const int modes = (flags.backup ? 1 : 0) + (flags.verify_backup ? 1 : 0) + (flags.restore ? 1 : 0);
  if (modes > 1 || flags.check) {
    std::fprintf(stderr, "enclaved: --backup, --verify-backup, --restore and --check exclude each other\n");
    return kExitUsage;
  }
  if ((flags.backup || flags.restore) && config.state_dir.empty()) {
    std::fprintf(stderr, "enclaved: state_dir is required (config file or --state-dir)\n");
    return kExitUsage;
  }
  if (flags.backup) {
    server::BackupOptions options;
    options.state_dir = config.state_dir;
    options.database_path = config.database_path;
    options.signing_key_file = config.log_signing_key_file;
    options.to = *flags.backup;
    absl::StatusOr<server::BackupReport> report = server::BackupState(options);
    if (!report.ok()) {
      std::fprintf(stderr, "enclaved: backup failed: %s\n",
                   std::string(report.status().message()).c_str());
      return kExitStartFailure;
    }
    std::printf("backed up %llu query-log entries (all under the log's signed head) to %s:\n",
                static_cast<unsigned long long>(report->log_entries), flags.backup->c_str());
    for (const server::BackupFile& f : report->files) {
      std::printf("  %-20s %12llu bytes  sha256 %s\n", f.name.c_str(),
                  static_cast<unsigned long long>(f.bytes), f.sha256_hex.c_str());
    }
    std::printf("not in the backup (secrets, keep them in the key escrow): log_signing.key or the "
                "signing-key credential, record_key.secret, the TLS server key, the steward's "
                "pseudonymisation key\n");
    return kExitOk;
  }
  if (!flags.verifier_key) {
    std::fprintf(stderr, "enclaved: --verifier-key FILE is required: the log's verifier key as "
                         "the privacy officers pinned it (a backup cannot vouch for itself)\n");
    return kExitUsage;
  }
  if (flags.verify_backup) {
    absl::StatusOr<std::string> key = server::ReadVerifierKeyFile(*flags.verifier_key);
    absl::StatusOr<server::VerifiedBackup> verified =
        key.ok() ? server::VerifyBackup(*flags.verify_backup, *key)
                 : absl::StatusOr<server::VerifiedBackup>(key.status());
    if (!verified.ok()) {
      std::fprintf(stderr, "enclaved: the backup does not verify: %s\n",
                   std::string(verified.status().message()).c_str());
      return kExitStartFailure;
    }
    std::printf("backup OK: %llu query-log entries, every one under the log's signed head "
                "(signed by the pinned key); %zu files match the signed manifest\n",
                static_cast<unsigned long long>(verified->log_entries), verified->files.size());
    return kExitOk;
  }
  server::RestoreOptions options;
  options.from = *flags.restore;
  options.state_dir = config.state_dir;
  options.database_path = config.database_path;
  options.verifier_key_file = *flags.verifier_key;
  options.signing_key_configured = !config.log_signing_key_file.empty();
  absl::StatusOr<server::VerifiedBackup> restored = server::RestoreState(options);
  if (!restored.ok()) {
    std::fprintf(stderr, "enclaved: restore refused: %s\n",
                 std::string(restored.status().message()).c_str());
    return kExitStartFailure;
  }
  std::printf("restored %llu verified query-log entries into %s; start the service, and tell the "
              "privacy officers (entries after the backup are gone: their audit verify will "
              "report a rollback)\n",
              static_cast<unsigned long long>(restored->log_entries), config.state_dir.c_str());
  return kExitOk;
}

int Run(int argc, char** argv) {
  // Everything enclaved creates is for its own user only, inside systemd (UMask=0077) or not.
  ::umask(077);
  Flags flags;
  if (std::string error = ParseFlags(argc, argv, flags); !error.empty()) {
    std::fprintf(stderr, "enclaved: %s\n%s", error.c_str(), kUsage);
    return kExitUsage;
  }
  if (flags.help) {
    std::fputs(kUsage, stdout);
    return kExitOk;
  }
  if (flags.version) {
    std::printf("enclaved %s (API enclave.v1)\n", ENCLAVE_VERSION);
    return kExitOk;
  }

  enclave::server::Config config;
  if (flags.config_file) {
    absl::StatusOr<enclave::server::Config> loaded =
        enclave::server::LoadConfigFile(*flags.config_file);
    if (!loaded.ok()) {
      std::fprintf(stderr, "enclaved: configuration error:\n%s\n",
                   std::string(loaded.status().message()).c_str());
      return kExitUsage;
    }
    config = *std::move(loaded);
  }
  ApplyOverrides(flags, config);
  if (flags.backup || flags.verify_backup || flags.restore) return RunStateCommand(flags, config);
  if (absl::Status valid = enclave::server::ValidateConfig(config); !valid.ok()) {
    std::fprintf(stderr, "enclaved: configuration error:\n%s\n",
                 std::string(valid.message()).c_str());
    return kExitUsage;
  }

  if (flags.check) {
    absl::StatusOr<enclave::server::ConfigCheck> check =
        enclave::server::CheckConfiguration(config);
    if (!check.ok()) {
      std::fprintf(stderr, "enclaved: configuration check failed:\n%s\n",
                   std::string(check.status().message()).c_str());
      return kExitUsage;
    }
    std::printf("configuration OK: %zu templates, %zu principals\n", check->templates,
                check->principals);
    return kExitOk;
  }

  // The signal set exists before the server starts, so a SIGTERM during start-up is not lost; its
  // handler runs on this thread inside io.run(), never in signal context.
  boost::asio::io_context io;
  boost::asio::signal_set signals(io);
  boost::system::error_code ec;
  signals.add(SIGTERM, ec);
  if (!ec) signals.add(SIGINT, ec);
  if (ec) {
    std::fprintf(stderr, "enclaved: cannot install signal handling: %s\n", ec.message().c_str());
    return kExitStartFailure;
  }

  absl::StatusOr<std::unique_ptr<enclave::server::RunningServer>> server =
      enclave::server::StartServer(config);
  if (!server.ok()) {
    std::fprintf(stderr, "enclaved: start-up failed: %s\n",
                 std::string(server.status().message()).c_str());
    return kExitStartFailure;
  }
  enclave::base::LogInfo("listening", {{"port", enclave::base::RowCount{(*server)->port()}}});
  // systemd (Type=notify, WatchdogSec=): ready once listening; pings only while the self-check
  // passes. No-ops without $NOTIFY_SOCKET.
  enclave::server::NotifyReady((*server)->port());
  std::optional<enclave::server::Watchdog> watchdog;
  if (std::optional<std::chrono::microseconds> interval = enclave::server::WatchdogInterval()) {
    watchdog.emplace(*interval / 2, [&server] { return (*server)->CheckAlive(); });
  }

  int received = 0;
  signals.async_wait([&](const boost::system::error_code& error, int signal_number) {
    if (!error) received = signal_number;
    enclave::server::NotifyStopping();
    watchdog.reset();
    (*server)->Shutdown();
  });
  io.run();
  (*server)->Wait();
  if (absl::Status stopped = (*server)->StopStatus(); !stopped.ok()) {
    // E.g. after a full disk: the log refused every write since, so this stop is not on record.
    std::fprintf(stderr, "enclaved: unclean stop: %s\n", std::string(stopped.message()).c_str());
    enclave::base::LogInfo("exit", {{"signal", enclave::base::RowCount{received}},
                                    {"exit_code", enclave::base::RowCount{kExitUncleanStop}}});
    return kExitUncleanStop;
  }
  enclave::base::LogInfo("exit", {{"signal", enclave::base::RowCount{received}}});
  return kExitOk;
}

}  // namespace

int main(int argc, char** argv) {
  try {
    return Run(argc, argv);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "enclaved: fatal: %s\n", e.what());
  } catch (...) {
    std::fprintf(stderr, "enclaved: fatal: unknown exception\n");
  }
  return kExitStartFailure;
}
