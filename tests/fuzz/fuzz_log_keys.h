// The fuzz log's keys (tests/fuzz), for the targets that sign or open notes: the writer's signer
// and verifier and the offline verifier's pinned key, all from fuzz_common.h's kKeySeed and kOrigin.
#pragma once

#include <string>
#include <utility>

#include "client/verifier/verifier.h"
#include "enclave/audit/checkpoint.h"
#include "enclave/crypto/ed25519.h"
#include "tests/fuzz/fuzz_common.h"

namespace enclave::fuzz {

struct LogKeys {
  audit::NoteSigner signer;
  audit::NoteVerifier writer_verifier;
  verifier::PinnedKey pinned;
};

// Built once per process; a failure aborts (the key is fixed, so it never fails in practice).
inline const LogKeys& FuzzLogKeys() {
  static const LogKeys* keys = [] {
    absl::StatusOr<crypto::Ed25519PrivateKey> key = crypto::Ed25519PrivateKey::FromSeed(kKeySeed);
    FUZZ_CHECK(key.ok(), key.status().ToString());
    absl::StatusOr<audit::NoteSigner> signer =
        audit::NoteSigner::Create(std::string(kOrigin), *std::move(key));
    FUZZ_CHECK(signer.ok(), signer.status().ToString());
    absl::StatusOr<verifier::PinnedKey> pinned = verifier::ParseVerifierKey(signer->VerifierKey());
    FUZZ_CHECK(pinned.ok(), pinned.status().ToString());
    audit::NoteVerifier v = signer->Verifier();
    return new LogKeys{*std::move(signer), std::move(v), *std::move(pinned)};
  }();
  return *keys;
}

}  // namespace enclave::fuzz
