// Parsing derived.sql's step markers and walking the dependency map.
#include "enclave/steward/derived_layer.h"

#include <algorithm>
#include <cstdlib>
#include <map>

#include "absl/strings/str_cat.h"

namespace enclave::steward {
namespace {

constexpr std::string_view kMarker = "-- @derive ";
constexpr std::string_view kEnd = "-- @end";
constexpr std::string_view kContinuation = "--   ";

std::string Lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  }
  return out;
}

bool StartsWith(std::string_view s, std::string_view prefix) {
  return s.substr(0, prefix.size()) == prefix;
}

// The words of `s` separated by spaces.
std::vector<std::string> Tokens(std::string_view s) {
  std::vector<std::string> out;
  std::size_t i = 0;
  while (i < s.size()) {
    while (i < s.size() && s[i] == ' ') ++i;
    std::size_t j = i;
    while (j < s.size() && s[j] != ' ') ++j;
    if (j > i) out.emplace_back(s.substr(i, j - i));
    i = j;
  }
  return out;
}

// The lines of `s` (without their '\n').
std::vector<std::string_view> Lines(std::string_view s) {
  std::vector<std::string_view> out;
  std::size_t start = 0;
  while (start <= s.size()) {
    const std::size_t nl = s.find('\n', start);
    if (nl == std::string_view::npos) {
      out.push_back(s.substr(start));
      break;
    }
    out.push_back(s.substr(start, nl - start));
    start = nl + 1;
  }
  return out;
}

bool IsWordChar(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_';
}

bool IsIdentifier(std::string_view s) {
  return !s.empty() && std::all_of(s.begin(), s.end(), IsWordChar) && !(s[0] >= '0' && s[0] <= '9');
}

// The words of `sql` outside comments and string literals, lower-cased, in order.
std::vector<std::string> SqlWords(std::string_view sql) {
  std::vector<std::string> words;
  std::size_t i = 0;
  while (i < sql.size()) {
    const char c = sql[i];
    if (c == '-' && i + 1 < sql.size() && sql[i + 1] == '-') {
      const std::size_t nl = sql.find('\n', i);
      i = nl == std::string_view::npos ? sql.size() : nl + 1;
    } else if (c == '\'') {
      const std::size_t close = sql.find('\'', i + 1);  // '' inside a literal: two literals
      i = close == std::string_view::npos ? sql.size() : close + 1;
    } else if (IsWordChar(c)) {
      std::size_t j = i;
      while (j < sql.size() && IsWordChar(sql[j])) ++j;
      words.push_back(Lower(sql.substr(i, j - i)));
      i = j;
    } else {
      ++i;
    }
  }
  return words;
}

absl::Status Bad(std::size_t line, const std::string& message) {
  return absl::InvalidArgumentError(absl::StrCat("derived.sql:", line, ": ", message));
}

}  // namespace

std::vector<std::string> DerivedLayer::Tables() const {
  std::vector<std::string> out;
  for (const DerivedStep& s : steps_) {
    if (!s.temporary) out.push_back(s.table);
  }
  return out;
}

std::vector<std::string> DerivedLayer::Affected(const std::set<std::string>& changed) const {
  std::set<std::string> dirty = changed;
  std::vector<std::string> out;
  for (const DerivedStep& s : steps_) {
    const bool reads_dirty = std::any_of(s.reads.begin(), s.reads.end(),
                                         [&](const std::string& r) { return dirty.count(r) > 0; });
    if (!reads_dirty && dirty.count(s.table) == 0) continue;
    dirty.insert(s.table);
    if (!s.temporary) out.push_back(s.table);
  }
  return out;
}

std::vector<std::size_t> DerivedLayer::StepsFor(const std::vector<std::string>& tables) const {
  std::set<std::string> needed(tables.begin(), tables.end());
  std::set<std::string> helpers;
  for (const DerivedStep& s : steps_) {
    if (s.temporary) helpers.insert(s.table);
  }
  for (auto it = steps_.rbegin(); it != steps_.rend(); ++it) {
    if (needed.count(it->table) == 0) continue;
    for (const std::string& r : it->reads) {
      if (helpers.count(r) > 0) needed.insert(r);
    }
  }
  std::vector<std::size_t> out;
  for (std::size_t i = 0; i < steps_.size(); ++i) {
    if (needed.count(steps_[i].table) > 0) out.push_back(i);
  }
  return out;
}

absl::StatusOr<DerivedLayer> ParseDerivedLayer(std::string_view derived_sql,
                                               const std::set<std::string>& raw_tables) {
  DerivedLayer layer;
  std::vector<std::size_t> marker_lines;
  std::string preamble;
  bool ended = false;
  bool in_marker = false;  // continuation lines may follow a marker line
  std::vector<std::string> marker_tokens;
  std::size_t line_number = 0;

  auto finish_marker = [&]() -> absl::Status {
    DerivedStep step;
    std::size_t t = 0;
    if (t < marker_tokens.size() && marker_tokens[t] == "temp") {
      step.temporary = true;
      ++t;
    }
    if (t >= marker_tokens.size() || !IsIdentifier(marker_tokens[t]) ||
        marker_tokens[t].rfind("d_", 0) != 0) {
      return Bad(marker_lines.back(), "a step must name its table (d_...) after @derive [temp]");
    }
    step.table = marker_tokens[t++];
    if (t < marker_tokens.size() && marker_tokens[t] == "cost") {
      if (t + 1 >= marker_tokens.size()) return Bad(marker_lines.back(), "cost needs a number");
      const std::string& n = marker_tokens[t + 1];
      char* end = nullptr;
      step.cost = std::strtod(n.c_str(), &end);
      if (end != n.c_str() + n.size() || !(step.cost >= 0)) {
        return Bad(marker_lines.back(), "cost must be a number >= 0");
      }
      t += 2;
    }
    if (t < marker_tokens.size()) {
      if (marker_tokens[t] != "reads") {
        return Bad(marker_lines.back(),
                   "unexpected '" + marker_tokens[t] + "' (allowed: temp, cost N, reads T...)");
      }
      step.reads.assign(marker_tokens.begin() + static_cast<std::ptrdiff_t>(t + 1),
                        marker_tokens.end());
    }
    layer.steps_.push_back(std::move(step));
    marker_tokens.clear();
    return absl::OkStatus();
  };

  for (std::string_view line : Lines(derived_sql)) {
    ++line_number;
    if (ended) break;
    if (in_marker && StartsWith(line, kContinuation)) {
      for (std::string& w : Tokens(line.substr(2))) marker_tokens.push_back(std::move(w));
      continue;
    }
    if (in_marker) {
      if (absl::Status s = finish_marker(); !s.ok()) return s;
      in_marker = false;
    }
    if (StartsWith(line, kMarker)) {
      marker_lines.push_back(line_number);
      for (std::string& w : Tokens(line.substr(kMarker.size()))) {
        marker_tokens.push_back(std::move(w));
      }
      in_marker = true;
      continue;
    }
    if (StartsWith(line, kEnd)) {
      ended = true;
      continue;
    }
    std::string& target = layer.steps_.empty() ? preamble : layer.steps_.back().sql;
    target.append(line.data(), line.size());
    target.push_back('\n');
  }
  if (in_marker) {
    if (absl::Status s = finish_marker(); !s.ok()) return s;
  }
  if (!ended) return Bad(line_number, "no '-- @end' line after the last step");
  if (layer.steps_.empty()) return Bad(line_number, "no '-- @derive' step");
  if (!SqlWords(preamble).empty()) {
    return Bad(1, "SQL before the first '-- @derive' line belongs to no step");
  }

  std::map<std::string, std::size_t> made;  // table -> step index
  for (std::size_t i = 0; i < layer.steps_.size(); ++i) {
    if (made.count(layer.steps_[i].table) > 0 || raw_tables.count(layer.steps_[i].table) > 0) {
      return Bad(marker_lines[i], "table " + layer.steps_[i].table + " is made twice");
    }
    made[layer.steps_[i].table] = i;
  }
  for (std::size_t i = 0; i < layer.steps_.size(); ++i) {
    const DerivedStep& s = layer.steps_[i];
    const std::string where = "step " + s.table;
    std::set<std::string> declared;
    for (const std::string& r : s.reads) {
      auto m = made.find(r);
      if (raw_tables.count(r) == 0 && (m == made.end() || m->second >= i)) {
        return Bad(marker_lines[i], where + " reads '" + r +
                                        "', which is neither a table of schema.sql nor made by "
                                        "an earlier step");
      }
      if (!declared.insert(r).second) return Bad(marker_lines[i], where + " names '" + r + "' twice");
    }
    const std::vector<std::string> words = SqlWords(s.sql);
    bool creates = false;
    for (std::size_t w = 0; w < words.size(); ++w) {
      const std::string& word = words[w];
      if (word == s.table) {
        const bool temp_create = w >= 3 && words[w - 3] == "create" && words[w - 2] == "temp" &&
                                 words[w - 1] == "table";
        const bool plain_create = w >= 2 && words[w - 2] == "create" && words[w - 1] == "table";
        if (s.temporary ? temp_create : plain_create) creates = true;
        continue;
      }
      const auto m = made.find(word);
      if (m != made.end() && m->second > i) {
        return Bad(marker_lines[i], where + " uses " + word + ", which a later step makes");
      }
      if ((raw_tables.count(word) > 0 || m != made.end()) && declared.count(word) == 0) {
        return Bad(marker_lines[i], where + " reads " + word +
                                        " but its '-- @derive' line does not name it in reads");
      }
    }
    if (!creates) {
      return Bad(marker_lines[i], where + " does not create its table with CREATE " +
                                      (s.temporary ? "TEMP TABLE " : "TABLE ") + s.table);
    }
  }
  return layer;
}

std::set<std::string> SchemaTables(std::string_view schema_sql) {
  const std::vector<std::string> words = SqlWords(schema_sql);
  std::set<std::string> out;
  for (std::size_t w = 0; w + 2 < words.size(); ++w) {
    if (words[w] != "create" || words[w + 1] != "table") continue;
    std::size_t n = w + 2;
    if (n + 3 < words.size() && words[n] == "if" && words[n + 1] == "not" &&
        words[n + 2] == "exists") {
      n += 3;
    }
    if (n < words.size()) out.insert(words[n]);
  }
  return out;
}

}  // namespace enclave::steward
