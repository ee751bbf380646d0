// Small helpers shared by the core services for identifiers that appear in messages and logs.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

namespace enclave::core::internal {

// A caller-supplied identifier, shortened so that an error message or log entry stays bounded.
inline std::string Bounded(const std::string& s, std::size_t max = 64) {
  if (s.size() <= max) return s;
  return s.substr(0, max) + "...";
}

// The answer for a template the caller may not see or that does not exist (not told apart).
inline std::string NotFoundMessage(const std::string& template_id) {
  return "unknown template '" + Bounded(template_id) +
         "'; use ListTemplates to see the templates you may run";
}

// Lower-case base 36, for compact request-id prefixes.
inline std::string Base36(std::uint64_t v) {
  static constexpr char kDigits[] = "0123456789abcdefghijklmnopqrstuvwxyz";
  std::string out;
  do {
    out.insert(out.begin(), kDigits[v % 36]);
    v /= 36;
  } while (v != 0);
  return out;
}

}  // namespace enclave::core::internal
