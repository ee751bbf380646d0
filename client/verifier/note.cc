// C2SP signed notes and checkpoints, verification side only, pinned to one Ed25519 key.
#include <openssl/evp.h>

#include <charconv>
#include <memory>
#include <string>
#include <vector>

#include "client/verifier/internal.h"
#include "client/verifier/verifier.h"

namespace enclave::verifier {
namespace {

constexpr std::string_view kSigPrefix = "\xE2\x80\x94 ";  // em dash U+2014, space
constexpr std::size_t kMaxNote = 64 * 1024;
constexpr std::size_t kMaxSignatures = 64;

std::uint32_t KeyIdFor(std::string_view name, std::string_view public_key) {
  const Hash h = internal::Sha256Parts(name, std::string_view("\n\x01", 2), public_key);
  return (std::uint32_t{h[0]} << 24) | (std::uint32_t{h[1]} << 16) | (std::uint32_t{h[2]} << 8) |
         std::uint32_t{h[3]};
}

bool ValidKeyName(std::string_view name) {
  if (name.empty() || !internal::CleanUtf8(name, false, false)) return false;
  if (name.find('+') != std::string_view::npos || name.find(' ') != std::string_view::npos) {
    return false;
  }
  // Non-ASCII Unicode spaces: U+0085, U+00A0, U+1680, U+2000-U+200A, U+2028, U+2029, U+202F,
  // U+205F, U+3000 (UTF-8 forms).
  static constexpr std::string_view kSpaces[] = {
      "\xC2\x85", "\xC2\xA0", "\xE1\x9A\x80", "\xE2\x80\xA8", "\xE2\x80\xA9", "\xE2\x80\xAF",
      "\xE2\x81\x9F", "\xE3\x80\x80"};
  for (std::string_view sp : kSpaces) {
    if (name.find(sp) != std::string_view::npos) return false;
  }
  for (unsigned char c = 0x80; c <= 0x8A; ++c) {
    const char seq[3] = {'\xE2', '\x80', static_cast<char>(c)};
    if (name.find(std::string_view(seq, 3)) != std::string_view::npos) return false;
  }
  return true;
}

bool Ed25519Ok(std::string_view public_key, std::string_view message, std::string_view sig) {
  if (public_key.size() != 32 || sig.size() != 64) return false;
  struct Free {
    void operator()(EVP_PKEY* p) const { EVP_PKEY_free(p); }
    void operator()(EVP_MD_CTX* p) const { EVP_MD_CTX_free(p); }
  };
  std::unique_ptr<EVP_PKEY, Free> pkey(EVP_PKEY_new_raw_public_key(
      EVP_PKEY_ED25519, nullptr, reinterpret_cast<const unsigned char*>(public_key.data()),
      public_key.size()));
  std::unique_ptr<EVP_MD_CTX, Free> ctx(EVP_MD_CTX_new());
  if (!pkey || !ctx) return false;
  if (EVP_DigestVerifyInit(ctx.get(), nullptr, nullptr, nullptr, pkey.get()) != 1) return false;
  return EVP_DigestVerify(ctx.get(), reinterpret_cast<const unsigned char*>(sig.data()), sig.size(),
                          reinterpret_cast<const unsigned char*>(message.data()),
                          message.size()) == 1;
}

absl::Status Malformed(std::string_view what) {
  return absl::InvalidArgumentError("verifier: malformed note: " + std::string(what));
}

}  // namespace

absl::StatusOr<PinnedKey> ParseVerifierKey(std::string_view text) {
  const std::size_t p1 = text.find('+');
  const std::size_t p2 = p1 == std::string_view::npos ? p1 : text.find('+', p1 + 1);
  if (p2 == std::string_view::npos) {
    return absl::InvalidArgumentError("verifier: a key must be <name>+<key id>+<base64 key>");
  }
  PinnedKey key;
  key.name = std::string(text.substr(0, p1));
  const std::string_view id = text.substr(p1 + 1, p2 - p1 - 1);
  if (!ValidKeyName(key.name)) return absl::InvalidArgumentError("verifier: invalid key name");
  if (id.size() != 8 || id.find_first_not_of("0123456789abcdef") != std::string_view::npos) {
    return absl::InvalidArgumentError("verifier: the key id must be 8 lower-case hex digits");
  }
  std::from_chars(id.data(), id.data() + id.size(), key.key_id, 16);
  const std::optional<std::string> raw = internal::DecodeBase64(text.substr(p2 + 1));
  if (!raw || raw->size() != 33 || (*raw)[0] != '\x01') {
    return absl::InvalidArgumentError("verifier: the key is not an Ed25519 (type 0x01) key");
  }
  key.public_key = raw->substr(1);
  if (KeyIdFor(key.name, key.public_key) != key.key_id) {
    return absl::InvalidArgumentError("verifier: the key id does not match the key name and key");
  }
  return key;
}

absl::StatusOr<CheckpointView> VerifyCheckpointNote(std::string_view note, const PinnedKey& key,
                                                    std::string_view origin) {
  if (note.size() > kMaxNote) return Malformed("larger than 64 KiB");
  if (!internal::CleanUtf8(note, /*allow_newline=*/true, /*allow_tab=*/false)) {
    return Malformed("not UTF-8 or contains control characters");
  }
  if (note.empty() || note.back() != '\n') return Malformed("no final newline");
  const std::size_t blank = note.rfind("\n\n");
  if (blank == std::string_view::npos) return Malformed("no blank line before the signatures");
  const std::string_view text = note.substr(0, blank + 1);
  std::string_view lines = note.substr(blank + 2);
  if (lines.empty()) return Malformed("no signatures");

  std::size_t count = 0;
  bool verified = false;
  while (!lines.empty()) {
    const std::size_t end = lines.find('\n');
    std::string_view line = lines.substr(0, end);
    lines.remove_prefix(end + 1);
    if (++count > kMaxSignatures) return Malformed("too many signatures");
    if (line.substr(0, kSigPrefix.size()) != kSigPrefix) return Malformed("bad signature line");
    line.remove_prefix(kSigPrefix.size());
    const std::size_t space = line.find(' ');
    if (space == std::string_view::npos) return Malformed("bad signature line");
    const std::string_view name = line.substr(0, space);
    if (!ValidKeyName(name)) return Malformed("bad key name");
    const std::optional<std::string> blob = internal::DecodeBase64(line.substr(space + 1));
    if (!blob || blob->size() < 5) return Malformed("bad signature encoding");
    std::uint32_t id = 0;
    for (int i = 0; i < 4; ++i) id = (id << 8) | static_cast<unsigned char>((*blob)[static_cast<std::size_t>(i)]);
    if (name != key.name || id != key.key_id) continue;  // another key: ignored
    if (!Ed25519Ok(key.public_key, text, std::string_view(*blob).substr(4))) {
      return absl::UnauthenticatedError("verifier: the signature by the pinned key does not verify");
    }
    verified = true;
  }
  if (!verified) return absl::UnauthenticatedError("verifier: no signature by the pinned key");

  // Body: exactly "<origin>\n<size>\n<base64 root>\n".
  std::vector<std::string_view> body;
  std::string_view rest = text;
  while (!rest.empty()) {
    const std::size_t nl = rest.find('\n');
    body.push_back(rest.substr(0, nl));
    rest.remove_prefix(nl + 1);
  }
  if (body.size() != 3) return Malformed("a checkpoint body has exactly three lines");
  CheckpointView cp;
  cp.origin = std::string(body[0]);
  if (cp.origin.empty() || cp.origin.size() > 256) return Malformed("bad origin");
  const std::string_view size = body[1];
  const auto [ptr, ec] = std::from_chars(size.data(), size.data() + size.size(), cp.size);
  if (size.empty() || ec != std::errc() || ptr != size.data() + size.size() ||
      (size.size() > 1 && size[0] == '0')) {
    return Malformed("bad tree size");
  }
  const std::optional<std::string> root = internal::DecodeBase64(body[2]);
  if (!root || root->size() != 32) return Malformed("bad root hash");
  for (std::size_t i = 0; i < 32; ++i) cp.root[i] = static_cast<std::uint8_t>((*root)[i]);
  if (cp.origin != origin) {
    return absl::FailedPreconditionError("verifier: the checkpoint is for another log (origin)");
  }
  return cp;
}

}  // namespace enclave::verifier
