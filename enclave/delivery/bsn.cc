// BSN canonicalisation, 11-check and masking.
#include "enclave/delivery/bsn.h"

namespace enclave::delivery {

bool IsCanonicalBsn(std::string_view bsn) {
  if (bsn.size() != 9) return false;
  int sum = 0;
  bool nonzero = false;
  for (std::size_t i = 0; i < 9; ++i) {
    const char c = bsn[i];
    if (c < '0' || c > '9') return false;
    const int d = c - '0';
    nonzero = nonzero || d != 0;
    sum += i < 8 ? static_cast<int>(9 - i) * d : -d;
  }
  return nonzero && sum % 11 == 0;
}

std::optional<std::string> CanonicalBsn(std::string_view raw, BsnProblem* problem) {
  char digits[9];
  std::size_t n = 0;
  BsnProblem found = BsnProblem::kNone;
  for (const char c : raw) {
    if (c == ' ' || c == '\t') continue;
    if (c < '0' || c > '9') {
      found = BsnProblem::kNotDigits;
      break;
    }
    if (n == 9) {
      found = BsnProblem::kTooLong;
      continue;  // keep scanning: a letter later is the more specific problem
    }
    digits[n++] = c;
  }
  if (found == BsnProblem::kNone && n == 0) found = BsnProblem::kEmpty;
  std::string out;
  if (found == BsnProblem::kNone) {
    out.assign(9 - n, '0');
    out.append(digits, n);
    if (!IsCanonicalBsn(out)) found = BsnProblem::kCheckFailed;
  }
  if (problem != nullptr) *problem = found;
  if (found != BsnProblem::kNone) return std::nullopt;
  return out;
}

std::string MaskBsn(std::string_view raw) {
  std::string tail;
  for (auto it = raw.rbegin(); it != raw.rend() && tail.size() < 2; ++it) {
    const char c = *it;
    if (c == ' ' || c == '\t') continue;
    // Only printable ASCII is shown; anything else becomes '?'.
    tail.insert(tail.begin(), (c >= 0x21 && c <= 0x7e) ? c : '?');
  }
  return "*******" + tail;
}

const char* BsnProblemText(BsnProblem problem) {
  switch (problem) {
    case BsnProblem::kNone:
      return "valid";
    case BsnProblem::kEmpty:
      return "empty";
    case BsnProblem::kNotDigits:
      return "contains a character other than digits and spaces";
    case BsnProblem::kTooLong:
      return "has more than 9 digits";
    case BsnProblem::kCheckFailed:
      return "fails the 11-check";
  }
  return "invalid";
}

}  // namespace enclave::delivery
