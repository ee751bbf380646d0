// enclavectl's configuration file: "key = value" lines, '#' comments. Internal to the CLI.
//
//   # ~/.config/enclavectl/config
//   target = enclave.lv.local:7443
//   ca     = pki/ca.pem          # relative paths are resolved against this file's folder
//   cert   = pki/analyst.pem
//   key    = pki/analyst.key
//   lang   = nl
#pragma once

#include <filesystem>
#include <optional>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"

namespace enclave::client::cli {

// Settings as text, unvalidated; unset when neither the file nor a flag gave them.
// The same struct carries the global flags (see args.h), which override the file's values.
struct ConfigValues {
  std::optional<std::string> target;
  std::optional<std::string> ca;
  std::optional<std::string> cert;
  std::optional<std::string> key;
  std::optional<std::string> server_name;
  std::optional<std::string> timeout;
  std::optional<std::string> lang;
  std::optional<std::string> format;
  // The audit log (enclavectl audit): the verifier key the officer pins
  // ("<name>+<hex id>+<base64 key>") and the log's origin line. Not paths.
  std::optional<std::string> log_key;
  std::optional<std::string> log_origin;
  // Retrying a busy enclave (RESOURCE_EXHAUSTED with a retry hint): how many retries, and the
  // seconds within which every retry must have started.
  std::optional<std::string> retries;
  std::optional<std::string> retry_max_time;
};

// Parses a config file's text. `source` names the file in messages ("SOURCE:LINE: ..."); relative
// ca/cert/key paths are resolved against `base_dir`, and a leading "~/" against `home` (if set).
// Values may be wrapped in double quotes; " #" starts a trailing comment.
// kInvalidArgument for an unknown key, a line without '=', an empty value or a key set twice.
[[nodiscard]] absl::StatusOr<ConfigValues> ParseConfig(std::string_view text,
                                                       const std::filesystem::path& base_dir,
                                                       std::string_view source,
                                                       std::string_view home);

// Reads and parses the file at `path`. kInvalidArgument naming the file when it cannot be read.
[[nodiscard]] absl::StatusOr<ConfigValues> LoadConfigFile(const std::filesystem::path& path,
                                                          std::string_view home);

// The config file to use when --config is absent: $ENCLAVECTL_CONFIG if set and non-empty (even if
// it does not exist, so that a typo is reported), else HOME/.config/enclavectl/config if that file
// exists, else nullopt. Pass the environment values (nullptr when unset).
std::optional<std::filesystem::path> DefaultConfigPath(const char* enclavectl_config_env,
                                                       const char* home_env);

}  // namespace enclave::client::cli
