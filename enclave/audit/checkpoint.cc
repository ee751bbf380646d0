#include "enclave/audit/checkpoint.h"

#include <openssl/crypto.h>

#include <charconv>
#include <utility>

#include "enclave/audit/encoding.h"
#include "enclave/base/hex.h"
#include "enclave/base/status_macros.h"
#include "enclave/crypto/sha256_hasher.h"

namespace enclave::audit {
namespace {

constexpr std::string_view kEmDash = "\xE2\x80\x94";  // U+2014
constexpr char kEd25519Type = 0x01;

bool IsUnicodeSpace(char32_t c) {
  return (c >= 0x09 && c <= 0x0D) || c == 0x20 || c == 0x85 || c == 0xA0 || c == 0x1680 ||
         (c >= 0x2000 && c <= 0x200A) || c == 0x2028 || c == 0x2029 || c == 0x202F ||
         c == 0x205F || c == 0x3000;
}

// Valid UTF-8, and no control character except newline when `allow_newline`.
bool IsCleanUtf8(std::string_view s, bool allow_newline) {
  for (std::size_t i = 0; i < s.size();) {
    const std::size_t n = Utf8SequenceLength(s, i);
    if (n == 0) return false;
    if (n == 1) {
      const auto c = static_cast<unsigned char>(s[i]);
      if ((c < 0x20 && !(allow_newline && c == '\n')) || c == 0x7F) return false;
    }
    i += n;
  }
  return true;
}

std::string KeyIdHex(std::uint32_t id) {
  std::string raw(4, '\0');
  for (int i = 0; i < 4; ++i) raw[static_cast<std::size_t>(i)] = static_cast<char>((id >> (24 - 8 * i)) & 0xFF);
  return base::Hex(raw);
}

absl::StatusOr<std::uint32_t> ParseKeyIdHex(std::string_view hex) {
  std::optional<std::string> raw = base::HexDecodeStrict(hex);
  if (hex.size() != 8 || !raw) {
    return absl::InvalidArgumentError("note key: the key id must be 8 lower-case hex digits");
  }
  std::uint32_t id = 0;
  for (char c : *raw) id = (id << 8) | static_cast<unsigned char>(c);
  return id;
}

// Splits "a+b+rest" into the first `n` '+'-separated fields and the remainder.
bool SplitPlus(std::string_view s, std::size_t n, std::vector<std::string_view>& out) {
  out.clear();
  for (std::size_t i = 0; i < n; ++i) {
    const std::size_t at = s.find('+');
    if (at == std::string_view::npos) return false;
    out.push_back(s.substr(0, at));
    s.remove_prefix(at + 1);
  }
  out.push_back(s);
  return true;
}

}  // namespace

absl::Status CheckOrigin(std::string_view origin) {
  if (origin.empty() || origin.size() > kMaxOriginBytes) {
    return absl::InvalidArgumentError("checkpoint: the origin must be 1-256 bytes");
  }
  if (!IsCleanUtf8(origin, /*allow_newline=*/false)) {
    return absl::InvalidArgumentError("checkpoint: the origin must be UTF-8 without control characters");
  }
  return absl::OkStatus();
}

std::string FormatCheckpointBody(const Checkpoint& checkpoint) {
  const std::string_view root(reinterpret_cast<const char*>(checkpoint.root.data()),
                              checkpoint.root.size());
  return checkpoint.origin + "\n" + std::to_string(checkpoint.size) + "\n" + Base64Encode(root) +
         "\n";
}

absl::StatusOr<Checkpoint> ParseCheckpointBody(std::string_view body) {
  std::vector<std::string_view> lines;
  while (!body.empty()) {
    const std::size_t nl = body.find('\n');
    if (nl == std::string_view::npos) {
      return absl::InvalidArgumentError("checkpoint: the body must end in a newline");
    }
    lines.push_back(body.substr(0, nl));
    body.remove_prefix(nl + 1);
  }
  if (lines.size() != 3) {
    return absl::InvalidArgumentError(
        "checkpoint: the body must be exactly three lines (origin, size, root hash)");
  }
  Checkpoint cp;
  ENCLAVE_RETURN_IF_ERROR(CheckOrigin(lines[0]));
  cp.origin = std::string(lines[0]);
  const std::string_view size = lines[1];
  if (size.empty() || size.size() > 20 || (size.size() > 1 && size[0] == '0')) {
    return absl::InvalidArgumentError(
        "checkpoint: the tree size must be a decimal number without leading zeros");
  }
  const auto [ptr, ec] = std::from_chars(size.data(), size.data() + size.size(), cp.size);
  if (ec != std::errc() || ptr != size.data() + size.size()) {
    return absl::InvalidArgumentError(
        "checkpoint: the tree size must be a decimal number below 2^64");
  }
  std::optional<std::string> root = Base64DecodeStrict(lines[2]);
  if (!root || root->size() != cp.root.size()) {
    return absl::InvalidArgumentError(
        "checkpoint: the root hash must be the canonical base64 of 32 bytes");
  }
  for (std::size_t i = 0; i < cp.root.size(); ++i) {
    cp.root[i] = static_cast<std::uint8_t>((*root)[i]);
  }
  return cp;
}

absl::Status CheckKeyName(std::string_view name) {
  if (name.empty()) return absl::InvalidArgumentError("note: a key name must not be empty");
  for (std::size_t i = 0; i < name.size();) {
    const std::size_t n = Utf8SequenceLength(name, i);
    if (n == 0) return absl::InvalidArgumentError("note: a key name must be valid UTF-8");
    const char32_t c = Utf8Decode(name, i, n);
    if (c < 0x20 || c == 0x7F || c == '+' || IsUnicodeSpace(c)) {
      return absl::InvalidArgumentError(
          "note: a key name must not contain spaces, '+' or control characters");
    }
    i += n;
  }
  return absl::OkStatus();
}

std::uint32_t Ed25519KeyId(std::string_view key_name, std::string_view public_key) {
  crypto::Sha256Hasher h;
  h.Update(key_name);
  h.Update("\n");
  h.Update(std::string_view(&kEd25519Type, 1));
  h.Update(public_key);
  const crypto::Sha256Digest d = h.Finish();
  return (std::uint32_t{d[0]} << 24) | (std::uint32_t{d[1]} << 16) | (std::uint32_t{d[2]} << 8) |
         std::uint32_t{d[3]};
}

absl::StatusOr<Note> ParseNote(std::string_view note, std::size_t max_signatures) {
  if (note.size() > kMaxNoteBytes) return absl::InvalidArgumentError("note: larger than 64 KiB");
  if (!IsCleanUtf8(note, /*allow_newline=*/true)) {
    return absl::InvalidArgumentError(
        "note: must be UTF-8 without control characters other than newline");
  }
  if (note.empty() || note.back() != '\n') {
    return absl::InvalidArgumentError("note: must end in a newline");
  }
  const std::size_t split = note.rfind("\n\n");
  if (split == std::string_view::npos) {
    return absl::InvalidArgumentError("note: no blank line before the signatures");
  }
  Note out;
  out.text = std::string(note.substr(0, split + 1));
  std::string_view sigs = note.substr(split + 2);
  if (sigs.empty()) return absl::InvalidArgumentError("note: no signature lines");
  while (!sigs.empty()) {
    const std::size_t nl = sigs.find('\n');  // present: the note ends in "\n"
    std::string_view line = sigs.substr(0, nl);
    sigs.remove_prefix(nl + 1);
    if (out.signatures.size() == max_signatures) {
      return absl::InvalidArgumentError("note: more than " + std::to_string(max_signatures) +
                                        " signatures");
    }
    if (line.substr(0, kEmDash.size() + 1) != std::string(kEmDash) + " ") {
      return absl::InvalidArgumentError("note: a signature line must start with an em dash and a space");
    }
    line.remove_prefix(kEmDash.size() + 1);
    const std::size_t space = line.find(' ');
    if (space == std::string_view::npos) {
      return absl::InvalidArgumentError("note: a signature line needs a key name and a signature");
    }
    NoteSignature sig;
    sig.key_name = std::string(line.substr(0, space));
    ENCLAVE_RETURN_IF_ERROR(CheckKeyName(sig.key_name));
    std::optional<std::string> blob = Base64DecodeStrict(line.substr(space + 1));
    if (!blob || blob->size() < 5) {
      return absl::InvalidArgumentError(
          "note: a signature must be the canonical base64 of a key id and a signature");
    }
    for (int i = 0; i < 4; ++i) {
      sig.key_id = (sig.key_id << 8) | static_cast<unsigned char>((*blob)[static_cast<std::size_t>(i)]);
    }
    sig.signature = blob->substr(4);
    out.signatures.push_back(std::move(sig));
  }
  return out;
}

std::string FormatNote(const Note& note) {
  std::string out = note.text;
  out += "\n";
  for (const NoteSignature& sig : note.signatures) {
    std::string blob(4, '\0');
    for (int i = 0; i < 4; ++i) {
      blob[static_cast<std::size_t>(i)] = static_cast<char>((sig.key_id >> (24 - 8 * i)) & 0xFF);
    }
    blob += sig.signature;
    out += std::string(kEmDash) + " " + sig.key_name + " " + Base64Encode(blob) + "\n";
  }
  return out;
}

NoteVerifier::NoteVerifier(std::string key_name, std::string public_key)
    : key_name_(std::move(key_name)),
      public_key_(std::move(public_key)),
      key_id_(Ed25519KeyId(key_name_, public_key_)) {}

absl::StatusOr<NoteVerifier> NoteVerifier::Create(std::string key_name, std::string public_key) {
  ENCLAVE_RETURN_IF_ERROR(CheckKeyName(key_name));
  if (public_key.size() != crypto::kEd25519PublicKeySize) {
    return absl::InvalidArgumentError("note key: an Ed25519 public key must be 32 bytes");
  }
  return NoteVerifier(std::move(key_name), std::move(public_key));
}

absl::StatusOr<NoteVerifier> NoteVerifier::FromVerifierKey(std::string_view verifier_key) {
  std::vector<std::string_view> parts;
  if (!SplitPlus(verifier_key, 2, parts)) {
    return absl::InvalidArgumentError("note key: expected <name>+<key id>+<base64 key>");
  }
  ENCLAVE_ASSIGN_OR_RETURN(const std::uint32_t id, ParseKeyIdHex(parts[1]));
  std::optional<std::string> key = Base64DecodeStrict(parts[2]);
  if (!key || key->size() != 1 + crypto::kEd25519PublicKeySize || (*key)[0] != kEd25519Type) {
    return absl::InvalidArgumentError(
        "note key: the key must be the canonical base64 of 0x01 and a 32-byte Ed25519 key");
  }
  ENCLAVE_ASSIGN_OR_RETURN(NoteVerifier v, Create(std::string(parts[0]), key->substr(1)));
  if (v.key_id() != id) {
    return absl::InvalidArgumentError("note key: the key id does not match the name and key");
  }
  return v;
}

std::string NoteVerifier::VerifierKey() const {
  return key_name_ + "+" + KeyIdHex(key_id_) + "+" +
         Base64Encode(std::string(1, kEd25519Type) + public_key_);
}

absl::Status NoteVerifier::Verify(std::string_view text, const NoteSignature& signature) const {
  if (signature.key_name != key_name_ || signature.key_id != key_id_) {
    return absl::UnauthenticatedError("note: the signature is by another key");
  }
  absl::Status s = crypto::Ed25519Verify(public_key_, text, signature.signature);
  if (!s.ok()) return absl::UnauthenticatedError("note: the signature by " + key_name_ + " does not verify");
  return absl::OkStatus();
}

NoteSigner::NoteSigner(std::string key_name, crypto::Ed25519PrivateKey key)
    : key_name_(std::move(key_name)),
      key_(std::move(key)),
      key_id_(Ed25519KeyId(key_name_, key_.public_key())) {}

absl::StatusOr<NoteSigner> NoteSigner::Create(std::string key_name, crypto::Ed25519PrivateKey key) {
  ENCLAVE_RETURN_IF_ERROR(CheckKeyName(key_name));
  return NoteSigner(std::move(key_name), std::move(key));
}

absl::StatusOr<NoteSigner> NoteSigner::FromSignerKey(std::string_view signer_key) {
  std::vector<std::string_view> parts;
  if (!SplitPlus(signer_key, 4, parts) || parts[0] != "PRIVATE" || parts[1] != "KEY") {
    return absl::InvalidArgumentError(
        "signer key: expected PRIVATE+KEY+<name>+<key id>+<base64 key>");
  }
  ENCLAVE_ASSIGN_OR_RETURN(const std::uint32_t id, ParseKeyIdHex(parts[3]));
  std::optional<std::string> key = Base64DecodeStrict(parts[4]);
  const bool well_formed =
      key && key->size() == 1 + crypto::kEd25519SeedSize && (*key)[0] == kEd25519Type;
  absl::StatusOr<crypto::Ed25519PrivateKey> pk =
      well_formed ? crypto::Ed25519PrivateKey::FromSeed(std::string_view(*key).substr(1))
                  : absl::InvalidArgumentError("signer key: not 0x01 and a 32-byte seed");
  if (key) OPENSSL_cleanse(key->data(), key->size());
  if (!pk.ok()) return pk.status();
  ENCLAVE_ASSIGN_OR_RETURN(NoteSigner signer, Create(std::string(parts[2]), *std::move(pk)));
  if (signer.key_id() != id) {
    return absl::InvalidArgumentError("signer key: the key id does not match the name and key");
  }
  return signer;
}

NoteVerifier NoteSigner::Verifier() const { return NoteVerifier(key_name_, key_.public_key()); }

absl::StatusOr<NoteSignature> NoteSigner::SignText(std::string_view text) const {
  if (text.empty() || text.back() != '\n') {
    return absl::InvalidArgumentError("note: the text must end in a newline");
  }
  if (!IsCleanUtf8(text, /*allow_newline=*/true)) {
    return absl::InvalidArgumentError("note: the text must be UTF-8 without control characters");
  }
  ENCLAVE_ASSIGN_OR_RETURN(std::string sig, key_.Sign(text));
  return NoteSignature{key_name_, key_id_, std::move(sig)};
}

absl::StatusOr<std::string> NoteSigner::Sign(std::string_view text) const {
  ENCLAVE_ASSIGN_OR_RETURN(NoteSignature sig, SignText(text));
  return FormatNote(Note{std::string(text), {std::move(sig)}});
}

absl::StatusOr<std::string> OpenNote(std::string_view note,
                                     std::span<const NoteVerifier> verifiers) {
  ENCLAVE_ASSIGN_OR_RETURN(Note parsed, ParseNote(note));
  bool verified = false;
  for (const NoteSignature& sig : parsed.signatures) {
    for (const NoteVerifier& v : verifiers) {
      if (v.key_name() != sig.key_name || v.key_id() != sig.key_id) continue;
      ENCLAVE_RETURN_IF_ERROR(v.Verify(parsed.text, sig));
      verified = true;
    }
  }
  if (!verified) return absl::UnauthenticatedError("note: no signature by a trusted key");
  return parsed.text;
}

absl::StatusOr<std::string> SignCheckpoint(const Checkpoint& checkpoint, const NoteSigner& signer) {
  ENCLAVE_RETURN_IF_ERROR(CheckOrigin(checkpoint.origin));
  return signer.Sign(FormatCheckpointBody(checkpoint));
}

absl::StatusOr<Checkpoint> OpenCheckpoint(std::string_view note, const NoteVerifier& verifier,
                                          std::string_view expected_origin) {
  ENCLAVE_ASSIGN_OR_RETURN(std::string text, OpenNote(note, std::span(&verifier, 1)));
  ENCLAVE_ASSIGN_OR_RETURN(Checkpoint cp, ParseCheckpointBody(text));
  if (cp.origin != expected_origin) {
    return absl::FailedPreconditionError("checkpoint: the origin is not the expected log's");
  }
  return cp;
}

}  // namespace enclave::audit
