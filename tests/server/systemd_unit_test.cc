// The hardened unit (deploy/enclaved.service) as a CI gate (security.md §3.1 and §7.4 item 19):
// systemd-analyze's offline security score must stay at or below the aim 1.5. Its --threshold is
// in tenths of the printed score (1.2 is 12), so the gate is --threshold=15. Skipped, with a
// message, only where systemd-analyze is not installed.
#include <doctest/doctest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>

#include "tests/testing/temp_dir.h"

namespace {

namespace fs = std::filesystem;

constexpr double kAim = 1.5;
constexpr char kThreshold[] = "--threshold=15";  // tenths: 15 is a score of 1.5

struct Run {
  int exit_code = -1;
  std::string out;
};

Run Shell(const std::string& command) {
  Run r;
  FILE* pipe = ::popen((command + " 2>&1").c_str(), "r");
  REQUIRE(pipe != nullptr);
  char buf[4096];
  while (std::fgets(buf, sizeof buf, pipe) != nullptr) r.out += buf;
  const int status = ::pclose(pipe);
  r.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return r;
}

std::string FindSystemdAnalyze() {
  for (const char* dir : {"/usr/bin", "/bin", "/usr/local/bin"}) {
    const fs::path p = fs::path(dir) / "systemd-analyze";
    if (::access(p.c_str(), X_OK) == 0) return p.string();
  }
  return "";
}

// "Overall exposure level for enclaved.service: 1.2 OK" -> 1.2; -1 when absent.
double Exposure(const std::string& out) {
  const std::string key = "Overall exposure level for ";
  const std::size_t at = out.find(key);
  if (at == std::string::npos) return -1;
  const std::size_t colon = out.find(": ", at);
  if (colon == std::string::npos) return -1;
  return std::strtod(out.c_str() + colon + 2, nullptr);
}

}  // namespace

TEST_CASE("systemd-analyze security scores deploy/enclaved.service at most 1.5 (--threshold=15)") {
  const std::string analyze = FindSystemdAnalyze();
  if (analyze.empty()) {
    MESSAGE("systemd-analyze is not installed (apt-get install systemd): the unit gate is skipped");
    return;
  }
  const std::string unit = std::string(ENCLAVE_SOURCE_DIR) + "/deploy/enclaved.service";
  const Run gate =
      Shell("'" + analyze + "' security --offline=true " + kThreshold + " --no-pager '" + unit + "'");
  INFO(gate.out);
  const double exposure = Exposure(gate.out);
  REQUIRE(exposure >= 0);
  MESSAGE("exposure of deploy/enclaved.service: ", exposure);
  CHECK(exposure <= kAim);
  CHECK(gate.exit_code == 0);

  // The threshold is in tenths: the docs' old --threshold=2 fails this very unit...
  const Run old_docs =
      Shell("'" + analyze + "' security --offline=true --threshold=2 --no-pager '" + unit + "'");
  CHECK(old_docs.exit_code != 0);
  // ... and the gate catches a unit without the hardening (negative control).
  enclave::testing::TempDir dir;
  const fs::path bare = dir.path() / "enclaved.service";
  std::ofstream(bare) << "[Unit]\nDescription=bare\n\n[Service]\nExecStart=/usr/bin/enclaved\n";
  const Run bare_run = Shell("'" + analyze + "' security --offline=true " + kThreshold +
                             " --no-pager '" + bare.string() + "'");
  INFO(bare_run.out);
  CHECK(Exposure(bare_run.out) > kAim);
  CHECK(bare_run.exit_code != 0);
}
