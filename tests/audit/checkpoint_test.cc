// Ed25519 (RFC 8032 vectors), C2SP signed notes (Go sumdb/note vector) and checkpoints.
#include "enclave/audit/checkpoint.h"

#include <doctest/doctest.h>

#include <random>
#include <string>

#include "enclave/audit/encoding.h"
#include "enclave/base/hex.h"
#include "enclave/crypto/ed25519.h"

namespace enclave::audit {
namespace {

std::string Unhex(std::string_view hex) { return *base::HexDecodeStrict(hex); }

// golang.org/x/mod/sumdb/note, note.go package documentation and note_test.go.
constexpr std::string_view kGoSignerKey =
    "PRIVATE+KEY+PeterNeumann+c74f20a3+AYEKFALVFGyNhPJEMzD1QIDr+Y7hfZx09iUvxdXHKDFz";
constexpr std::string_view kGoVerifierKey =
    "PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW";
constexpr std::string_view kGoText =
    "If you think cryptography is the answer to your problem,\n"
    "then you don't know what your problem is.\n";
constexpr std::string_view kGoNote =
    "If you think cryptography is the answer to your problem,\n"
    "then you don't know what your problem is.\n"
    "\n"
    "\xE2\x80\x94 PeterNeumann "
    "x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKvqfqdngotpRZb6KE6RyyBwJnAM=\n";

NoteSigner TestSigner(const char* name = "enclave.lv.example/log") {
  return *NoteSigner::Create(name, *crypto::Ed25519PrivateKey::Generate());
}

TEST_CASE("Ed25519 RFC 8032 §7.1 tests 1-3: keys and signatures byte for byte") {
  struct Vector {
    const char* seed;
    const char* pub;
    const char* msg;
    const char* sig;
  };
  const Vector vectors[] = {
      {"9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60",
       "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a", "",
       "e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e065224901555fb8821590a33bacc61e39701cf9b46bd25bf5f0595bbe24655141438e7a100b"},
      {"4ccd089b28ff96da9db6c346ec114e0f5b8a319f35aba624da8cf6ed4fb8a6fb",
       "3d4017c3e843895a92b70aa74d1b7ebc9c982ccf2ec4968cc0cd55f12af4660c", "72",
       "92a009a9f0d4cab8720e820b5f642540a2b27b5416503f8fb3762223ebdb69da085ac1e43e15996e458f3613d0f11d8c387b2eaeb4302aeeb00d291612bb0c00"},
      {"c5aa8df43f9f837bedb7442f31dcb7b166d38535076f094b85ce3a2e0b4458f7",
       "fc51cd8e6218a1a38da47ed00230f0580816ed13ba3303ac5deb911548908025", "af82",
       "6291d657deec24024827e69c3abe01a30ce548a284743a445e3680d7db5ac3ac18ff9b538d16f290ae67f760984dc6594a7c15e9716ed28dc027beceea1ec40a"},
  };
  for (const Vector& v : vectors) {
    absl::StatusOr<crypto::Ed25519PrivateKey> key = crypto::Ed25519PrivateKey::FromSeed(Unhex(v.seed));
    REQUIRE(key.ok());
    CHECK(base::Hex(key->public_key()) == v.pub);
    CHECK(base::Hex(*key->Sign(Unhex(v.msg))) == v.sig);
    CHECK(crypto::Ed25519Verify(Unhex(v.pub), Unhex(v.msg), Unhex(v.sig)).ok());
    std::string bad = Unhex(v.sig);
    bad[10] = static_cast<char>(bad[10] ^ 1);
    CHECK(crypto::Ed25519Verify(Unhex(v.pub), Unhex(v.msg), bad).code() ==
          absl::StatusCode::kUnauthenticated);
    CHECK_FALSE(crypto::Ed25519Verify(Unhex(v.pub), "other message", Unhex(v.sig)).ok());
  }
  CHECK(crypto::Ed25519PrivateKey::FromSeed("short").status().code() ==
        absl::StatusCode::kInvalidArgument);
}

TEST_CASE("Ed25519 keys round-trip through PEM, errors name no key material") {
  crypto::Ed25519PrivateKey key = *crypto::Ed25519PrivateKey::Generate();
  const std::string pem = *key.ToPem();
  CHECK(pem.find("-----BEGIN PRIVATE KEY-----") == 0);
  absl::StatusOr<crypto::Ed25519PrivateKey> back = crypto::Ed25519PrivateKey::FromPem(pem);
  REQUIRE(back.ok());
  CHECK(back->public_key() == key.public_key());
  CHECK(*crypto::Ed25519PublicKeyFromPem(*key.PublicKeyPem()) == key.public_key());
  absl::Status bad = crypto::Ed25519PrivateKey::FromPem("-----BEGIN PRIVATE KEY-----\nAAAA\n").status();
  CHECK(bad.code() == absl::StatusCode::kInvalidArgument);
  CHECK(bad.message().find("AAAA") == std::string_view::npos);
  CHECK_FALSE(crypto::Ed25519PublicKeyFromPem(pem).ok());
}

TEST_CASE("the Go sumdb/note vector: key strings, key id, deterministic signature, open") {
  absl::StatusOr<NoteSigner> signer = NoteSigner::FromSignerKey(kGoSignerKey);
  REQUIRE(signer.ok());
  CHECK(signer->key_id() == 0xc74f20a3u);
  CHECK(signer->VerifierKey() == kGoVerifierKey);
  CHECK(*signer->Sign(kGoText) == kGoNote);
  absl::StatusOr<NoteVerifier> verifier = NoteVerifier::FromVerifierKey(kGoVerifierKey);
  REQUIRE(verifier.ok());
  CHECK(verifier->VerifierKey() == kGoVerifierKey);
  CHECK(Ed25519KeyId("PeterNeumann", verifier->public_key()) == 0xc74f20a3u);
  CHECK(*OpenNote(kGoNote, std::span(&*verifier, 1)) == kGoText);

  // Manglings of the verifier key are refused (after note_test.go TestNewVerifier).
  for (std::size_t i = 0; i < kGoVerifierKey.size(); ++i) {
    std::string bad(kGoVerifierKey);
    bad[i] = static_cast<char>(bad[i] + 1);
    CAPTURE(bad);
    CHECK_FALSE(NoteVerifier::FromVerifierKey(bad).ok());
  }
  CHECK_FALSE(NoteVerifier::FromVerifierKey(kGoVerifierKey.substr(0, 30)).ok());
  CHECK_FALSE(NoteSigner::FromSignerKey("PRIVATE+KEY+PeterNeumann+c74f20a4+AYEKFALVFGyNhPJEMzD1QIDr+Y7hfZx09iUvxdXHKDFz").ok());
}

TEST_CASE("note parsing is strict and re-serialises identically") {
  absl::StatusOr<Note> note = ParseNote(kGoNote);
  REQUIRE(note.ok());
  CHECK(note->text == kGoText);
  REQUIRE(note->signatures.size() == 1);
  CHECK(FormatNote(*note) == kGoNote);

  const std::string good(kGoNote);
  const std::string dash = "\xE2\x80\x94 ";
  const char* sig = "x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKvqfqdngotpRZb6KE6RyyBwJnAM=";
  const std::string text(kGoText);
  const std::string bad_notes[] = {
      good.substr(0, good.size() - 1),                          // no final newline
      text + dash + "PeterNeumann " + sig + "\n",               // no blank line
      text + "\n",                                              // no signatures
      text + "\n- PeterNeumann " + sig + "\n",                  // hyphen, not em dash
      text + "\n" + dash + "Peter Neumann " + sig + "\n",       // space in name
      text + "\n" + dash + "Peter+Neumann " + sig + "\n",       // '+' in name
      text + "\n" + dash + "PeterNeumann " + sig + "\n\n",      // trailing blank line
      text + "\n" + dash + "PeterNeumann AAAA\n",               // signature too short
      text + "\n" + dash + "PeterNeumann x08go/Z\n",            // not base64 of a multiple of 4
      "If you\tthink\n\n" + dash + "PeterNeumann " + sig + "\n",  // control character
      "If you \xff think\n\n" + dash + "PeterNeumann " + sig + "\n",  // not UTF-8
  };
  for (const std::string& bad : bad_notes) {
    CAPTURE(bad);
    CHECK_FALSE(ParseNote(bad).ok());
  }
  // Non-canonical base64 (unused bits set) is refused so that parse/format round-trips.
  std::string noncanon = good;
  noncanon.replace(noncanon.find("AM="), 3, "AN=");
  CHECK_FALSE(ParseNote(noncanon).ok());

  // The signature limit.
  std::string many = text + "\n";
  for (int i = 0; i < 65; ++i) many += dash + "k" + std::to_string(i) + " " + sig + "\n";
  CHECK_FALSE(ParseNote(many).ok());
  CHECK(ParseNote(many, 100).ok());
}

TEST_CASE("open: unknown keys ignored, a failing known key rejects, no known key rejects") {
  const NoteSigner a = TestSigner("a.example/log");
  const NoteSigner b = TestSigner("b.example/log");
  const std::string text = "hello\n";
  Note note{text, {*a.SignText(text), *b.SignText(text)}};
  const NoteVerifier va = a.Verifier();
  const NoteVerifier vb = b.Verifier();
  CHECK(*OpenNote(FormatNote(note), std::span(&va, 1)) == text);
  CHECK(*OpenNote(FormatNote(note), std::span(&vb, 1)) == text);
  const NoteVerifier other = TestSigner("c.example/log").Verifier();
  CHECK(OpenNote(FormatNote(note), std::span(&other, 1)).status().code() ==
        absl::StatusCode::kUnauthenticated);
  // Same name and id as a known key but a bad signature: the whole note is rejected.
  Note forged = note;
  forged.signatures[1].signature[0] = static_cast<char>(forged.signatures[1].signature[0] ^ 1);
  CHECK(*OpenNote(FormatNote(forged), std::span(&va, 1)) == text);
  CHECK(OpenNote(FormatNote(forged), std::span(&vb, 1)).status().code() ==
        absl::StatusCode::kUnauthenticated);
}

TEST_CASE("checkpoints: sign, open, and rejection of tampering, wrong key, name and origin") {
  const NoteSigner signer = TestSigner();
  const NoteVerifier verifier = signer.Verifier();
  Checkpoint cp{"enclave.lv.example/log", 12345, HashLeaf("x")};
  const std::string note = *SignCheckpoint(cp, signer);
  CHECK(note.rfind("enclave.lv.example/log\n12345\n", 0) == 0);
  CHECK(*ParseCheckpointBody(FormatCheckpointBody(cp)) == cp);
  CHECK(*OpenCheckpoint(note, verifier, "enclave.lv.example/log") == cp);

  // Every single-byte change of the note is rejected.
  for (std::size_t i = 0; i < note.size(); ++i) {
    std::string bad = note;
    bad[i] = static_cast<char>(bad[i] ^ 0x01);
    CAPTURE(i);
    CHECK_FALSE(OpenCheckpoint(bad, verifier, "enclave.lv.example/log").ok());
  }
  // Another key under the same name; the right key under another name; another origin.
  const NoteSigner impostor = TestSigner();
  CHECK_FALSE(OpenCheckpoint(*SignCheckpoint(cp, impostor), verifier, cp.origin).ok());
  crypto::Ed25519PrivateKey same_key = *crypto::Ed25519PrivateKey::Generate();
  const std::string pem = *same_key.ToPem();
  const NoteSigner renamed =
      *NoteSigner::Create("other.example/log", *crypto::Ed25519PrivateKey::FromPem(pem));
  const NoteSigner named =
      *NoteSigner::Create("enclave.lv.example/log", *crypto::Ed25519PrivateKey::FromPem(pem));
  const NoteVerifier pinned = named.Verifier();
  CHECK(OpenCheckpoint(*SignCheckpoint(cp, named), pinned, cp.origin).ok());
  CHECK_FALSE(OpenCheckpoint(*SignCheckpoint(cp, renamed), pinned, cp.origin).ok());
  CHECK(OpenCheckpoint(note, verifier, "another.example/log").status().code() ==
        absl::StatusCode::kFailedPrecondition);
}

TEST_CASE("checkpoint body parsing is strict") {
  const std::string root = Base64Encode(std::string(32, 'r'));
  CHECK(ParseCheckpointBody("o\n0\n" + root + "\n").ok());
  const std::string bad[] = {
      "o\n1\n" + root,                       // no final newline
      "\n1\n" + root + "\n",                 // empty origin
      "o\n01\n" + root + "\n",               // leading zero
      "o\n-1\n" + root + "\n",               // sign
      "o\n18446744073709551616\n" + root + "\n",  // 2^64
      "o\n1\n" + root + "\nextension\n",     // extension line
      "o\n1\n" + Base64Encode(std::string(31, 'r')) + "\n",  // short hash
      "o\n1\n" + root.substr(0, 43) + "\n",  // not canonical base64
  };
  for (const std::string& b : bad) {
    CAPTURE(b);
    CHECK_FALSE(ParseCheckpointBody(b).ok());
  }
  CHECK(ParseCheckpointBody("o\n18446744073709551615\n" + root + "\n")->size ==
        18446744073709551615ull);
}

TEST_CASE("10,000 generated checkpoints round-trip through sign, format, parse and open") {
  const NoteSigner signer = TestSigner();
  const NoteVerifier verifier = signer.Verifier();
  std::mt19937_64 rng(5);
  for (int i = 0; i < 10000; ++i) {
    Hash root{};
    for (auto& b : root) b = static_cast<std::uint8_t>(rng());
    const Checkpoint cp{"enclave.lv.example/log", rng() >> (rng() % 64), root};
    const std::string note = *SignCheckpoint(cp, signer);
    const Note parsed = *ParseNote(note);
    if (FormatNote(parsed) != note || !(*OpenCheckpoint(note, verifier, cp.origin) == cp)) {
      FAIL("round trip " << i);
    }
  }
}

}  // namespace
}  // namespace enclave::audit
