// enclavectl's command line, config file and output files, without a server.
#include <doctest/doctest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include "tests/testing/temp_dir.h"
#include "client/cli/args.h"
#include "client/cli/config.h"
#include "client/cli/output.h"

namespace enclave::client::cli {
namespace {

namespace fs = std::filesystem;

using ::enclave::testing::TempDir;

void WriteText(const fs::path& p, const std::string& text) {
  std::ofstream out(p, std::ios::binary);
  out << text;
}

std::string ReadText(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

bool Contains(absl::string_view haystack, absl::string_view needle) {
  return haystack.find(needle) != absl::string_view::npos;
}

}  // namespace

TEST_SUITE("ParseArgs") {
  TEST_CASE("an unknown flag is a usage error with exit code 2") {
    const auto parsed = ParseArgs({"--bogus", "templates"});
    REQUIRE_FALSE(parsed.ok());
    CHECK(parsed.status().code() == absl::StatusCode::kInvalidArgument);
    CHECK(Contains(parsed.status().message(), "--bogus"));
    CHECK(ExitCodeFor(parsed.status()) == 2);
  }

  TEST_CASE("a --param without '=' is a usage error") {
    for (const char* flag : {"--param", "-p"}) {
      const auto parsed = ParseArgs({"run", "t1", flag, "year"});
      REQUIRE_FALSE(parsed.ok());
      CHECK(parsed.status().code() == absl::StatusCode::kInvalidArgument);
      CHECK(Contains(parsed.status().message(), "NAME=VALUE"));
    }
    CHECK_FALSE(ParseArgs({"run", "t1", "--param", "=2023"}).ok());
  }

  TEST_CASE("an unknown --format or --lang is a usage error naming the allowed values") {
    const auto format = ParseArgs({"run", "t1", "--format", "xml"});
    REQUIRE_FALSE(format.ok());
    CHECK(Contains(format.status().message(), "table, csv, json"));
    const auto lang = ParseArgs({"--lang", "de", "templates"});
    REQUIRE_FALSE(lang.ok());
    CHECK(Contains(lang.status().message(), "nl, en"));
  }

  TEST_CASE("other usage errors: missing value, command, template, extra argument, bad timeout") {
    CHECK_FALSE(ParseArgs({"templates", "--target"}).ok());
    CHECK_FALSE(ParseArgs({"--target", "--ca", "x", "templates"}).ok());
    CHECK_FALSE(ParseArgs({}).ok());
    CHECK_FALSE(ParseArgs({"frobnicate"}).ok());
    CHECK_FALSE(ParseArgs({"run"}).ok());
    CHECK_FALSE(ParseArgs({"describe"}).ok());
    CHECK_FALSE(ParseArgs({"describe", "a", "b"}).ok());
    CHECK_FALSE(ParseArgs({"describe", ""}).ok());  // fuzz/enclavectl_args
    CHECK_FALSE(ParseArgs({"run", "", "-p", "year=2023"}).ok());
    CHECK_FALSE(ParseArgs({"run", "t1", "year=2023"}).ok());
    CHECK_FALSE(ParseArgs({"templates", "extra"}).ok());
    CHECK_FALSE(ParseArgs({"--timeout", "0", "templates"}).ok());
    CHECK_FALSE(ParseArgs({"--timeout", "ten", "templates"}).ok());
    CHECK_FALSE(ParseArgs({"--timeout=-1", "templates"}).ok());
  }

  TEST_CASE("run-only flags are rejected for other commands") {
    CHECK_FALSE(ParseArgs({"templates", "-p", "a=b"}).ok());
    CHECK_FALSE(ParseArgs({"describe", "t1", "--output", "f"}).ok());
    CHECK_FALSE(ParseArgs({"describe", "t1", "--format", "csv"}).ok());
  }

  TEST_CASE("a parameter given twice is rejected") {
    const auto parsed = ParseArgs({"run", "t1", "-p", "year=2022", "--param", "year=2023"});
    REQUIRE_FALSE(parsed.ok());
    CHECK(Contains(parsed.status().message(), "'year'"));
  }

  TEST_CASE("run collects repeated --param and -p in order, and flags anywhere, in both forms") {
    const auto parsed =
        ParseArgs({"--target=h:1", "run", "zzp", "--param", "year=2023", "-p", "geo=wijk",
                   "--param=label=a=b", "--format", "csv", "--output", "out.csv", "--lang", "nl"});
    REQUIRE(parsed.ok());
    CHECK(parsed->command == Command::kRun);
    CHECK(parsed->template_id == "zzp");
    REQUIRE(parsed->params.size() == 3);
    CHECK(parsed->params[0] == std::pair<std::string, std::string>("year", "2023"));
    CHECK(parsed->params[1] == std::pair<std::string, std::string>("geo", "wijk"));
    CHECK(parsed->params[2] == std::pair<std::string, std::string>("label", "a=b"));
    CHECK(parsed->flags.target == "h:1");
    CHECK(parsed->flags.format == "csv");
    CHECK(parsed->flags.lang == "nl");
    CHECK(parsed->output_file == "out.csv");
  }

  TEST_CASE("a parameter value may be empty or start with a dash") {
    const auto parsed = ParseArgs({"run", "t", "-p", "delta=-3", "-p", "note="});
    REQUIRE(parsed.ok());
    CHECK(parsed->params[0].second == "-3");
    CHECK(parsed->params[1].second.empty());
  }

  TEST_CASE("help and version forms") {
    for (const std::vector<std::string>& args :
         {std::vector<std::string>{"--help"}, {"-h"}, {"help"}}) {
      const auto parsed = ParseArgs(args);
      REQUIRE(parsed.ok());
      CHECK(parsed->command == Command::kHelp);
      CHECK(parsed->help_topic.empty());
    }
    for (const std::vector<std::string>& args :
         {std::vector<std::string>{"help", "run"}, {"run", "--help"}, {"run", "t1", "-h"}}) {
      const auto parsed = ParseArgs(args);
      REQUIRE(parsed.ok());
      CHECK(parsed->command == Command::kHelp);
      CHECK(parsed->help_topic == "run");
    }
    // A help request runs nothing and carries no parameters (found by fuzz/enclavectl_args).
    const auto run_help = ParseArgs({"run", "t1", "--param", "year=2020", "--help"});
    REQUIRE(run_help.ok());
    CHECK(run_help->command == Command::kHelp);
    CHECK(run_help->params.empty());
    CHECK_FALSE(ParseArgs({"help", "frobnicate"}).ok());
    const auto version = ParseArgs({"--version"});
    REQUIRE(version.ok());
    CHECK(version->command == Command::kVersion);
    CHECK(Contains(VersionText(), "enclavectl "));
  }

  TEST_CASE("the help text documents every exit code and the confidential mark") {
    const auto help = HelpText("");
    REQUIRE(help.ok());
    for (const char* text : {"0  success", "1  any other error", "2  usage error", "3  not allowed",
                             "4  no such template", "5  cannot reach", "6  a limit", "7  the call",
                             "--target", "--ca", "--cert", "--key", "--server-name", "--timeout",
                             "--lang", "--config", "ENCLAVECTL_CONFIG", "\".\""}) {
      CHECK_MESSAGE(Contains(*help, text), text);
    }
    REQUIRE(HelpText("run").ok());
    CHECK(Contains(*HelpText("run"), "--param NAME=VALUE"));
    CHECK_FALSE(HelpText("nope").ok());
  }
}

TEST_SUITE("the command table") {
  TEST_CASE("an unknown command names every command, budget and template included") {
    const auto parsed = ParseArgs({"frob"});
    REQUIRE_FALSE(parsed.ok());
    for (const char* name : {"templates", "describe", "run", "audit", "budget", "health", "serve",
                             "template", "completion", "help"}) {
      CHECK_MESSAGE(Contains(parsed.status().message(), name), name);
    }
    CHECK(ParseArgs({"budget"}).ok());  // negative control: a known command parses
  }

  TEST_CASE("every command in the list has help, and the general help lists it") {
    const absl::StatusOr<std::string> general = HelpText("");
    REQUIRE(general.ok());
    for (const char* name : {"templates", "describe", "run", "audit", "budget", "health", "serve",
                             "template", "completion", "help"}) {
      CAPTURE(name);
      CHECK(Contains(*general, std::string("\n  ") + name + " "));
      CHECK(HelpText(name).ok());
    }
    CHECK_FALSE(HelpText("frob").ok());
  }

  TEST_CASE("--format json on every command that prints data, csv only where there is a table") {
    for (const std::vector<std::string>& args : std::vector<std::vector<std::string>>{
             {"templates", "--format", "json"},
             {"describe", "t1", "--format", "json"},
             {"budget", "--format", "json"},
             {"run", "t1", "--format", "json"},
             {"audit", "log", "--format", "json"}}) {
      CAPTURE(args[0]);
      CHECK(ParseArgs(args).ok());
    }
    CHECK_FALSE(ParseArgs({"templates", "--format", "csv"}).ok());
    CHECK_FALSE(ParseArgs({"health", "--format", "json"}).ok());  // prints no data
    CHECK_FALSE(ParseArgs({"serve", "--format", "json"}).ok());
  }

  TEST_CASE("'template' after global flags is refused with where it belongs") {
    const auto parsed = ParseArgs({"--target", "x:1", "template", "sign"});
    REQUIRE_FALSE(parsed.ok());
    CHECK(Contains(parsed.status().message(), "enclavectl template sign|check"));
  }

  TEST_CASE("'completion bash' prints a script with the commands, audit actions and flags") {
    const auto parsed = ParseArgs({"completion", "bash"});
    REQUIRE(parsed.ok());
    CHECK(parsed->command == Command::kCompletion);
    CHECK_FALSE(ParseArgs({"completion", "zsh"}).ok());
    CHECK_FALSE(ParseArgs({"completion"}).ok());
    const std::string script = BashCompletion();
    CHECK(Contains(script, "complete -o default -F _enclavectl enclavectl"));
    CHECK(Contains(script, "templates describe run audit budget health serve template completion help"));
    CHECK(Contains(script, "verify-bundle"));
    for (const char* flag : {"--target", "--format", "--param", "--output", "--port"}) {
      CHECK_MESSAGE(Contains(script, flag), flag);
    }
  }
}

TEST_SUITE("ExitCodeFor") {
  TEST_CASE("status codes map to the documented exit codes") {
    CHECK(ExitCodeFor(absl::OkStatus()) == 0);
    CHECK(ExitCodeFor(absl::InvalidArgumentError("x")) == 2);
    CHECK(ExitCodeFor(absl::PermissionDeniedError("x")) == 3);
    CHECK(ExitCodeFor(absl::UnauthenticatedError("x")) == 3);
    CHECK(ExitCodeFor(absl::NotFoundError("x")) == 4);
    CHECK(ExitCodeFor(absl::UnavailableError("x")) == 5);
    CHECK(ExitCodeFor(absl::ResourceExhaustedError("x")) == 6);
    CHECK(ExitCodeFor(absl::DeadlineExceededError("x")) == 7);
    CHECK(ExitCodeFor(absl::InternalError("x")) == 1);
    CHECK(ExitCodeFor(absl::UnknownError("x")) == 1);
    CHECK(ExitCodeFor(absl::FailedPreconditionError("x")) == 1);
  }
}

TEST_SUITE("ResolveSettings") {
  TEST_CASE("flags override the config file, which fills in the rest") {
    ConfigValues file;
    file.target = "file-host:7443";
    file.ca = "/etc/pki/ca.pem";
    file.cert = "/etc/pki/me.pem";
    file.key = "/etc/pki/me.key";
    file.lang = "nl";
    file.format = "json";
    file.timeout = "2.5";
    file.server_name = "enclave.lv";
    auto parsed = ParseArgs({"--target", "flag-host:1", "--lang", "en", "run", "t1"});
    REQUIRE(parsed.ok());
    const auto settings = ResolveSettings(*parsed, file);
    REQUIRE(settings.ok());
    CHECK(settings->connect.target == "flag-host:1");
    CHECK(settings->connect.ca_file == "/etc/pki/ca.pem");
    CHECK(settings->connect.cert_file == "/etc/pki/me.pem");
    CHECK(settings->connect.key_file == "/etc/pki/me.key");
    CHECK(settings->connect.server_name == "enclave.lv");
    CHECK(settings->connect.deadline == std::chrono::milliseconds(2500));
    CHECK(settings->lang == Language::kEn);
    CHECK(settings->format == OutputFormat::kJson);
  }

  TEST_CASE("defaults: English, table, 30 seconds") {
    auto parsed = ParseArgs({"--target", "h:1", "--ca", "a", "--cert", "b", "--key", "c", "templates"});
    REQUIRE(parsed.ok());
    const auto settings = ResolveSettings(*parsed, ConfigValues{});
    REQUIRE(settings.ok());
    CHECK(settings->lang == Language::kEn);
    CHECK(settings->format == OutputFormat::kTable);
    CHECK(settings->connect.deadline == std::chrono::milliseconds(30000));
  }

  TEST_CASE("a missing target or certificate is an error that says how to give it") {
    auto parsed = ParseArgs({"--ca", "a", "--cert", "b", "--key", "c", "templates"});
    REQUIRE(parsed.ok());
    const auto no_target = ResolveSettings(*parsed, ConfigValues{});
    REQUIRE_FALSE(no_target.ok());
    CHECK(no_target.status().code() == absl::StatusCode::kInvalidArgument);
    CHECK(Contains(no_target.status().message(), "--target"));
    parsed = ParseArgs({"--target", "h:1", "--ca", "a", "--cert", "b", "templates"});
    REQUIRE(parsed.ok());
    const auto no_key = ResolveSettings(*parsed, ConfigValues{});
    REQUIRE_FALSE(no_key.ok());
    CHECK(Contains(no_key.status().message(), "--key"));
  }

  TEST_CASE("a bad value in the config file is reported as coming from the config file") {
    ConfigValues file;
    file.target = "h:1";
    file.ca = "a";
    file.cert = "b";
    file.key = "c";
    SUBCASE("timeout") { file.timeout = "soon"; }
    SUBCASE("lang") { file.lang = "fr"; }
    SUBCASE("format") { file.format = "xml"; }
    auto parsed = ParseArgs({"run", "t1"});
    REQUIRE(parsed.ok());
    const auto settings = ResolveSettings(*parsed, file);
    REQUIRE_FALSE(settings.ok());
    CHECK(Contains(settings.status().message(), "(config file)"));
  }
}

TEST_SUITE("ConfigFile") {
  TEST_CASE("keys, comments, quotes and relative paths resolved against the file's folder") {
    const auto values = ParseConfig(
        "# enclavectl\n"
        "target = enclave.lv:7443\n"
        "\n"
        "  ca=pki/ca.pem   # the enclave's CA\n"
        "cert = /abs/me.pem\n"
        "key = \"keys/me key.pem\"\n"
        "server_name = enclave.lv.local\n"
        "timeout = 12\n"
        "lang = nl\r\n"
        "format = csv",
        "/home/ana/.config/enclavectl", "config", "/home/ana");
    REQUIRE(values.ok());
    CHECK(values->target == "enclave.lv:7443");
    CHECK(values->ca == "/home/ana/.config/enclavectl/pki/ca.pem");
    CHECK(values->cert == "/abs/me.pem");
    CHECK(values->key == "/home/ana/.config/enclavectl/keys/me key.pem");
    CHECK(values->server_name == "enclave.lv.local");
    CHECK(values->timeout == "12");
    CHECK(values->lang == "nl");
    CHECK(values->format == "csv");
  }

  TEST_CASE("a leading ~/ means the home folder and '#' inside a value is kept") {
    const auto values = ParseConfig("ca = ~/pki/ca.pem\ncert = certs/a#1.pem\n", "/etc/x", "c",
                                    "/home/ana");
    REQUIRE(values.ok());
    CHECK(values->ca == "/home/ana/pki/ca.pem");
    CHECK(values->cert == "/etc/x/certs/a#1.pem");
  }

  TEST_CASE("an unknown key, a line without '=', an empty value or a repeated key is an error") {
    const auto unknown = ParseConfig("target = h:1\ntagret = h:2\n", "/x", "my.conf", "");
    REQUIRE_FALSE(unknown.ok());
    CHECK(unknown.status().code() == absl::StatusCode::kInvalidArgument);
    CHECK(Contains(unknown.status().message(), "my.conf:2:"));
    CHECK(Contains(unknown.status().message(), "'tagret'"));
    CHECK(Contains(unknown.status().message(), "allowed: target"));

    const auto no_eq = ParseConfig("target h:1\n", "/x", "my.conf", "");
    REQUIRE_FALSE(no_eq.ok());
    CHECK(Contains(no_eq.status().message(), "my.conf:1:"));

    CHECK_FALSE(ParseConfig("target =\n", "/x", "c", "").ok());
    CHECK_FALSE(ParseConfig("lang = nl\nlang = en\n", "/x", "c", "").ok());
  }

  TEST_CASE("a config file is loaded from disk, and a missing one is an error naming it") {
    TempDir dir;
    const fs::path file = dir.path() / "config";
    WriteText(file, "target = h:1\nca = ca.pem\n");
    const auto loaded = LoadConfigFile(file, "");
    REQUIRE(loaded.ok());
    CHECK(loaded->target == "h:1");
    CHECK(fs::path(*loaded->ca) == dir.path() / "ca.pem");

    const auto missing = LoadConfigFile(dir.path() / "nope", "");
    REQUIRE_FALSE(missing.ok());
    CHECK(missing.status().code() == absl::StatusCode::kInvalidArgument);
    CHECK(Contains(missing.status().message(), "nope"));
    CHECK(Contains(missing.status().message(), "No such file"));
  }

  TEST_CASE("the default config path: $ENCLAVECTL_CONFIG, else ~/.config/enclavectl/config if present") {
    TempDir home;
    CHECK(DefaultConfigPath("/etc/enclavectl.conf", home.path().c_str()) ==
          fs::path("/etc/enclavectl.conf"));
    CHECK_FALSE(DefaultConfigPath(nullptr, home.path().c_str()).has_value());
    CHECK_FALSE(DefaultConfigPath("", nullptr).has_value());
    const fs::path config = home.path() / ".config" / "enclavectl" / "config";
    fs::create_directories(config.parent_path());
    WriteText(config, "target = h:1\n");
    CHECK(DefaultConfigPath(nullptr, home.path().c_str()) == config);
    CHECK(DefaultConfigPath("", home.path().c_str()) == config);
  }
}

TEST_SUITE("WriteFileAtomically") {
  TEST_CASE("the file is written, replaced whole, and no temporary file is left") {
    TempDir dir;
    const fs::path out = dir.path() / "table.csv";
    REQUIRE(WriteFileAtomically(out.string(), "old contents\n").ok());
    CHECK(ReadText(out) == "old contents\n");
    REQUIRE(WriteFileAtomically(out.string(), "a,b\r\n1,.\r\n").ok());
    CHECK(ReadText(out) == "a,b\r\n1,.\r\n");
    std::size_t entries = 0;
    for ([[maybe_unused]] const auto& e : fs::directory_iterator(dir.path())) ++entries;
    CHECK(entries == 1);
  }

  TEST_CASE("a file in a missing folder fails with the path and leaves nothing behind") {
    TempDir dir;
    const fs::path out = dir.path() / "missing" / "table.csv";
    const absl::Status status = WriteFileAtomically(out.string(), "x");
    REQUIRE_FALSE(status.ok());
    CHECK(status.code() == absl::StatusCode::kInvalidArgument);
    CHECK(Contains(status.message(), out.string()));
    CHECK_FALSE(fs::exists(out));
    CHECK_FALSE(WriteFileAtomically(dir.path().string(), "x").ok());  // a directory
  }
}

}  // namespace enclave::client::cli
