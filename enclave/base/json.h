// JSON string literals: the one escaper of the code base (enclavectl's JSON output, the audit
// tools' JSON lines, the web API's bodies).
//
//   out += "\"label\":" + base::JsonString(label);                 // "Say \"hi\"\n"
//   body += base::JsonString(message, {.escape_markup = true});   // never HTML in a web body
//
// Always escaped: '"', '\\', and every C0 control character (\n \r \t \b \f in their short form,
// the others as \u00XX). Bytes >= 0x80 pass through (UTF-8 stays UTF-8).
#pragma once

#include <string>
#include <string_view>

namespace enclave::base {

struct JsonEscaping {
  bool escape_del = false;     // also DEL (0x7F) as \u007f: output read on a terminal
  bool escape_markup = false;  // also < > & as \u003c \u003e \u0026: a body never becomes markup
};

// `s` as a quoted JSON string.
std::string JsonString(std::string_view s, JsonEscaping escaping = {});

}  // namespace enclave::base
