// Signed checkpoints of the audit log: C2SP tlog-checkpoint bodies inside C2SP signed notes,
// signed with Ed25519 (https://c2sp.org/tlog-checkpoint, https://c2sp.org/signed-note; key
// strings as in golang.org/x/mod/sumdb/note).
//
//   body  = "<origin>\n<tree size>\n<base64 root hash>\n"            (no extension lines)
//   note  = body "\n" ( "— " <key name> " " base64(key id[4] || signature[64]) "\n" )+
//   key id = SHA-256(key name || 0x0A || 0x01 || 32-byte public key)[:4], big-endian uint32
//   verifier key = "<key name>+<8 hex key id>+<base64(0x01 || public key)>"
//   signer key   = "PRIVATE+KEY+<key name>+<8 hex key id>+<base64(0x01 || seed)>"   (SECRET)
//
// Parsing is strict: anything ParseNote/ParseCheckpointBody accept re-serialises byte for byte
// with FormatNote/FormatCheckpointBody.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "enclave/audit/merkle.h"
#include "enclave/crypto/ed25519.h"

namespace enclave::audit {

struct Checkpoint {
  std::string origin;
  std::uint64_t size = 0;
  Hash root{};
  bool operator==(const Checkpoint&) const = default;
};

inline constexpr std::size_t kMaxOriginBytes = 256;

// REQUIRES: a valid origin (CheckOrigin).
std::string FormatCheckpointBody(const Checkpoint& checkpoint);
// Exactly three lines; a non-empty origin; a decimal size without leading zeros; the root as the
// canonical base64 of 32 bytes. kInvalidArgument naming what is wrong.
absl::StatusOr<Checkpoint> ParseCheckpointBody(std::string_view body);
// Non-empty, at most 256 bytes, UTF-8 without control characters.
absl::Status CheckOrigin(std::string_view origin);

struct NoteSignature {
  std::string key_name;
  std::uint32_t key_id = 0;
  std::string signature;  // the bytes after the key id (64 for Ed25519)
  bool operator==(const NoteSignature&) const = default;
};

struct Note {
  std::string text;  // ends in "\n"
  std::vector<NoteSignature> signatures;
  bool operator==(const Note&) const = default;
};

inline constexpr std::size_t kMaxNoteSignatures = 64;  // C2SP: accept at least 16
inline constexpr std::size_t kMaxNoteBytes = 64 * 1024;

// Structure only, no signature check: valid UTF-8, no control characters but newline, text and
// signature lines as above, at most `max_signatures` lines. kInvalidArgument otherwise.
absl::StatusOr<Note> ParseNote(std::string_view note,
                               std::size_t max_signatures = kMaxNoteSignatures);
std::string FormatNote(const Note& note);

// C2SP key name: non-empty, no Unicode space, no '+', no control character.
absl::Status CheckKeyName(std::string_view name);
std::uint32_t Ed25519KeyId(std::string_view key_name, std::string_view public_key);

class NoteVerifier {
 public:
  // From "<name>+<hex id>+<base64(0x01 || key)>". kInvalidArgument if malformed, another
  // algorithm, or the key id does not match the name and key.
  static absl::StatusOr<NoteVerifier> FromVerifierKey(std::string_view verifier_key);
  static absl::StatusOr<NoteVerifier> Create(std::string key_name, std::string public_key);

  const std::string& key_name() const { return key_name_; }
  std::uint32_t key_id() const { return key_id_; }
  const std::string& public_key() const { return public_key_; }
  std::string VerifierKey() const;
  // OK if `signature` is by this key over `text`; kUnauthenticated otherwise.
  absl::Status Verify(std::string_view text, const NoteSignature& signature) const;

 private:
  friend class NoteSigner;
  NoteVerifier(std::string key_name, std::string public_key);
  std::string key_name_;
  std::string public_key_;
  std::uint32_t key_id_ = 0;
};

class NoteSigner {
 public:
  static absl::StatusOr<NoteSigner> Create(std::string key_name, crypto::Ed25519PrivateKey key);
  // From a signer key string (SECRET; never logged). kInvalidArgument if malformed.
  static absl::StatusOr<NoteSigner> FromSignerKey(std::string_view signer_key);

  const std::string& key_name() const { return key_name_; }
  std::uint32_t key_id() const { return key_id_; }
  NoteVerifier Verifier() const;
  std::string VerifierKey() const { return Verifier().VerifierKey(); }
  // The signature line's content for `text` (which must end in "\n").
  absl::StatusOr<NoteSignature> SignText(std::string_view text) const;
  // A whole note: text and this key's signature.
  absl::StatusOr<std::string> Sign(std::string_view text) const;

 private:
  NoteSigner(std::string key_name, crypto::Ed25519PrivateKey key);
  std::string key_name_;
  crypto::Ed25519PrivateKey key_;
  std::uint32_t key_id_ = 0;
};

// The note's text if at least one signature by a key in `verifiers` verifies and none fails.
// Signatures by other keys (name and id not both matching) are ignored. kInvalidArgument if
// malformed; kUnauthenticated if no known key signed or a known key's signature fails.
absl::StatusOr<std::string> OpenNote(std::string_view note,
                                     std::span<const NoteVerifier> verifiers);

absl::StatusOr<std::string> SignCheckpoint(const Checkpoint& checkpoint, const NoteSigner& signer);
// Opens the note with `verifier`, parses the body, and checks the origin (kFailedPrecondition if
// it is another log's checkpoint).
absl::StatusOr<Checkpoint> OpenCheckpoint(std::string_view note, const NoteVerifier& verifier,
                                          std::string_view expected_origin);

}  // namespace enclave::audit
