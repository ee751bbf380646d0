// Test helpers for end-to-end tests: run a program and capture its output, or start the real
// enclaved as a child process and stop it with SIGTERM.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <string>
#include <vector>

#include "tests/testing/temp_dir.h"

namespace enclave::testing {

struct ProcessResult {
  int exit_code = -1;  // -1 if killed by a signal or timed out
  int signal = 0;      // the signal that ended it, if one did
  bool timed_out = false;
  std::string out;
  std::string err;
  // "exit 5", "signal 6", "timed out (killed)": for test messages.
  std::string How() const;
};

// Runs argv[0] with the arguments, no shell involved. Kills it after `timeout`.
ProcessResult RunProcess(const std::vector<std::string>& argv,
                         std::chrono::seconds timeout = std::chrono::seconds(120));


// Four eyes for tests (issue 5): a fresh Ed25519 key for the privacy officer officer1, an approvers
// file listing it (valid from yesterday for 30 days) and an approval of every template in
// policies_dir/templates, signed as officer1 exactly as `enclavectl template sign` does. Each
// template's `author` must be someone other than officer1. `error` is set if anything failed.
struct TestApprovals {
  std::string approvers_file;
  std::string approvals_dir;
  std::string error;
  // The enclaved flags: --approvers FILE --approvals DIR.
  std::vector<std::string> Flags() const {
    return {"--approvers", approvers_file, "--approvals", approvals_dir};
  }
};
TestApprovals SignAllTemplates(const std::string& policies_dir, const std::string& out_dir);

// enclaved as a child process listening on 127.0.0.1:0.
class ServerProcess {
 public:
  // Starts enclaved with `args` plus --listen 127.0.0.1:0 --port-file; waits for the port.
  // port() is 0 if it did not come up (stderr_text() says why). When `args` name --policies but
  // no --approvals, the templates are first approved with SignAllTemplates into
  // work_dir/approval-setup (every real server needs approved templates).
  ServerProcess(const std::string& binary, const std::vector<std::string>& args,
                const std::string& work_dir);
  ~ServerProcess();
  ServerProcess(const ServerProcess&) = delete;
  ServerProcess& operator=(const ServerProcess&) = delete;

  int port() const { return port_; }
  std::string target() const { return "127.0.0.1:" + std::to_string(port_); }
  // Sends SIGTERM and waits; returns the exit code (-1 if it had to be killed).
  int Stop(std::chrono::seconds timeout = std::chrono::seconds(20));
  bool Running();
  std::string stderr_text() const;

 private:
  pid_t pid_ = -1;
  int port_ = 0;
  std::string stderr_path_;
};

std::string ReadFile(const std::string& path);

}  // namespace enclave::testing
