#include "enclave/base/log.h"

#include <atomic>
#include <cstdlib>
#include <chrono>
#include <cstdio>
#include <ctime>
#include <mutex>

#include "absl/status/status.h"
#include "enclave/base/check.h"

namespace enclave::base {
namespace {

std::atomic<LogSink> g_sink{nullptr};
std::mutex g_stderr_mu;

bool SafeChar(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
         c == '.' || c == '@' || c == '-' || c == ':';
}

// Anything outside the safe charset is replaced, so even a mistaken Word cannot inject a line.
std::string Sanitise(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (char c : s) out.push_back(SafeChar(c) ? c : '?');
  if (out.size() > 96) out.resize(96);
  return out;
}

void Emit(const char* level, std::string_view event,
          std::initializer_list<std::pair<std::string_view, LogValue>> fields) {
  std::string line = "level=";
  line += level;
  line += " event=";
  line += Sanitise(event);
  for (const auto& [key, value] : fields) {
    line += ' ';
    line += Sanitise(key);
    line += '=';
    line += value.text();
  }
  if (LogSink sink = g_sink.load(); sink != nullptr) {
    sink(line);
    return;
  }
  std::lock_guard<std::mutex> lock(g_stderr_mu);
  std::fprintf(stderr, "%s\n", line.c_str());
}

}  // namespace

TemplateName::TemplateName(std::string_view id) : value(Sanitise(id)) {}
Word::Word(std::string_view w) : value(Sanitise(w)) {}

LogValue::LogValue(RowCount n) : text_(std::to_string(n.value)) {}
LogValue::LogValue(const TemplateName& name) : text_(name.value) {}
LogValue::LogValue(const Word& word) : text_(word.value) {}
LogValue::LogValue(absl::StatusCode code) : text_(Sanitise(absl::StatusCodeToString(code))) {}

void LogInfo(std::string_view event,
             std::initializer_list<std::pair<std::string_view, LogValue>> fields) {
  Emit("info", event, fields);
}
void LogWarning(std::string_view event,
                std::initializer_list<std::pair<std::string_view, LogValue>> fields) {
  Emit("warning", event, fields);
}
void LogError(std::string_view event,
              std::initializer_list<std::pair<std::string_view, LogValue>> fields) {
  Emit("error", event, fields);
}

void SetLogSinkForTest(LogSink sink) { g_sink.store(sink); }

void CheckFailed(const char* condition, const char* file, int line) {
  std::fprintf(stderr, "level=fatal event=check_failed condition=\"%s\" at=%s:%d\n", condition,
               file, line);
  std::abort();
}

}  // namespace enclave::base
