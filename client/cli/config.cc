// enclavectl's configuration file parser.
#include "client/cli/config.h"

#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>
#include <system_error>

#include "absl/status/status.h"

namespace enclave::client::cli {
namespace {

constexpr std::string_view kAllowedKeys =
    "target, ca, cert, key, server_name, timeout, lang, format, log_key, log_origin, retries, "
    "retry_max_time";

std::string_view Trim(std::string_view s) {
  const auto first = s.find_first_not_of(" \t\r");
  if (first == std::string_view::npos) return {};
  const auto last = s.find_last_not_of(" \t\r");
  return s.substr(first, last - first + 1);
}

std::optional<std::string>* Slot(ConfigValues& values, std::string_view key) {
  if (key == "target") return &values.target;
  if (key == "ca") return &values.ca;
  if (key == "cert") return &values.cert;
  if (key == "key") return &values.key;
  if (key == "server_name" || key == "server-name") return &values.server_name;
  if (key == "timeout") return &values.timeout;
  if (key == "lang") return &values.lang;
  if (key == "format") return &values.format;
  if (key == "log_key" || key == "log-key") return &values.log_key;
  if (key == "log_origin" || key == "log-origin") return &values.log_origin;
  if (key == "retries") return &values.retries;
  if (key == "retry_max_time" || key == "retry-max-time") return &values.retry_max_time;
  return nullptr;
}

std::string ResolvePath(const std::string& value, const std::filesystem::path& base_dir,
                        std::string_view home) {
  if (!home.empty() && (value == "~" || value.rfind("~/", 0) == 0)) {
    return (std::filesystem::path(std::string(home)) / value.substr(value.size() > 1 ? 2 : 1))
        .lexically_normal()
        .string();
  }
  const std::filesystem::path p(value);
  if (p.is_absolute() || base_dir.empty()) return value;
  return (base_dir / p).lexically_normal().string();
}

}  // namespace

absl::StatusOr<ConfigValues> ParseConfig(std::string_view text,
                                         const std::filesystem::path& base_dir,
                                         std::string_view source, std::string_view home) {
  ConfigValues values;
  std::size_t line_number = 0;
  std::size_t pos = 0;
  while (pos <= text.size()) {
    const std::size_t end = std::min(text.find('\n', pos), text.size());
    std::string_view line = text.substr(pos, end - pos);
    pos = end + 1;
    ++line_number;
    const std::string where = std::string(source) + ":" + std::to_string(line_number) + ": ";

    // A comment is a line starting with '#', or " #"/"\t#" after a value.
    for (std::size_t i = 0; i < line.size(); ++i) {
      if (line[i] == '#' && (i == 0 || line[i - 1] == ' ' || line[i - 1] == '\t')) {
        line = line.substr(0, i);
        break;
      }
    }
    line = Trim(line);
    if (line.empty()) continue;

    const std::size_t eq = line.find('=');
    if (eq == std::string_view::npos) {
      return absl::InvalidArgumentError(where + "expected 'key = value', got '" +
                                        std::string(line) + "'");
    }
    const std::string_view key = Trim(line.substr(0, eq));
    std::string_view value = Trim(line.substr(eq + 1));
    if (value.size() >= 2 && value.front() == '"' && value.back() == '"') {
      value = value.substr(1, value.size() - 2);
    }
    std::optional<std::string>* slot = Slot(values, key);
    if (slot == nullptr) {
      return absl::InvalidArgumentError(where + "unknown key '" + std::string(key) +
                                        "' (allowed: " + std::string(kAllowedKeys) + ")");
    }
    if (value.empty()) {
      return absl::InvalidArgumentError(where + "empty value for '" + std::string(key) + "'");
    }
    if (slot->has_value()) {
      return absl::InvalidArgumentError(where + "'" + std::string(key) + "' is set twice");
    }
    std::string v(value);
    if (key == "ca" || key == "cert" || key == "key") v = ResolvePath(v, base_dir, home);
    *slot = std::move(v);
  }
  return values;
}

absl::StatusOr<ConfigValues> LoadConfigFile(const std::filesystem::path& path,
                                            std::string_view home) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    return absl::InvalidArgumentError("--config: cannot read '" + path.string() +
                                      "': " + std::strerror(errno));
  }
  std::error_code ec;
  if (std::filesystem::is_directory(path, ec)) {
    return absl::InvalidArgumentError("--config: '" + path.string() + "' is a directory");
  }
  std::ostringstream buffer;
  buffer << in.rdbuf();
  if (in.bad()) {
    return absl::InvalidArgumentError("--config: cannot read '" + path.string() + "'");
  }
  const std::filesystem::path absolute = std::filesystem::absolute(path, ec);
  std::filesystem::path base = (ec ? path : absolute).parent_path();
  if (base.empty()) base = ".";
  return ParseConfig(buffer.str(), base, path.string(), home);
}

std::optional<std::filesystem::path> DefaultConfigPath(const char* enclavectl_config_env,
                                                       const char* home_env) {
  if (enclavectl_config_env != nullptr && *enclavectl_config_env != '\0') {
    return std::filesystem::path(enclavectl_config_env);
  }
  if (home_env != nullptr && *home_env != '\0') {
    std::filesystem::path p = std::filesystem::path(home_env) / ".config" / "enclavectl" / "config";
    std::error_code ec;
    if (std::filesystem::is_regular_file(p, ec)) return p;
  }
  return std::nullopt;
}

}  // namespace enclave::client::cli
