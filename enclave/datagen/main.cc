// enclave-datagen: writes the synthetic microdata database (see enclave/datagen/README.md).
#include <charconv>
#include <cstdint>
#include <cstdio>
#include <string>
#include <string_view>

#include "enclave/datagen/deliveries.h"
#include "enclave/datagen/generator.h"

namespace {

constexpr char kUsage[] =
    "usage: enclave-datagen --out PATH [--seed N] [--scale lv|nl] [--persons N] [--truth-out FILE]\n"
    "  --out PATH        database to write (atomically: built as PATH.tmp-XXXXXX, then renamed)\n"
    "  --seed N          unsigned 64-bit seed (default 42)\n"
    "  --scale lv|nl     lv (default): Leidschendam-Voorburg, ~100k persons ever;\n"
    "                    nl: not yet implemented as 342 gemeenten; generates GM1916 sized by --persons\n"
    "  --persons N       approximate persons ever in the window, 500..50000000 (default 100000)\n"
    "  --truth-out FILE  exact truth counts as 'key value' lines (for tests; never in the database)\n"
    "  --deliveries-out DIR  also write the data as CSV deliveries with synthetic BSNs for\n"
    "                    enclave-steward (DIR/*.csv, DIR/bad/, DIR/pseudonym.key, DIR/truth.txt)\n"
    "  --help            this text\n";

int UsageError(const std::string& message) {
  std::fprintf(stderr, "enclave-datagen: %s\n%s", message.c_str(), kUsage);
  return 2;
}

template <typename T>
bool ParseInt(std::string_view s, T& out) {
  if (s.empty()) return false;
  const auto [ptr, ec] = std::from_chars(s.data(), s.data() + s.size(), out);
  return ec == std::errc() && ptr == s.data() + s.size();
}

}  // namespace

int main(int argc, char** argv) {
  enclave::datagen::GeneratorOptions options;
  std::string deliveries_out;
  for (int i = 1; i < argc; ++i) {
    const std::string_view flag = argv[i];
    if (flag == "--help" || flag == "-h") {
      std::fputs(kUsage, stdout);
      return 0;
    }
    if (flag != "--out" && flag != "--seed" && flag != "--scale" && flag != "--persons" && flag != "--truth-out" &&
        flag != "--deliveries-out") {
      return UsageError("unknown flag " + std::string(flag) +
                        " (allowed: --out, --seed, --scale, --persons, --truth-out, --deliveries-out, --help)");
    }
    if (i + 1 >= argc) return UsageError(std::string(flag) + " needs a value");
    const std::string_view value = argv[++i];
    if (flag == "--out") {
      if (value.empty()) return UsageError("--out needs a non-empty path");
      options.out_path = std::string(value);
    } else if (flag == "--seed") {
      if (!ParseInt(value, options.seed)) return UsageError("--seed must be an unsigned 64-bit integer");
    } else if (flag == "--scale") {
      if (value != "lv" && value != "nl") return UsageError("--scale must be lv or nl");
      options.scale = std::string(value);
    } else if (flag == "--persons") {
      if (!ParseInt(value, options.persons) || options.persons < 500 || options.persons > 50000000) {
        return UsageError("--persons must be an integer from 500 to 50000000");
      }
    } else if (flag == "--deliveries-out") {
      if (value.empty()) return UsageError("--deliveries-out needs a non-empty path");
      deliveries_out = std::string(value);
    } else {
      if (value.empty()) return UsageError("--truth-out needs a non-empty path");
      options.truth_out = std::string(value);
    }
  }
  if (options.out_path.empty()) return UsageError("--out is required");
  if (options.scale == "nl") {
    std::fputs("enclave-datagen: --scale nl is not yet implemented as 342 gemeenten; generating GM1916 only, "
               "sized by --persons\n",
               stderr);
  }
  const absl::Status status = enclave::datagen::Generate(options);
  if (!status.ok()) {
    std::fprintf(stderr, "enclave-datagen: generation failed: %s\n", std::string(status.message()).c_str());
    return 1;
  }
  if (!deliveries_out.empty()) {
    const absl::Status written = enclave::datagen::WriteDeliveries(options.out_path, options.seed, deliveries_out);
    if (!written.ok()) {
      std::fprintf(stderr, "enclave-datagen: writing deliveries failed: %s\n", std::string(written.message()).c_str());
      return 1;
    }
  }
  return 0;
}
