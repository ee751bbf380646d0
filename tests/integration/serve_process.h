// `enclavectl serve` as a child process for the web tests (issue 12): started with a principal's
// certificate, its "open: http://127.0.0.1:PORT/?token=TOKEN" line read from stdout, stopped with
// SIGTERM.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <string>
#include <vector>

namespace enclave::testing {

class ServeProcess {
 public:
  // Runs `argv` (enclavectl, its connection flags, "serve", ...) with stderr to `stderr_path` and
  // waits up to `timeout` for the URL line; url() is empty if none came (stderr_text() says why).
  ServeProcess(const std::vector<std::string>& argv, const std::string& stderr_path,
               std::chrono::seconds timeout = std::chrono::seconds(30));
  ~ServeProcess();  // SIGKILL if still running
  ServeProcess(const ServeProcess&) = delete;
  ServeProcess& operator=(const ServeProcess&) = delete;

  const std::string& url() const { return url_; }      // http://127.0.0.1:PORT/?token=TOKEN
  const std::string& line() const { return line_; }    // the whole first stdout line
  int port() const { return port_; }
  const std::string& token() const { return token_; }
  // SIGTERM, then waits; the exit code (-1 if it died by a signal or had to be killed).
  int Stop(std::chrono::seconds timeout = std::chrono::seconds(20));
  std::string stderr_text() const;

 private:
  pid_t pid_ = -1;
  int out_fd_ = -1;
  std::string stderr_path_;
  std::string line_;
  std::string url_;
  std::string token_;
  int port_ = 0;
};

}  // namespace enclave::testing
