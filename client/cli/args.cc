// enclavectl's command-line parser, settings merge, help texts and exit codes.
#include "client/cli/args.h"

#include <charconv>
#include <cmath>
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
  if (flag == "--config") return &parsed.config_file;
  if (flag == "--output") return &parsed.output_file;
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

absl::StatusOr<Command> CommandNamed(std::string_view name) {
  if (name == "templates") return Command::kTemplates;
  if (name == "describe") return Command::kDescribe;
  if (name == "run") return Command::kRun;
  if (name == "help") return Command::kHelp;
  return absl::InvalidArgumentError("unknown command '" + std::string(name) +
                                    "' (allowed: templates, describe, run, help)");
}

constexpr std::string_view kGeneralHelp = R"(enclavectl - ask the secure data enclave of CBS and Leidschendam-Voorburg
for disclosure-controlled tables.

Usage:
  enclavectl [global flags] templates
  enclavectl [global flags] describe TEMPLATE
  enclavectl [global flags] run TEMPLATE [--param NAME=VALUE ...] [--format table|csv|json] [--output FILE]
  enclavectl help [COMMAND]
  enclavectl --version

Commands:
  templates   list the templates your role may run
  describe    show a template's parameters, allowed values and statistics
  run         run a template and print the released table
  help        show help for a command

Global flags (also allowed after the command):
  --target HOST:PORT    address of the enclave
  --ca FILE             PEM of the CA that issued the enclave's certificate
  --cert FILE           your client certificate (PEM)
  --key FILE            the certificate's private key (PEM)
  --server-name NAME    name to verify the enclave's certificate against, when it
                        differs from HOST
  --timeout SECONDS     deadline for each call (default 30)
  --lang nl|en          language of labels and headings (default en)
  --config FILE         config file (default: $ENCLAVECTL_CONFIG, else
                        ~/.config/enclavectl/config if it exists)
  -h, --help            this help; 'enclavectl help COMMAND' for one command
  --version             print the version

Config file: "key = value" lines and '#' comments. Keys: target, ca, cert, key,
server_name, timeout, lang, format. Relative paths are resolved against the
config file's folder. Flags override the file.

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
  6  a limit or budget is exhausted (RESOURCE_EXHAUSTED)
  7  the call timed out (DEADLINE_EXCEEDED)
)";

constexpr std::string_view kTemplatesHelp = R"(Usage: enclavectl [global flags] templates

Lists the templates your role may run: id, version, theme and title.
See 'enclavectl --help' for the global flags.
)";

constexpr std::string_view kDescribeHelp = R"(Usage: enclavectl [global flags] describe TEMPLATE

Shows one template: its parameters (type, range or allowed values, default),
its statistics, the unit counted and the disclosure rule set that applies.
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

constexpr std::string_view kHelpHelp = R"(Usage: enclavectl help [COMMAND]

Shows the general help, or the help for one command (templates, describe, run).
)";

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
    // "enclavectl run --help", "enclavectl help run", "enclavectl help".
    parsed.command = Command::kHelp;
    if (*command != Command::kHelp) {
      parsed.help_topic = positional[0];
    } else if (positional.size() == 2) {
      parsed.help_topic = positional[1];
    } else if (positional.size() > 2) {
      return absl::InvalidArgumentError("'help' takes at most one command");
    }
    if (!parsed.help_topic.empty() && !CommandNamed(parsed.help_topic).ok()) {
      return absl::InvalidArgumentError("no help for unknown command '" + parsed.help_topic + "'");
    }
    return parsed;
  }

  parsed.command = *command;
  switch (parsed.command) {
    case Command::kTemplates:
      if (positional.size() != 1) {
        return absl::InvalidArgumentError("'templates' takes no arguments, got '" +
                                          positional[1] + "'");
      }
      break;
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
      parsed.template_id = positional[1];
      break;
    case Command::kHelp:
    case Command::kVersion:
      break;
  }
  if (parsed.command != Command::kRun) {
    if (!parsed.params.empty()) {
      return absl::InvalidArgumentError("--param applies only to 'run'");
    }
    if (parsed.output_file.has_value()) {
      return absl::InvalidArgumentError("--output applies only to 'run'");
    }
    if (parsed.flags.format.has_value()) {
      return absl::InvalidArgumentError("--format applies only to 'run'");
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
    default:
      return 1;
  }
}

std::string ShortUsage() {
  return "Usage: enclavectl [global flags] templates\n"
         "       enclavectl [global flags] describe TEMPLATE\n"
         "       enclavectl [global flags] run TEMPLATE [--param NAME=VALUE ...] "
         "[--format table|csv|json] [--output FILE]\n"
         "Run 'enclavectl --help' for the flags and exit codes.\n";
}

absl::StatusOr<std::string> HelpText(std::string_view topic) {
  if (topic.empty()) return std::string(kGeneralHelp);
  if (topic == "templates") return std::string(kTemplatesHelp);
  if (topic == "describe") return std::string(kDescribeHelp);
  if (topic == "run") return std::string(kRunHelp);
  if (topic == "help") return std::string(kHelpHelp);
  return absl::NotFoundError("no help for unknown command '" + std::string(topic) + "'");
}

std::string VersionText() { return std::string("enclavectl ") + ENCLAVE_VERSION + "\n"; }

}  // namespace enclave::client::cli
