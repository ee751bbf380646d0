// enclave-steward: the data steward's tool on the enclave host (docs/data-steward.md).
#include <pwd.h>
#include <unistd.h>

#include <cstdio>
#include <cstring>
#include <string>
#include <string_view>
#include <vector>

#include "enclave/crypto/pseudonymiser.h"
#include "enclave/steward/steward.h"

namespace {

namespace st = enclave::steward;

constexpr char kUsage[] =
    "usage: enclave-steward COMMAND [flags]\n"
    "  init     [--db PATH] [--state-dir DIR [--log-signing-key F]]\n"
    "                                          create an empty microdata database and/or a new\n"
    "                                          state directory with an empty query log\n"
    "  keygen   --key PATH                     create a pseudonymisation key (32 bytes, 0600)\n"
    "  validate --description F --csv F ...    validate deliveries only; nothing is written\n"
    "  load     --db PATH --state-dir DIR --key PATH --description F --csv F\n"
    "           [--description F --csv F ...]  validate, pseudonymise and load as ONE new version\n"
    "  versions --db PATH                      list dataset versions (* = current)\n"
    "  rollback --db PATH --state-dir DIR      make the previous version current again\n"
    "--state-dir is enclaved's state directory; load and rollback refuse one that holds no query\n"
    "log. --log-signing-key F: the log's signing key when it is not DIR/log_signing.key.\n"
    "Output is key=value lines unless stdout is a terminal. Progress (phases, rows, time left)\n"
    "goes to stderr: redrawn in place on a terminal, key=value lines otherwise.\n"
    "Exit codes: 0 done; 1 delivery refused by validation; 2 usage error; 3 enclaved is\n"
    "running (stop it first); 4 a file is missing or unsafe (key permissions, description, a\n"
    "state directory without a query log); 5 database or query log failure (the previous\n"
    "version stays in force); 6 nothing to roll back.\n";

enum Exit {
  kExitOk = 0,
  kExitRefused = 1,
  kExitUsage = 2,
  kExitServerRunning = 3,
  kExitFiles = 4,
  kExitStore = 5,
  kExitNoRollback = 6,
};

int Usage(const std::string& message) {
  std::fprintf(stderr, "enclave-steward: %s\n%s", message.c_str(), kUsage);
  return kExitUsage;
}

int Fail(const absl::Status& status) {
  std::fprintf(stderr, "enclave-steward: %s\n", std::string(status.message()).c_str());
  if (st::IsServerRunning(status)) return kExitServerRunning;
  switch (status.code()) {
    case absl::StatusCode::kNotFound:
    case absl::StatusCode::kInvalidArgument:
    case absl::StatusCode::kAlreadyExists:
      return kExitFiles;
    case absl::StatusCode::kFailedPrecondition:
      return status.message().find("pseudonymisation key") != std::string_view::npos ? kExitFiles
             : status.message().find("roll back") != std::string_view::npos      ? kExitNoRollback
                                                                                   : kExitStore;
    default:
      return kExitStore;
  }
}

std::string Steward() {
  const passwd* pw = ::getpwuid(::geteuid());
  return std::string("unix:") + (pw != nullptr ? pw->pw_name : std::to_string(::geteuid()));
}

void PrintReports(const std::vector<st::DeliveryOutcome>& outcomes, bool human) {
  for (const st::DeliveryOutcome& o : outcomes) {
    if (human) {
      std::printf("%s (sha256 %s): %s%s", o.dataset.c_str(), o.sha256.c_str(),
                  o.report.ok() ? "valid, " : "REFUSED, ", o.report.ToText().c_str());
    } else {
      std::printf("delivery dataset=%s sha256=%s %s\n", o.dataset.c_str(), o.sha256.c_str(),
                  o.report.ToKeyValue().c_str());
      for (std::size_t k = 0; k < enclave::delivery::kErrorKindCount; ++k) {
        for (const auto& sample : o.report.samples[k]) {
          std::printf("error dataset=%s kind=%s line=%llu message=\"%s\"\n", o.dataset.c_str(),
                      enclave::delivery::ErrorKindName(static_cast<enclave::delivery::ErrorKind>(k)),
                      static_cast<unsigned long long>(sample.line), sample.message.c_str());
        }
      }
    }
  }
}

void PrintLinkage(const std::vector<st::DeliveryOutcome>& outcomes, bool human) {
  for (const st::DeliveryOutcome& o : outcomes) {
    for (const st::LinkageCounts& l : o.linkage) {
      if (human) {
        std::printf("  %s.%s: %llu linked, %llu not in the register, %llu missing\n",
                    o.dataset.c_str(), l.column.c_str(), static_cast<unsigned long long>(l.linked),
                    static_cast<unsigned long long>(l.not_in_register),
                    static_cast<unsigned long long>(l.missing));
      } else {
        std::printf("linkage dataset=%s column=%s linked=%llu not_in_register=%llu missing=%llu\n",
                    o.dataset.c_str(), l.column.c_str(), static_cast<unsigned long long>(l.linked),
                    static_cast<unsigned long long>(l.not_in_register),
                    static_cast<unsigned long long>(l.missing));
      }
    }
  }
}

std::string Join(const std::vector<std::string>& names, const char* separator) {
  std::string out;
  for (const std::string& n : names) out += (out.empty() ? "" : separator) + n;
  return out.empty() ? std::string("none") : out;
}

// The summary of the derived layer: which tables were rebuilt, which were left as they were.
void PrintDerived(const std::vector<std::string>& rebuilt,
                  const std::vector<std::string>& unchanged, bool human) {
  if (human) {
    std::printf("derived layer: rebuilt %s; unchanged %s\n", Join(rebuilt, ", ").c_str(),
                Join(unchanged, ", ").c_str());
  } else {
    std::printf("derived rebuilt=%s unchanged=%s\n", Join(rebuilt, ",").c_str(),
                Join(unchanged, ",").c_str());
  }
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) return Usage("a command is required");
  const std::string_view command = argv[1];
  if (command == "--help" || command == "-h" || command == "help") {
    std::fputs(kUsage, stdout);
    return kExitOk;
  }
  st::StewardOptions options;
  std::vector<st::DeliveryFiles> deliveries;
  bool pause_before_commit = false;
  for (int i = 2; i < argc; ++i) {
    const std::string_view flag = argv[i];
    if (flag == "--test-pause-before-commit") {  // tests only: see tests/steward
      pause_before_commit = true;
      continue;
    }
    if (flag != "--db" && flag != "--state-dir" && flag != "--log-signing-key" &&
        flag != "--key" && flag != "--description" && flag != "--csv") {
      return Usage("unknown flag " + std::string(flag) +
                   " (allowed: --db, --state-dir, --log-signing-key, --key, --description, --csv)");
    }
    if (i + 1 >= argc || argv[i + 1][0] == '\0') {
      return Usage(std::string(flag) + " needs a non-empty value");
    }
    const std::string value = argv[++i];
    if (flag == "--db") {
      options.database_path = value;
    } else if (flag == "--state-dir") {
      options.state_dir = value;
    } else if (flag == "--log-signing-key") {
      options.log_signing_key_file = value;
    } else if (flag == "--key") {
      options.key_path = value;
    } else if (flag == "--description") {
      deliveries.push_back({value, ""});
    } else {
      if (deliveries.empty() || !deliveries.back().csv_path.empty()) {
        return Usage("each --csv must follow its --description");
      }
      deliveries.back().csv_path = value;
    }
  }
  for (const st::DeliveryFiles& d : deliveries) {
    if (d.csv_path.empty()) return Usage("each --description needs a --csv after it");
  }
  const bool human = ::isatty(STDOUT_FILENO) == 1;
  options.steward = Steward();
  st::ProgressPrinter printer(stderr, ::isatty(STDERR_FILENO) == 1);
  options.progress = [&printer](const st::Progress& p) { printer.Show(p); };
  if (pause_before_commit) {
    options.before_commit_for_test = [] {
      std::printf("paused-before-commit\n");
      std::fflush(stdout);
      ::pause();
    };
  }

  if (command == "init") {
    if (options.database_path.empty() && options.state_dir.empty()) {
      return Usage("init needs --db PATH and/or --state-dir DIR");
    }
    if (!options.log_signing_key_file.empty() && options.state_dir.empty()) {
      return Usage("--log-signing-key goes with --state-dir");
    }
    if (!options.state_dir.empty()) {
      if (absl::Status s = st::InitStateDir(options.state_dir, options.log_signing_key_file);
          !s.ok()) {
        return Fail(s);
      }
      std::printf(human ? "created state directory %s with an empty query log; give the privacy "
                          "officers %s/log_verifier.key\n"
                        : "result=created state_dir=%s verifier_key=%s/log_verifier.key\n",
                  options.state_dir.c_str(), options.state_dir.c_str());
    }
    if (!options.database_path.empty()) {
      if (absl::Status s = st::InitDatabase(options.database_path); !s.ok()) return Fail(s);
      std::printf(human ? "created an empty microdata database (data_version empty)\n"
                        : "result=created data_version=empty\n");
    }
    return kExitOk;
  }
  if (command == "keygen") {
    if (options.key_path.empty()) return Usage("keygen needs --key");
    if (absl::Status s = enclave::crypto::CreateKeyFile(options.key_path); !s.ok()) return Fail(s);
    std::printf(human ? "created a pseudonymisation key (mode 0600); keep a sealed copy\n"
                      : "result=created\n");
    return kExitOk;
  }
  if (command == "validate") {
    if (deliveries.empty()) return Usage("validate needs --description F --csv F");
    absl::StatusOr<std::vector<st::DeliveryOutcome>> out =
        st::ValidateDeliveries(deliveries, options.progress);
    printer.Finish();
    if (!out.ok()) return Fail(out.status());
    PrintReports(*out, human);
    for (const auto& o : *out) {
      if (!o.report.ok()) return kExitRefused;
    }
    return kExitOk;
  }
  if (command == "load") {
    if (options.database_path.empty() || options.state_dir.empty() || options.key_path.empty() ||
        deliveries.empty()) {
      return Usage("load needs --db, --state-dir, --key and --description F --csv F");
    }
    absl::StatusOr<st::LoadOutcome> out = st::LoadDeliveries(options, deliveries);
    printer.Finish();
    if (!out.ok()) return Fail(out.status());
    if (!out->loaded) {
      PrintReports(out->deliveries, human);
      std::printf(human ? "REFUSED: nothing was loaded; the current version stays in force\n"
                        : "result=refused\n");
      return kExitRefused;
    }
    if (human) {
      PrintReports(out->deliveries, true);
      std::printf("loaded as version %lld (data_version %s)\nlinkage:\n",
                  static_cast<long long>(out->version), out->data_version.c_str());
    } else {
      PrintReports(out->deliveries, false);
    }
    PrintLinkage(out->deliveries, human);
    PrintDerived(out->derived_rebuilt, out->derived_unchanged, human);
    if (!human) {
      std::printf("result=loaded version=%lld data_version=%s\n",
                  static_cast<long long>(out->version), out->data_version.c_str());
    }
    return kExitOk;
  }
  if (command == "versions") {
    if (options.database_path.empty()) return Usage("versions needs --db");
    absl::StatusOr<std::vector<st::VersionInfo>> versions = st::ListVersions(options.database_path);
    if (!versions.ok()) return Fail(versions.status());
    if (versions->empty() && human) std::printf("no versions: the steward has not loaded anything\n");
    for (const st::VersionInfo& v : *versions) {
      const long long parent = v.parent ? static_cast<long long>(*v.parent) : 0;
      if (human) {
        std::printf("%s v%lld  %-7s %s  parent v%lld  %s  records %llu  %s\n", v.current ? "*" : " ",
                    static_cast<long long>(v.version), v.kind.c_str(), v.created_utc.c_str(),
                    parent, v.data_version.c_str(), static_cast<unsigned long long>(v.records),
                    v.datasets.c_str());
      } else {
        std::printf("version=%lld current=%d kind=%s created=%s parent=%lld data_version=%s "
                    "records=%llu datasets=%s\n",
                    static_cast<long long>(v.version), v.current ? 1 : 0, v.kind.c_str(),
                    v.created_utc.c_str(), parent, v.data_version.c_str(),
                    static_cast<unsigned long long>(v.records), v.datasets.c_str());
      }
    }
    return kExitOk;
  }
  if (command == "rollback") {
    if (options.database_path.empty() || options.state_dir.empty()) {
      return Usage("rollback needs --db and --state-dir");
    }
    absl::StatusOr<st::VersionInfo> v = st::RollbackVersion(options);
    printer.Finish();
    if (!v.ok()) return Fail(v.status());
    PrintDerived(v->derived_rebuilt, v->derived_unchanged, human);
    if (human) {
      std::printf("rolled back: version %lld (data_version %s) is current\n",
                  static_cast<long long>(v->version), v->data_version.c_str());
    } else {
      std::printf("result=rolled_back version=%lld data_version=%s\n",
                  static_cast<long long>(v->version), v->data_version.c_str());
    }
    return kExitOk;
  }
  return Usage("unknown command " + std::string(command) +
               " (allowed: init, keygen, validate, load, versions, rollback)");
}
