// Operational log: one key=value line per event on stderr, built only from allow-listed types.
//
// There is deliberately no LogValue constructor from an arbitrary std::string or double: a value
// that could carry record-level data (a label, an amount, SQL, a path) cannot be logged by accident.
// Who asked what belongs in the query log (core/query_log.h), not here.
//
//   LogInfo("query_done", {{"template", TemplateName("zzp_aantal_per_wijk")},
//                          {"cells", RowCount{26}}, {"code", absl::StatusCode::kOk}});
#pragma once

#include <cstdint>
#include <initializer_list>
#include <string>
#include <string_view>
#include <utility>

#include "absl/status/status.h"

namespace enclave::base {

// Counts of rows, cells, units, bytes, milliseconds.
struct RowCount {
  std::int64_t value;
};
// A template id or other policy identifier: [a-z0-9_.@-] only, checked when constructed.
struct TemplateName {
  explicit TemplateName(std::string_view id);
  std::string value;
};
// A fixed event word or program-chosen token (not user input): same charset as TemplateName.
struct Word {
  explicit Word(std::string_view w);
  std::string value;
};

class LogValue {
 public:
  LogValue(RowCount n);                // NOLINT(google-explicit-constructor): short call sites
  LogValue(const TemplateName& name);  // NOLINT
  LogValue(const Word& word);          // NOLINT
  LogValue(absl::StatusCode code);     // NOLINT
  const std::string& text() const { return text_; }

 private:
  std::string text_;
};

void LogInfo(std::string_view event,
             std::initializer_list<std::pair<std::string_view, LogValue>> fields);
void LogWarning(std::string_view event,
                std::initializer_list<std::pair<std::string_view, LogValue>> fields);
void LogError(std::string_view event,
              std::initializer_list<std::pair<std::string_view, LogValue>> fields);

// Replaces where log lines go (tests). Passing nullptr restores stderr.
using LogSink = void (*)(std::string_view line);
void SetLogSinkForTest(LogSink sink);

}  // namespace enclave::base
