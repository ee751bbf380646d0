// Signed notes and checkpoints (C2SP signed-note and tlog-checkpoint; docs/audit-log.md §3) and the
// verifier key strings an officer pins. The writer (enclave/audit) and the offline verifier
// (client/verifier) parse them independently. Properties, for any bytes:
//   - ParseNote and ParseCheckpointBody accept only what FormatNote / FormatCheckpointBody
//     reproduce byte for byte (Rekor's round-trip property, made exact);
//   - audit::OpenCheckpoint and verifier::VerifyCheckpointNote agree on every note, both as given
//     and re-signed by the fuzz key (so that body parsing behind the signature check is reached);
//     a re-signed note whose body parses with the log's origin is accepted by both;
//   - NoteVerifier::FromVerifierKey and verifier::ParseVerifierKey agree, and an accepted key
//     string re-formats to itself; NoteSigner::FromSignerKey never crashes.
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "client/verifier/verifier.h"
#include "enclave/audit/checkpoint.h"
#include "enclave/crypto/ed25519.h"
#include "tests/fuzz/fuzz_common.h"
#include "tests/fuzz/fuzz_log_keys.h"

namespace {

namespace audit = enclave::audit;
namespace verifier = enclave::verifier;
using enclave::fuzz::kOrigin;

// Both implementations open `note` for the fuzz key and origin; they must agree.
bool OpenBoth(std::string_view note) {
  const enclave::fuzz::LogKeys& keys = enclave::fuzz::FuzzLogKeys();
  absl::StatusOr<audit::Checkpoint> w = audit::OpenCheckpoint(note, keys.writer_verifier, kOrigin);
  absl::StatusOr<verifier::CheckpointView> v =
      verifier::VerifyCheckpointNote(note, keys.pinned, kOrigin);
  FUZZ_CHECK(w.ok() == v.ok(),
             "writer " + w.status().ToString() + " but verifier " + v.status().ToString());
  enclave::fuzz::Say("OpenCheckpoint", w.status().ToString());
  if (!w.ok()) {
    FUZZ_CHECK(!w.status().message().empty() && !v.status().message().empty(),
               "a refusal without a message");
    return false;
  }
  FUZZ_CHECK(w->origin == v->origin && w->size == v->size && w->root == v->root,
             "writer and verifier read different checkpoints");
  FUZZ_CHECK(audit::FormatCheckpointBody(*w) + "\n" ==
                 std::string_view(note).substr(0, audit::FormatCheckpointBody(*w).size() + 1),
             "an accepted checkpoint is not the note's text");
  return true;
}

void CheckKeyStrings(std::string_view text) {
  absl::StatusOr<audit::NoteVerifier> w = audit::NoteVerifier::FromVerifierKey(text);
  absl::StatusOr<verifier::PinnedKey> v = verifier::ParseVerifierKey(text);
  FUZZ_CHECK(w.ok() == v.ok(),
             "writer " + w.status().ToString() + " but verifier " + v.status().ToString());
  if (w.ok()) {
    FUZZ_CHECK(w->key_name() == v->name && w->key_id() == v->key_id &&
                   w->public_key() == v->public_key,
               "writer and verifier read different keys");
    FUZZ_CHECK(w->VerifierKey() == text, "an accepted verifier key re-formats differently");
  }
  absl::StatusOr<audit::NoteSigner> s = audit::NoteSigner::FromSignerKey(text);
  if (s.ok()) {
    absl::StatusOr<audit::NoteVerifier> back = audit::NoteVerifier::FromVerifierKey(s->VerifierKey());
    FUZZ_CHECK(back.ok(), "a signer key's verifier key does not parse");
  } else {
    // A signer key is secret: its refusal must not quote the key material (the part after the last
    // '+'). Checked when that part is 16 or more base64 characters, which no fixed message holds.
    const std::string_view secret = text.substr(text.rfind('+') + 1);
    if (secret.size() >= 16 && secret.find_first_not_of("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmn"
                                                        "opqrstuvwxyz0123456789/=") ==
                                   std::string_view::npos) {
      FUZZ_CHECK(std::string(s.status().message()).find(secret) == std::string::npos,
                 "a signer key refusal quotes the key");
    }
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view input(reinterpret_cast<const char*>(data), size);

  absl::StatusOr<audit::Checkpoint> body = audit::ParseCheckpointBody(input);
  if (body.ok()) {
    FUZZ_CHECK(audit::FormatCheckpointBody(*body) == input,
               "an accepted checkpoint body re-formats differently");
  }

  absl::StatusOr<audit::Note> note = audit::ParseNote(input);
  if (note.ok()) {
    FUZZ_CHECK(audit::FormatNote(*note) == input, "an accepted note re-formats differently");
  }
  OpenBoth(input);

  if (note.ok()) {
    // The same note re-signed by the fuzz key, keeping the signatures by other keys.
    const enclave::fuzz::LogKeys& keys = enclave::fuzz::FuzzLogKeys();
    absl::StatusOr<audit::NoteSignature> ours = keys.signer.SignText(note->text);
    FUZZ_CHECK(ours.ok(), "an accepted note's text cannot be signed: " + ours.status().ToString());
    audit::Note resigned{note->text, {}};
    for (const audit::NoteSignature& s : note->signatures) {
      if (s.key_name != ours->key_name || s.key_id != ours->key_id) resigned.signatures.push_back(s);
    }
    if (resigned.signatures.size() < audit::kMaxNoteSignatures) {
      resigned.signatures.insert(resigned.signatures.begin() + (size % 2 == 0 ? 0 : 
                                 static_cast<std::ptrdiff_t>(resigned.signatures.size())),
                                 *ours);
      const std::string text = audit::FormatNote(resigned);
      const bool opened = OpenBoth(text);
      absl::StatusOr<audit::Checkpoint> cp = audit::ParseCheckpointBody(note->text);
      if (text.size() <= audit::kMaxNoteBytes) {
        FUZZ_CHECK(opened == (cp.ok() && cp->origin == kOrigin),
                   "a note signed by the pinned key with a valid body is " +
                       std::string(opened ? "accepted" : "refused") + " although its body is " +
                       cp.status().ToString());
      }
    }
  }

  // The first line as a key string, and the whole input.
  CheckKeyStrings(input.substr(0, input.find('\n')));
  if (input.find('\n') != std::string_view::npos) CheckKeyStrings(input);
  return 0;
}
