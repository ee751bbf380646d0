// enclavectl's command line: parsing, merging with the config file, help texts and exit codes.
// Internal to the CLI; kept apart from main.cc so that it is testable without a server.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "client/cli/config.h"
#include "enclave/client/client.h"
#include "enclave/client/format.h"
#include "enclave/client/retry.h"

namespace enclave::client::cli {

enum class Command {
  kHelp, kVersion, kTemplates, kDescribe, kRun, kAudit, kBudget, kHealth, kServe, kCompletion
};
// enclavectl audit <action>
enum class AuditAction { kCheckpoint, kLog, kVerify, kExport, kVerifyBundle, kReceipt };

// The audit subcommands' flags, as given (times and sizes checked by ParseArgs).
struct AuditFlags {
  std::optional<std::string> caller;       // log
  std::optional<std::string> template_id;  // log: --template
  std::optional<std::string> from;         // log: time, see ParseAuditTime
  std::optional<std::string> to;           // log
  std::optional<std::string> decision;     // log
  std::optional<std::string> type;         // log: entry type
  std::optional<std::string> state;        // verify, verify-bundle, log, export: the stored checkpoint
  std::optional<std::string> log_key;      // every audit command (or config log_key)
  std::optional<std::string> origin;       // every audit command (or config log_origin)
  std::optional<std::string> project;      // log: --project
  bool cells = false;                      // log: --cells (decode each result's cell rules)
  // log: --param NAME=VALUE filters are ParsedArgs::params (each an exact canonical pair).
};
enum class OutputFormat { kTable, kCsv, kJson };

// The command line as given, before the config file is merged in.
struct ParsedArgs {
  Command command = Command::kHelp;
  std::string help_topic;   // kHelp: a subcommand name, or empty for the general help
  std::string template_id;  // kDescribe, kRun
  ConfigValues flags;       // global flags (and --format), unvalidated
  std::optional<std::string> config_file;
  std::vector<std::pair<std::string, std::string>> params;  // kRun, in the order given
  std::optional<std::string> output_file;                    // kRun, audit export
  AuditAction audit_action = AuditAction::kCheckpoint;       // kAudit
  std::string bundle_file;                                   // audit verify-bundle FILE
  std::string receipt_request_id;                            // audit receipt REQUEST_ID
  AuditFlags audit;                                          // kAudit
  std::string health_service;                                // kHealth: "" = the whole server
  std::optional<std::string> port;                           // kServe: --port (checked)
  bool no_browser_hint = false;                              // kServe: --no-browser-hint
};

// Parses argv[1..]. Flags take "--flag VALUE" or "--flag=VALUE" and may come before or after
// the subcommand; "-p NAME=VALUE" is short for "--param NAME=VALUE"; "--" ends the flags.
// kInvalidArgument (a usage error) for an unknown flag or subcommand, a missing value, a
// --param without '=' or repeated, an unknown --format or --lang, or a run-only flag elsewhere.
[[nodiscard]] absl::StatusOr<ParsedArgs> ParseArgs(const std::vector<std::string>& args);

// What a command needs to run, after merging flags over the config file.
struct Settings {
  ConnectOptions connect;
  RetryPolicy retry;  // --retries, --retry-max-time (or the config file)
  Language lang = Language::kEn;
  OutputFormat format = OutputFormat::kTable;
};

// Flags override `file`. kInvalidArgument for an invalid timeout, lang, format, retries or
// retry_max_time (naming whether it came from a flag or the config file), or a missing target,
// ca, cert or key.
[[nodiscard]] absl::StatusOr<Settings> ResolveSettings(const ParsedArgs& args,
                                                       const ConfigValues& file);

// The process exit code for a command's final status (documented in the --help text):
// 0 OK; 2 usage error or INVALID_ARGUMENT; 3 PERMISSION_DENIED or UNAUTHENTICATED; 4 NOT_FOUND;
// 5 UNAVAILABLE; 6 RESOURCE_EXHAUSTED; 7 DEADLINE_EXCEEDED; 8 DATA_LOSS (the audit log failed
// verification); 1 anything else.
int ExitCodeFor(const absl::Status& status);

// A time for 'audit log --from/--to', in UTC: "2026-11-25", "2026-11-25T13:05", "2026-11-25T13:05:09"
// (an optional trailing 'Z'), or milliseconds since the epoch ("1764075909000"). Returns ms since
// the epoch. kInvalidArgument naming `what` otherwise.
[[nodiscard]] absl::StatusOr<std::int64_t> ParseAuditTime(std::string_view what,
                                                          std::string_view text);

// serve --port: 0..65535 (0: any free port). kInvalidArgument otherwise.
[[nodiscard]] absl::StatusOr<std::uint16_t> ParsePort(std::string_view text);

// A few lines for stderr after a usage error.
std::string ShortUsage();
// The --help text: general when `topic` is empty, else for one subcommand.
// kNotFound for an unknown topic.
[[nodiscard]] absl::StatusOr<std::string> HelpText(std::string_view topic);
// 'enclavectl completion bash': a bash completion script for the commands, audit actions and
// flags, generated from the same command list as the parser and the help.
std::string BashCompletion();
std::string VersionText();

}  // namespace enclave::client::cli
