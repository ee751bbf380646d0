#include "enclave/base/json.h"

#include "enclave/base/hex.h"

namespace enclave::base {

std::string JsonString(std::string_view s, JsonEscaping escaping) {
  std::string out;
  out.reserve(s.size() + 2);
  out.push_back('"');
  for (const char c : s) {
    const auto u = static_cast<unsigned char>(c);
    switch (c) {
      case '"':
        out += "\\\"";
        continue;
      case '\\':
        out += "\\\\";
        continue;
      case '\n':
        out += "\\n";
        continue;
      case '\r':
        out += "\\r";
        continue;
      case '\t':
        out += "\\t";
        continue;
      case '\b':
        out += "\\b";
        continue;
      case '\f':
        out += "\\f";
        continue;
      default:
        break;
    }
    const bool escape = u < 0x20 || (escaping.escape_del && u == 0x7f) ||
                        (escaping.escape_markup && (c == '<' || c == '>' || c == '&'));
    if (escape) {
      out += "\\u00";
      out.resize(out.size() + 2);
      HexInto(std::span(&u, 1), out.data() + out.size() - 2);
    } else {
      out.push_back(c);
    }
  }
  out.push_back('"');
  return out;
}

}  // namespace enclave::base
