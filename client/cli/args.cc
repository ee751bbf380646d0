// enclavectl's command-line parser, settings merge, help texts and exit codes.
#include "client/cli/args.h"

#include "client/cli/template_cmd.h"

#include <charconv>
#include <cmath>
#include <algorithm>
#include <optional>
#include <set>

#ifndef ENCLAVE_VERSION
#define ENCLAVE_VERSION "unknown"
#endif

namespace enclave::client::cli {
namespace {

constexpr double kMaxTimeoutSeconds = 24 * 60 * 60;

bool StartsWith(std::string_view s, std::string_view prefix) {
  return s.substr(0, prefix.size()) == prefix;
}

absl::Status CheckLang(std::string_view what, std::string_view value) {
  if (value == "nl" || value == "en") return absl::OkStatus();
  return absl::InvalidArgumentError(std::string(what) + ": unknown language '" +
                                    std::string(value) + "' (allowed: nl, en)");
}

absl::Status CheckFormat(std::string_view what, std::string_view value) {
  if (value == "table" || value == "csv" || value == "json") return absl::OkStatus();
  return absl::InvalidArgumentError(std::string(what) + ": unknown format '" +
                                    std::string(value) + "' (allowed: table, csv, json)");
}

absl::StatusOr<std::chrono::milliseconds> ParseTimeout(std::string_view what,
                                                       std::string_view value) {
  double seconds = 0;
  const char* end = value.data() + value.size();
  const auto [ptr, ec] = std::from_chars(value.data(), end, seconds);
  if (ec != std::errc() || ptr != end || !std::isfinite(seconds) || seconds <= 0 ||
      seconds > kMaxTimeoutSeconds) {
    return absl::InvalidArgumentError(std::string(what) + ": '" + std::string(value) +
                                      "' is not a number of seconds in (0, 86400]");
  }
  const auto ms = static_cast<std::int64_t>(std::ceil(seconds * 1000.0));
  return std::chrono::milliseconds(ms);
}

constexpr int kMaxRetries = 100;

absl::StatusOr<int> ParseRetries(std::string_view what, std::string_view value) {
  int n = -1;
  const char* end = value.data() + value.size();
  const auto [ptr, ec] = std::from_chars(value.data(), end, n);
  if (ec != std::errc() || ptr != end || n < 0 || n > kMaxRetries) {
    return absl::InvalidArgumentError(std::string(what) + ": '" + std::string(value) +
                                      "' is not a whole number from 0 to 100");
  }
  return n;
}

// Seconds as for --timeout, but 0 (no retries) is allowed.
absl::StatusOr<std::chrono::milliseconds> ParseRetryTime(std::string_view what,
                                                         std::string_view value) {
  if (value == "0") return std::chrono::milliseconds(0);
  absl::StatusOr<std::chrono::milliseconds> ms = ParseTimeout(what, value);
  if (!ms.ok()) {
    return absl::InvalidArgumentError(std::string(what) + ": '" + std::string(value) +
                                      "' is not a number of seconds in [0, 86400]");
  }
  return ms;
}

// Flags that take a value, and where the value goes. Nullptr: handled by the caller.
std::optional<std::string>* ValueSlot(ParsedArgs& parsed, std::string_view flag) {
  if (flag == "--target") return &parsed.flags.target;
  if (flag == "--ca") return &parsed.flags.ca;
  if (flag == "--cert") return &parsed.flags.cert;
  if (flag == "--key") return &parsed.flags.key;
  if (flag == "--server-name") return &parsed.flags.server_name;
  if (flag == "--timeout") return &parsed.flags.timeout;
  if (flag == "--lang") return &parsed.flags.lang;
  if (flag == "--format") return &parsed.flags.format;
  if (flag == "--retries") return &parsed.flags.retries;
  if (flag == "--retry-max-time") return &parsed.flags.retry_max_time;
  if (flag == "--config") return &parsed.config_file;
  if (flag == "--output") return &parsed.output_file;
  if (flag == "--caller") return &parsed.audit.caller;
  if (flag == "--template") return &parsed.audit.template_id;
  if (flag == "--from") return &parsed.audit.from;
  if (flag == "--to") return &parsed.audit.to;
  if (flag == "--decision") return &parsed.audit.decision;
  if (flag == "--type") return &parsed.audit.type;
  if (flag == "--state") return &parsed.audit.state;
  if (flag == "--log-key") return &parsed.audit.log_key;
  if (flag == "--origin") return &parsed.audit.origin;
  if (flag == "--project") return &parsed.audit.project;
  if (flag == "--port") return &parsed.port;
  return nullptr;
}

absl::Status AddParam(ParsedArgs& parsed, std::string_view flag, std::string_view text) {
  const std::size_t eq = text.find('=');
  if (eq == std::string_view::npos) {
    return absl::InvalidArgumentError(std::string(flag) + " '" + std::string(text) +
                                      "': expected NAME=VALUE");
  }
  const std::string name(text.substr(0, eq));
  if (name.empty()) {
    return absl::InvalidArgumentError(std::string(flag) + " '" + std::string(text) +
                                      "': empty parameter name");
  }
  for (const auto& [existing, value] : parsed.params) {
    if (existing == name) {
      return absl::InvalidArgumentError("parameter '" + name + "' is given more than once");
    }
  }
  parsed.params.emplace_back(name, std::string(text.substr(eq + 1)));
  return absl::OkStatus();
}


absl::StatusOr<AuditAction> AuditActionNamed(std::string_view name) {
  if (name == "checkpoint") return AuditAction::kCheckpoint;
  if (name == "log") return AuditAction::kLog;
  if (name == "verify") return AuditAction::kVerify;
  if (name == "export") return AuditAction::kExport;
  if (name == "verify-bundle") return AuditAction::kVerifyBundle;
  if (name == "receipt") return AuditAction::kReceipt;
  return absl::InvalidArgumentError(
      "unknown audit command '" + std::string(name) +
      "' (allowed: checkpoint, log, verify, export, verify-bundle, receipt)");
}

// Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's days_from_civil).
std::int64_t DaysFromCivil(std::int64_t y, unsigned m, unsigned d) {
  y -= m <= 2 ? 1 : 0;
  const std::int64_t era = (y >= 0 ? y : y - 399) / 400;
  const auto yoe = static_cast<unsigned>(y - era * 400);
  const unsigned doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
  const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + static_cast<std::int64_t>(doe) - 719468;
}

// The audit flags each audit command accepts.
absl::Status CheckAuditFlags(const ParsedArgs& parsed) {
  const AuditAction a = parsed.audit_action;
  const auto only = [](bool given, bool allowed, std::string_view flag,
                       std::string_view where) -> absl::Status {
    if (given && !allowed) {
      return absl::InvalidArgumentError(std::string(flag) + " applies only to " +
                                        std::string(where));
    }
    return absl::OkStatus();
  };
  const AuditFlags& f = parsed.audit;
  const bool log = a == AuditAction::kLog;
  const bool state = a == AuditAction::kVerify || a == AuditAction::kVerifyBundle ||
                     a == AuditAction::kLog || a == AuditAction::kExport;
  for (const auto& [given, flag] :
       std::initializer_list<std::pair<bool, std::string_view>>{
           {f.caller.has_value(), "--caller"},
           {f.template_id.has_value(), "--template"},
           {f.from.has_value(), "--from"},
           {f.to.has_value(), "--to"},
           {f.decision.has_value(), "--decision"},
           {f.type.has_value(), "--type"},
           {f.project.has_value(), "--project"},
           {f.cells, "--cells"},
           {!parsed.params.empty(), "--param"},
           {parsed.flags.format.has_value(), "--format"}}) {
    if (absl::Status s = only(given, log, flag, "'audit log'"); !s.ok()) return s;
  }
  if (absl::Status s = only(f.state.has_value(), state, "--state",
                            "'audit verify', 'audit verify-bundle', 'audit log' and 'audit export'");
      !s.ok()) {
    return s;
  }
  // --log-key and --origin apply to every audit command: each checks what it shows.
  if (absl::Status s = only(parsed.output_file.has_value(), a == AuditAction::kExport,
                            "--output", "'run' and 'audit export'");
      !s.ok()) {
    return s;
  }
  if (a == AuditAction::kExport && !parsed.output_file.has_value()) {
    return absl::InvalidArgumentError("'audit export' needs --output FILE");
  }
  if (log && parsed.flags.format.has_value() && *parsed.flags.format == "csv") {
    return absl::InvalidArgumentError("--format: 'audit log' prints table or json, not csv");
  }
  if (f.from.has_value()) {
    if (absl::Status s = ParseAuditTime("--from", *f.from).status(); !s.ok()) return s;
  }
  if (f.to.has_value()) {
    if (absl::Status s = ParseAuditTime("--to", *f.to).status(); !s.ok()) return s;
  }
  return absl::OkStatus();
}

constexpr std::string_view kGeneralHelp = R"(enclavectl - ask the secure data enclave of CBS and Leidschendam-Voorburg
for disclosure-controlled tables.

Usage:
  enclavectl [global flags] templates
  enclavectl [global flags] describe TEMPLATE
  enclavectl [global flags] run TEMPLATE [--param NAME=VALUE ...] [--format table|csv|json] [--output FILE]
  enclavectl [global flags] audit checkpoint|log|verify|export|verify-bundle|receipt ...
  enclavectl [global flags] health [SERVICE]
  enclavectl [global flags] serve [--port N]
  enclavectl template sign|check ...
  enclavectl help [COMMAND]
  enclavectl --version

Commands:
)";

// After the command list (kCommands) of the general help.
constexpr std::string_view kGeneralHelpFlags = R"(
Global flags (also allowed after the command):
  --target HOST:PORT    address of the enclave
  --ca FILE             PEM of the CA that issued the enclave's certificate
  --cert FILE           your client certificate (PEM)
  --key FILE            the certificate's private key (PEM)
  --server-name NAME    name to verify the enclave's certificate against, when it
                        differs from HOST
  --timeout SECONDS     deadline for each call (default 30)
  --retries N           when the enclave is busy (RESOURCE_EXHAUSTED with "retry
                        after N s"), retry up to N times (default 4; 0: never)
  --retry-max-time SECONDS
                        give up retrying when the next wait would end later than
                        this after the first attempt (default 20; 0: never retry).
                        Each wait is at least what the enclave asked, doubles
                        from 1 s, plus up to 50% jitter; "retrying in N s" goes
                        to stderr
  --lang nl|en          language of labels and headings (default en)
  --config FILE         config file (default: $ENCLAVECTL_CONFIG, else
                        ~/.config/enclavectl/config if it exists)
  -h, --help            this help; 'enclavectl help COMMAND' for one command
  --version             print the version

Config file: "key = value" lines and '#' comments. Keys: target, ca, cert, key,
server_name, timeout, lang, format, log_key, log_origin, retries, retry_max_time. Relative paths
are resolved against the config file's folder. Flags override the file.

  target = enclave.lv.local:7443
  ca     = pki/ca.pem
  cert   = pki/analyst.pem
  key    = pki/analyst.key
  lang   = nl

In tables and CSV a "." marks a confidential cell: the enclave withheld it to
protect the people or businesses behind it. It is never 0. In JSON such a cell
has "status":"confidential" and "value":null.

Set ENCLAVECTL_DEBUG=1 to also see the transport library's own diagnostics.

Exit codes:
  0  success
  1  any other error
  2  usage error, or the enclave rejected an argument (INVALID_ARGUMENT)
  3  not allowed: PERMISSION_DENIED or UNAUTHENTICATED
  4  no such template (NOT_FOUND)
  5  cannot reach the enclave, or the TLS handshake failed (UNAVAILABLE)
  6  a limit or budget is exhausted (RESOURCE_EXHAUSTED; a busy enclave is
     retried first, see --retries)
  7  the call timed out (DEADLINE_EXCEEDED)
  8  the audit log failed verification (DATA_LOSS)
)";

constexpr std::string_view kTemplatesHelp = R"(Usage: enclavectl [global flags] templates [--format table|json]

Lists the templates your role may run: id, version, theme and title.
--format json prints them as one JSON object, titles in both languages.
See 'enclavectl --help' for the global flags.
)";

constexpr std::string_view kBudgetHelp = R"(Usage: enclavectl [global flags] budget [--format table|json]

Researchers: shows each privacy-budget ledger of your agreements (agreement,
project, current data version) with its cap, what was spent, what running
queries hold (reserved) and what remains, in epsilon. A differentially private
template runs only if its charge fits in every ledger; an identical repeat of a
released query is served free. Other roles are refused (exit code 3).
--format json prints the ledgers in micro-epsilon as integers.
See 'enclavectl --help' for the global flags.
)";

constexpr std::string_view kHealthHelp = R"(Usage: enclavectl [global flags] health [SERVICE]

Operators: asks the enclave's standard gRPC health service (grpc.health.v1,
behind the same mutual TLS) whether it serves, and prints SERVING or
NOT_SERVING (starting, stopping, or its query log cannot be written, so every
query would be refused). SERVICE is empty for the whole server, or
enclave.v1.QueryService or enclave.v1.AuditService.
Exit code 0 only for SERVING; 5 for NOT_SERVING or when the enclave cannot be
reached; 3 for other roles (only OPERATOR may ask; the refusal is logged).
See 'enclavectl --help' for the global flags.
)";

constexpr std::string_view kServeHelp = R"(Usage: enclavectl [global flags] serve [--port N] [--no-browser-hint]
                  [--log-key KEY] [--origin ORIGIN]

Starts a web server on this machine for the enclave's web page: templates by
theme, parameter forms, tables, charts and the district map; for privacy
officers the query log; for researchers their budgets. It talks to the enclave
with your certificate, exactly as the other commands do, and prints one line:

  open: http://127.0.0.1:PORT/?token=TOKEN

Open that URL in your browser. TOKEN is a random secret made for this session
only: without it (or the cookie the page gets from it) every request is
refused, so other web pages and other users of this machine cannot use your
certificate through the server. Keep the URL to yourself.

  --port N            the port on 127.0.0.1 (default 0: any free port)
  --no-browser-hint   print only the "open:" line (no hint on stderr)
  --log-key KEY       privacy officers: the pinned log key, to verify the log
  --origin ORIGIN     and its origin (default: 'log_key' and 'log_origin' in
                      the config file)

The server listens on 127.0.0.1 only, answers only requests for 127.0.0.1 or
localhost, sends a strict Content-Security-Policy, loads nothing from the
internet and writes nothing to disk. Ctrl-C (SIGINT) or SIGTERM stops it
(exit code 0). The page's language follows --lang (it can be switched there).
See 'enclavectl --help' for the global flags.
)";

constexpr std::string_view kDescribeHelp = R"(Usage: enclavectl [global flags] describe TEMPLATE [--format table|json]

Shows one template: its parameters (type, range or allowed values, default),
its statistics, the unit counted and the disclosure rule set that applies.
--format json prints every field, labels in both languages.
See 'enclavectl --help' for the global flags.
)";

constexpr std::string_view kRunHelp = R"(Usage: enclavectl [global flags] run TEMPLATE [--param NAME=VALUE ...]
                  [--format table|csv|json] [--output FILE]

Runs an approved template with checked parameters and prints the table the
enclave released.

  -p, --param NAME=VALUE   a template parameter; repeat for several
                           (see 'enclavectl describe TEMPLATE')
  --format table|csv|json  output format (default table, or 'format' in the
                           config file)
  --output FILE            write to FILE instead of stdout (written to a
                           temporary file first, then renamed into place)

A "." is a confidential cell, never 0.

Example:
  enclavectl run zzp_aantal_per_wijk -p year=2023 --format csv --output zzp.csv
)";

constexpr std::string_view kAuditHelp = R"(Usage: enclavectl [global flags] audit checkpoint [--log-key KEY] [--origin ORIGIN]
       enclavectl [global flags] audit log [--caller URI] [--project P] [--template ID]
                  [--param NAME=VALUE]... [--from TIME] [--to TIME] [--decision D]
                  [--type TYPE] [--cells] [--format table|json] [--log-key KEY]
                  [--origin ORIGIN] [--state FILE]
       enclavectl [global flags] audit verify [--state FILE] [--log-key KEY] [--origin ORIGIN]
       enclavectl [global flags] audit export --output FILE [--log-key KEY] [--origin ORIGIN]
                  [--state FILE]
       enclavectl audit verify-bundle FILE [--log-key KEY] [--origin ORIGIN] [--state FILE]
       enclavectl [global flags] audit receipt REQUEST_ID [--log-key KEY] [--origin ORIGIN]

The enclave's query log for privacy officers (researchers: see your receipts in
the researcher's guide). Every call is checked against your role; a refused call
is itself logged.

  checkpoint     show the latest signed checkpoint; with a log key, verify it
  log            list entries, filtered: --caller, --project, --template,
                 --param NAME=VALUE (repeatable; each must be one of the entry's
                 parameters exactly, e.g. --param geo=wijk), --decision
                 ("allowed", "PERMISSION_DENIED", ...), --type ("query-result",
                 ...), --from/--to (UTC: 2026-11-25, 2026-11-25T13:05[:09][Z],
                 or ms since 1970; from inclusive, to exclusive). --cells shows
                 under each query result its withheld cells, decoded with the
                 release's layout from the enclave ("District 04 × Female:
                 withheld, share denominator below 100"; --lang nl in Dutch);
                 with --format json every cell. Every entry
                 shown is re-hashed and proven included in a checkpoint signed
                 by the pinned key (needs the log key); one not yet covered is
                 marked NOT YET CHECKPOINTED. An entry whose bytes do not match
                 fails the command (exit 8), naming it; nothing is shown then.
  verify         fetch the latest checkpoint, verify its signature with the pinned
                 key, prove it consistent with the checkpoint you stored last
                 (--state FILE, default ~/.config/enclavectl/checkpoint), then
                 download the whole log and re-hash every entry, old and new
                 (the old ones must still fold to your stored checkpoint); only
                 then store the new checkpoint. Names the first altered entry.
  export         write the export bundle of the whole log to FILE: downloaded to
                 a temporary file, verified as verify-bundle would (needs the
                 log key), and only then renamed into place
  verify-bundle  check a bundle offline, without a server: signature, every
                 entry, the root, and (with --state) consistency with your
                 stored checkpoint
  receipt        the receipt of one of your own requests (researchers too):
                 its log entries, each proven included in the signed checkpoint
                 (needs the log key)

--log-key KEY is the log's verifier key "<name>+<hex id>+<base64 key>" that you
received out of band; or set 'log_key = ...' in the config file. --origin (or
'log_origin') pins the log's origin; without it the origin in the stored
checkpoint, or else in the signed checkpoint itself, is used. log and export
only read the stored checkpoint (--state, default as for verify): what they
show must extend it.

Exit codes: as 'enclavectl --help'; 8 when the log fails verification.
)";

constexpr std::string_view kCompletionHelp = R"(Usage: enclavectl completion bash

Prints a bash completion script for enclavectl's commands, audit actions and flags. Load it in
the current shell with

  source <(enclavectl completion bash)

or save it as ~/.local/share/bash-completion/completions/enclavectl.
)";

constexpr std::string_view kHelpHelp = R"(Usage: enclavectl help [COMMAND]

Shows the general help, or the help for one command (templates, describe, run, audit).
)";

// The one list of enclavectl's commands: parsing (CommandNamed), the general help's command
// list, 'enclavectl help COMMAND', the error for an unknown command and the bash completion.
struct CommandSpec {
  std::string_view name;
  std::optional<Command> command;  // nullopt: handled before parsing (template: offline)
  std::string_view summary;        // one line in the general help
  std::string_view help;           // 'enclavectl help NAME'; "" when main.cc prints it
};

constexpr CommandSpec kCommands[] = {
    {"templates", Command::kTemplates, "list the templates your role may run", kTemplatesHelp},
    {"describe", Command::kDescribe,
     "show a template's parameters, allowed values and statistics", kDescribeHelp},
    {"run", Command::kRun, "run a template and print the released table", kRunHelp},
    {"audit", Command::kAudit,
     "the tamper-evident query log (privacy officers): see 'enclavectl help audit'", kAuditHelp},
    {"budget", Command::kBudget,
     "your privacy budgets (researchers): cap, spent, reserved, remaining", kBudgetHelp},
    {"health", Command::kHealth,
     "whether the enclave serves (operators): SERVING, exit 0; else exit 5", kHealthHelp},
    {"serve", Command::kServe,
     "the web page on this machine (127.0.0.1 only): see 'enclavectl help serve'", kServeHelp},
    {"template", std::nullopt,
     "four-eyes template approval, offline: see 'enclavectl help template'", ""},
    {"completion", Command::kCompletion,
     "a bash completion script: source <(enclavectl completion bash)", kCompletionHelp},
    {"help", Command::kHelp, "show help for a command", kHelpHelp},
};

// The actions of 'audit' (AuditActionNamed), for the completion.
constexpr std::string_view kAuditActionNames = "checkpoint log verify export verify-bundle receipt";

std::string CommandNames() {
  std::string out;
  for (const CommandSpec& c : kCommands) {
    if (!out.empty()) out += ", ";
    out += c.name;
  }
  return out;
}

const CommandSpec* FindCommand(std::string_view name) {
  for (const CommandSpec& c : kCommands) {
    if (c.name == name) return &c;
  }
  return nullptr;
}

absl::StatusOr<Command> CommandNamed(std::string_view name) {
  const CommandSpec* spec = FindCommand(name);
  if (spec == nullptr) {
    return absl::InvalidArgumentError("unknown command '" + std::string(name) +
                                      "' (allowed: " + CommandNames() + ")");
  }
  if (!spec->command.has_value()) {
    return absl::InvalidArgumentError(
        "'" + std::string(name) +
        "' takes no global flags and comes first: enclavectl template sign|check ... (see "
        "'enclavectl help template')");
  }
  return *spec->command;
}

std::string GeneralHelp() {
  std::string out(kGeneralHelp);
  for (const CommandSpec& c : kCommands) {
    std::string name(c.name);
    name.resize(std::max<std::size_t>(name.size() + 1, 12), ' ');
    out += "  " + name + std::string(c.summary) + "\n";
  }
  out += kGeneralHelpFlags;
  return out;
}

}  // namespace

absl::StatusOr<ParsedArgs> ParseArgs(const std::vector<std::string>& args) {
  ParsedArgs parsed;
  std::vector<std::string> positional;
  bool help_flag = false;
  bool version_flag = false;
  bool flags_ended = false;

  for (std::size_t i = 0; i < args.size(); ++i) {
    const std::string& arg = args[i];
    if (flags_ended || arg.size() < 2 || arg[0] != '-') {
      positional.push_back(arg);
      continue;
    }
    if (arg == "--") {
      flags_ended = true;
      continue;
    }
    if (arg == "-h" || arg == "--help") {
      help_flag = true;
      continue;
    }
    if (arg == "--version") {
      version_flag = true;
      continue;
    }
    if (arg == "--cells") {
      parsed.audit.cells = true;
      continue;
    }
    if (arg == "--no-browser-hint") {
      parsed.no_browser_hint = true;
      continue;
    }
    // "--flag=VALUE" or "--flag VALUE"; "-p VALUE".
    std::string flag = arg;
    std::optional<std::string> value;
    if (StartsWith(arg, "--")) {
      const std::size_t eq = arg.find('=');
      if (eq != std::string::npos) {
        flag = arg.substr(0, eq);
        value = arg.substr(eq + 1);
      }
    }
    const bool is_param = flag == "--param" || flag == "-p";
    std::optional<std::string>* slot = is_param ? nullptr : ValueSlot(parsed, flag);
    if (!is_param && slot == nullptr) {
      return absl::InvalidArgumentError("unknown flag '" + flag + "'");
    }
    if (!value.has_value()) {
      if (i + 1 >= args.size() || StartsWith(args[i + 1], "--")) {
        return absl::InvalidArgumentError("'" + flag + "' needs a value");
      }
      value = args[++i];
    }
    if (value->empty()) return absl::InvalidArgumentError("'" + flag + "' needs a value");
    if (is_param) {
      if (absl::Status s = AddParam(parsed, flag, *value); !s.ok()) return s;
      continue;
    }
    if (flag == "--lang") {
      if (absl::Status s = CheckLang("--lang", *value); !s.ok()) return s;
    } else if (flag == "--format") {
      if (absl::Status s = CheckFormat("--format", *value); !s.ok()) return s;
    } else if (flag == "--timeout") {
      if (absl::Status s = ParseTimeout("--timeout", *value).status(); !s.ok()) return s;
    } else if (flag == "--retries") {
      if (absl::Status s = ParseRetries("--retries", *value).status(); !s.ok()) return s;
    } else if (flag == "--retry-max-time") {
      if (absl::Status s = ParseRetryTime("--retry-max-time", *value).status(); !s.ok()) return s;
    } else if (flag == "--port") {
      if (absl::Status s = ParsePort(*value).status(); !s.ok()) return s;
    }
    *slot = std::move(*value);
  }

  if (version_flag && !help_flag) {
    if (!positional.empty()) {
      return absl::InvalidArgumentError("--version takes no command");
    }
    parsed.command = Command::kVersion;
    return parsed;
  }
  if (positional.empty()) {
    if (help_flag) {
      parsed.command = Command::kHelp;
      return parsed;
    }
    return absl::InvalidArgumentError("no command given");
  }

  absl::StatusOr<Command> command = CommandNamed(positional[0]);
  if (!command.ok()) return command.status();
  if (help_flag || *command == Command::kHelp) {
    // "enclavectl run --help", "enclavectl help run", "enclavectl help". A help request runs
    // nothing: the --param flags given with it are dropped, not carried.
    parsed.command = Command::kHelp;
    parsed.params.clear();
    if (*command != Command::kHelp) {
      parsed.help_topic = positional[0];
    } else if (positional.size() == 2) {
      parsed.help_topic = positional[1];
    } else if (positional.size() > 2) {
      return absl::InvalidArgumentError("'help' takes at most one command");
    }
    if (!parsed.help_topic.empty() && FindCommand(parsed.help_topic) == nullptr) {
      return absl::InvalidArgumentError("no help for unknown command '" + parsed.help_topic + "'");
    }
    return parsed;
  }

  parsed.command = *command;
  if (parsed.command != Command::kServe && (parsed.port.has_value() || parsed.no_browser_hint)) {
    return absl::InvalidArgumentError("--port and --no-browser-hint apply only to 'serve'");
  }
  switch (parsed.command) {
    case Command::kHealth:
      if (positional.size() > 2) {
        return absl::InvalidArgumentError("'health' takes at most one SERVICE, got also '" +
                                          positional[2] + "'");
      }
      if (positional.size() == 2) parsed.health_service = positional[1];
      break;
    case Command::kBudget:
      if (positional.size() != 1) {
        return absl::InvalidArgumentError("'budget' takes no arguments, got '" + positional[1] +
                                          "'");
      }
      break;
    case Command::kServe:
      if (positional.size() != 1) {
        return absl::InvalidArgumentError("'serve' takes no arguments, got '" + positional[1] +
                                          "'");
      }
      break;
    case Command::kTemplates:
      if (positional.size() != 1) {
        return absl::InvalidArgumentError("'templates' takes no arguments, got '" +
                                          positional[1] + "'");
      }
      break;
    case Command::kAudit: {
      if (positional.size() < 2) {
        return absl::InvalidArgumentError(
            "'audit' needs a command (checkpoint, log, verify, export, verify-bundle, receipt)");
      }
      absl::StatusOr<AuditAction> action = AuditActionNamed(positional[1]);
      if (!action.ok()) return action.status();
      parsed.audit_action = *action;
      if (*action == AuditAction::kVerifyBundle) {
        if (positional.size() < 3) {
          return absl::InvalidArgumentError("'audit verify-bundle' needs a bundle FILE");
        }
        if (positional.size() > 3) {
          return absl::InvalidArgumentError("'audit verify-bundle' takes one FILE, got also '" +
                                            positional[3] + "'");
        }
        parsed.bundle_file = positional[2];
      } else if (*action == AuditAction::kReceipt) {
        if (positional.size() != 3) {
          return absl::InvalidArgumentError(
              "'audit receipt' takes one REQUEST_ID (shown with each result you ran)");
        }
        parsed.receipt_request_id = positional[2];
      } else if (positional.size() > 2) {
        return absl::InvalidArgumentError("'audit " + positional[1] +
                                          "' takes no arguments, got '" + positional[2] + "'");
      }
      if (!parsed.params.empty() && *action != AuditAction::kLog) {
        return absl::InvalidArgumentError("--param applies only to 'run' and 'audit log'");
      }
      if (absl::Status s = CheckAuditFlags(parsed); !s.ok()) return s;
      return parsed;
    }
    case Command::kDescribe:
    case Command::kRun:
      if (positional.size() < 2) {
        return absl::InvalidArgumentError("'" + positional[0] + "' needs a TEMPLATE");
      }
      if (positional.size() > 2) {
        return absl::InvalidArgumentError("'" + positional[0] +
                                          "' takes one TEMPLATE, got also '" + positional[2] +
                                          "' (parameters go in --param NAME=VALUE)");
      }
      if (positional[1].empty()) {
        return absl::InvalidArgumentError("'" + positional[0] + "' needs a TEMPLATE, got ''");
      }
      parsed.template_id = positional[1];
      break;
    case Command::kCompletion:
      if (positional.size() != 2 || positional[1] != "bash") {
        return absl::InvalidArgumentError("'completion' takes one shell (allowed: bash)");
      }
      break;
    case Command::kHelp:
    case Command::kVersion:
      break;
  }
  const AuditFlags& audit = parsed.audit;
  const bool serve = parsed.command == Command::kServe;  // the log view verifies as 'audit log'
  if (audit.caller || audit.template_id || audit.from || audit.to || audit.decision ||
      audit.type || (audit.state && !serve) || (audit.log_key && !serve) ||
      (audit.origin && !serve) || audit.project || audit.cells) {
    return absl::InvalidArgumentError("the audit flags apply only to 'audit' commands");
  }
  if (parsed.command != Command::kRun) {
    if (!parsed.params.empty()) {
      return absl::InvalidArgumentError("--param applies only to 'run' and 'audit log'");
    }
    if (parsed.output_file.has_value()) {
      return absl::InvalidArgumentError("--output applies only to 'run'");
    }
    const bool prints_data = parsed.command == Command::kTemplates ||
                             parsed.command == Command::kDescribe ||
                             parsed.command == Command::kBudget;
    if (parsed.flags.format.has_value() && !prints_data) {
      return absl::InvalidArgumentError(
          "--format applies only to 'run', 'templates', 'describe', 'budget' and 'audit log'");
    }
    if (prints_data && parsed.flags.format == "csv") {
      return absl::InvalidArgumentError("--format: '" + positional[0] +
                                        "' prints table or json, not csv");
    }
  }
  return parsed;
}

absl::StatusOr<Settings> ResolveSettings(const ParsedArgs& args, const ConfigValues& file) {
  Settings settings;
  struct Merged {
    std::string what;  // for messages: "--timeout" or "timeout (config file)"
    std::optional<std::string> value;
  };
  const auto merge = [](const std::optional<std::string>& flag_value, std::string_view flag,
                        const std::optional<std::string>& file_value, std::string_view key) {
    if (flag_value.has_value()) return Merged{std::string(flag), flag_value};
    return Merged{std::string(key) + " (config file)", file_value};
  };

  const Merged target = merge(args.flags.target, "--target", file.target, "target");
  const Merged ca = merge(args.flags.ca, "--ca", file.ca, "ca");
  const Merged cert = merge(args.flags.cert, "--cert", file.cert, "cert");
  const Merged key = merge(args.flags.key, "--key", file.key, "key");
  const Merged server_name =
      merge(args.flags.server_name, "--server-name", file.server_name, "server_name");
  const Merged timeout = merge(args.flags.timeout, "--timeout", file.timeout, "timeout");
  const Merged lang = merge(args.flags.lang, "--lang", file.lang, "lang");
  const Merged format = merge(args.flags.format, "--format", file.format, "format");
  const Merged retries = merge(args.flags.retries, "--retries", file.retries, "retries");
  const Merged retry_max_time =
      merge(args.flags.retry_max_time, "--retry-max-time", file.retry_max_time, "retry_max_time");

  if (lang.value.has_value()) {
    if (absl::Status s = CheckLang(lang.what, *lang.value); !s.ok()) return s;
    settings.lang = *lang.value == "nl" ? Language::kNl : Language::kEn;
  }
  if (format.value.has_value()) {
    if (absl::Status s = CheckFormat(format.what, *format.value); !s.ok()) return s;
    settings.format = *format.value == "csv"    ? OutputFormat::kCsv
                      : *format.value == "json" ? OutputFormat::kJson
                                                : OutputFormat::kTable;
  }
  if (timeout.value.has_value()) {
    absl::StatusOr<std::chrono::milliseconds> ms = ParseTimeout(timeout.what, *timeout.value);
    if (!ms.ok()) return ms.status();
    settings.connect.deadline = *ms;
  }
  if (retries.value.has_value()) {
    absl::StatusOr<int> n = ParseRetries(retries.what, *retries.value);
    if (!n.ok()) return n.status();
    settings.retry.max_retries = *n;
  }
  if (retry_max_time.value.has_value()) {
    absl::StatusOr<std::chrono::milliseconds> ms =
        ParseRetryTime(retry_max_time.what, *retry_max_time.value);
    if (!ms.ok()) return ms.status();
    settings.retry.max_total = *ms;
  }
  const auto require = [](const Merged& m, std::string_view flag, std::string_view config_key,
                          std::string_view what) -> absl::StatusOr<std::string> {
    if (m.value.has_value()) return *m.value;
    return absl::InvalidArgumentError("no " + std::string(what) + " given: use " +
                                      std::string(flag) + " or '" + std::string(config_key) +
                                      " = ...' in the config file");
  };
  absl::StatusOr<std::string> v = require(target, "--target HOST:PORT", "target", "enclave address");
  if (!v.ok()) return v.status();
  settings.connect.target = *v;
  v = require(ca, "--ca FILE", "ca", "CA certificate");
  if (!v.ok()) return v.status();
  settings.connect.ca_file = *v;
  v = require(cert, "--cert FILE", "cert", "client certificate");
  if (!v.ok()) return v.status();
  settings.connect.cert_file = *v;
  v = require(key, "--key FILE", "key", "private key");
  if (!v.ok()) return v.status();
  settings.connect.key_file = *v;
  if (server_name.value.has_value()) settings.connect.server_name = *server_name.value;
  return settings;
}

int ExitCodeFor(const absl::Status& status) {
  switch (status.code()) {
    case absl::StatusCode::kOk:
      return 0;
    case absl::StatusCode::kInvalidArgument:
      return 2;
    case absl::StatusCode::kPermissionDenied:
    case absl::StatusCode::kUnauthenticated:
      return 3;
    case absl::StatusCode::kNotFound:
      return 4;
    case absl::StatusCode::kUnavailable:
      return 5;
    case absl::StatusCode::kResourceExhausted:
      return 6;
    case absl::StatusCode::kDeadlineExceeded:
      return 7;
    case absl::StatusCode::kDataLoss:
      return 8;
    default:
      return 1;
  }
}

std::string ShortUsage() {
  return "Usage: enclavectl [global flags] templates\n"
         "       enclavectl [global flags] describe TEMPLATE\n"
         "       enclavectl [global flags] run TEMPLATE [--param NAME=VALUE ...] "
         "[--format table|csv|json] [--output FILE]\n"
         "       enclavectl [global flags] audit checkpoint|log|verify|export|verify-bundle|receipt ...\n"
         "Run 'enclavectl --help' for the flags and exit codes.\n";
}

absl::StatusOr<std::string> HelpText(std::string_view topic) {
  if (topic.empty()) return GeneralHelp();
  const CommandSpec* spec = FindCommand(topic);
  if (spec != nullptr && !spec->help.empty()) return std::string(spec->help);
  if (spec != nullptr) return TemplateHelpText();  // the offline 'template' command
  return absl::NotFoundError("no help for unknown command '" + std::string(topic) + "'");
}

absl::StatusOr<std::uint16_t> ParsePort(std::string_view text) {
  unsigned value = 0;
  const auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (text.empty() || ec != std::errc() || ptr != text.data() + text.size() || value > 65535) {
    return absl::InvalidArgumentError("--port: '" + std::string(text) +
                                      "' is not a port number in [0, 65535] (0: any free port)");
  }
  return static_cast<std::uint16_t>(value);
}

absl::StatusOr<std::int64_t> ParseAuditTime(std::string_view what, std::string_view text) {
  const auto bad = [&] {
    return absl::InvalidArgumentError(
        std::string(what) + ": '" + std::string(text) +
        "' is not a UTC time (expected 2026-11-25, 2026-11-25T13:05[:09][Z] or ms since 1970)");
  };
  if (text.empty()) return bad();
  if (text.find_first_not_of("0123456789") == std::string_view::npos) {
    std::int64_t ms = 0;
    const auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), ms);
    if (ec != std::errc() || ptr != text.data() + text.size()) return bad();
    return ms;
  }
  std::string_view t = text;
  if (t.back() == 'Z') t.remove_suffix(1);
  // Fixed positions: YYYY-MM-DD, then optionally THH:MM and :SS.
  const auto number = [&](std::size_t pos, std::size_t len, int& out) {
    if (pos + len > t.size()) return false;
    const auto [ptr, ec] = std::from_chars(t.data() + pos, t.data() + pos + len, out);
    return ec == std::errc() && ptr == t.data() + pos + len;
  };
  int y = 0, mo = 0, d = 0, h = 0, mi = 0, sec = 0;
  if (!(t.size() == 10 || t.size() == 16 || t.size() == 19)) return bad();
  if (!number(0, 4, y) || t[4] != '-' || !number(5, 2, mo) || t[7] != '-' || !number(8, 2, d)) {
    return bad();
  }
  if (t.size() >= 16) {
    if (t[10] != 'T' || !number(11, 2, h) || t[13] != ':' || !number(14, 2, mi)) return bad();
  }
  if (t.size() == 19 && (t[16] != ':' || !number(17, 2, sec))) return bad();
  static constexpr int kDaysIn[] = {31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  const bool leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
  if (y < 1970 || mo < 1 || mo > 12 || d < 1 || d > kDaysIn[mo - 1] ||
      (mo == 2 && d == 29 && !leap) || h > 23 || mi > 59 || sec > 59) {
    return bad();
  }
  const std::int64_t days =
      DaysFromCivil(y, static_cast<unsigned>(mo), static_cast<unsigned>(d));
  return ((days * 24 + h) * 60 + mi) * 60000 + std::int64_t{sec} * 1000;
}

std::string VersionText() { return std::string("enclavectl ") + ENCLAVE_VERSION + "\n"; }

std::string BashCompletion() {
  std::string commands;
  for (const CommandSpec& c : kCommands) commands += std::string(commands.empty() ? "" : " ") + std::string(c.name);
  // The flags are those the help texts document: every "--name" at the start of a help line.
  std::set<std::string> flags;
  std::string texts(kGeneralHelpFlags);
  for (const CommandSpec& c : kCommands) texts += c.help;
  std::size_t at = 0;
  while ((at = texts.find("\n  ", at)) != std::string::npos) {
    at += 3;
    std::size_t begin = texts.find_first_not_of(' ', at);
    if (texts.compare(begin, 4, "-h, ") == 0) begin += 4;
    if (texts.compare(begin, 2, "--") != 0) continue;
    const std::size_t end = texts.find_first_of(" =\n", begin);
    flags.insert(texts.substr(begin, end - begin));
  }
  std::string flag_words;
  for (const std::string& f : flags) flag_words += (flag_words.empty() ? "" : " ") + f;
  return "# bash completion for enclavectl (generated by 'enclavectl completion bash')\n"
         "_enclavectl() {\n"
         "  local cur=\"${COMP_WORDS[COMP_CWORD]}\" word command=\"\"\n"
         "  for word in \"${COMP_WORDS[@]:1:COMP_CWORD-1}\"; do\n"
         "    case \"$word\" in -*) ;; *) command=\"$word\"; break ;; esac\n"
         "  done\n"
         "  if [[ \"$cur\" == -* ]]; then\n"
         "    COMPREPLY=($(compgen -W \"" + flag_words + "\" -- \"$cur\"))\n"
         "  elif [[ -z \"$command\" ]]; then\n"
         "    COMPREPLY=($(compgen -W \"" + commands + "\" -- \"$cur\"))\n"
         "  elif [[ \"$command\" == audit || \"$command\" == help && $COMP_CWORD -ge 2 ]]; then\n"
         "    if [[ \"$command\" == audit ]]; then\n"
         "      COMPREPLY=($(compgen -W \"" + std::string(kAuditActionNames) + "\" -- \"$cur\"))\n"
         "    else\n"
         "      COMPREPLY=($(compgen -W \"" + commands + "\" -- \"$cur\"))\n"
         "    fi\n"
         "  elif [[ \"$command\" == completion ]]; then\n"
         "    COMPREPLY=($(compgen -W \"bash\" -- \"$cur\"))\n"
         "  fi\n"
         "}\n"
         "complete -o default -F _enclavectl enclavectl\n";
}

}  // namespace enclave::client::cli
