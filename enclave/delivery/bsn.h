// BSN canonicalisation (docs/security.md §5, docs/domain.md §4).
//
// A BSN is canonical when it is exactly 9 ASCII digits, not all zero, and passes the 11-check
// 9·d1 + 8·d2 + … + 2·d8 − d9 ≡ 0 (mod 11). Canonicalisation strips spaces and tabs anywhere and
// left-pads with zeros to 9 digits; anything else is rejected, so that one person never gets two
// pseudonyms. A BSN is never printed: MaskBsn shows only the last two characters.
//
//   std::optional<std::string> bsn = CanonicalBsn(" 1234 56782");   // "123456782"
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace enclave::delivery {

enum class BsnProblem {
  kNone,
  kEmpty,        // nothing but whitespace
  kNotDigits,    // a character other than 0-9, space or tab
  kTooLong,      // more than 9 digits
  kCheckFailed,  // fails the 11-check, or is all zeros
};

// Canonical 9-digit form of `raw`, or nullopt with the reason in `problem` (if given).
std::optional<std::string> CanonicalBsn(std::string_view raw, BsnProblem* problem = nullptr);

// True iff `bsn` is already canonical (9 digits, 11-check, not all zeros).
bool IsCanonicalBsn(std::string_view bsn);

// "*******82": seven stars and the last two non-space characters of `raw` (fewer if shorter).
// The only form in which a BSN, valid or not, may appear in a report.
std::string MaskBsn(std::string_view raw);

// A short English description of a problem ("fails the 11-check").
const char* BsnProblemText(BsnProblem problem);

}  // namespace enclave::delivery
