// The one HMAC-SHA256 of the code base, and the record keys of the cell key method
// (disclosure-control.md §5.1, §5.7). The pseudonyms of BSNs (pseudonymiser.h) use it too.
//
// OpenSSL stays behind this header. The EVP_MAC "HMAC" implementation is fetched once per process
// (security.md §8 item 15); a KeyedHmacSha256 keys one HMAC context at construction, so a MAC
// costs one SHA-256 over the message and no key schedule.
//
//   crypto::RecordKeyer keyer(secret);
//   std::uint32_t rk = keyer.RecordKey("person", pseudonym);   // rk / 2^32 in [0, 1)
#pragma once

#include <array>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>

#include "enclave/crypto/secret.h"

namespace enclave::crypto {

// One-shot HMAC-SHA256 (known-answer tests, RFC 4231). Aborts (fail closed) if OpenSSL fails.
std::array<std::uint8_t, 32> HmacSha256(std::span<const std::uint8_t> key, std::string_view data);

// HMAC-SHA256 under one key, keyed once. Aborts (fail closed) if OpenSSL fails.
class KeyedHmacSha256 {
 public:
  // REQUIRES: key non-empty.
  explicit KeyedHmacSha256(std::span<const std::uint8_t> key);
  ~KeyedHmacSha256();
  KeyedHmacSha256(const KeyedHmacSha256&) = delete;
  KeyedHmacSha256& operator=(const KeyedHmacSha256&) = delete;

  // Another instance with the same key (for another thread); the key is not copied out of
  // OpenSSL's context.
  std::unique_ptr<KeyedHmacSha256> Clone() const;

  // HMAC(K, a || b) on a fresh copy of the keyed context. Thread-safe.
  std::array<std::uint8_t, 32> Mac(std::string_view a, std::string_view b = {}) const;

  // HMAC(K, data) on one reused working context, re-initialised per call (half the cost of
  // Mac). Not thread-safe: one instance per thread.
  std::array<std::uint8_t, 32> MacReusing(std::string_view data);

 private:
  struct Impl;
  explicit KeyedHmacSha256(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

// Keyed PRF for record keys. Thread-safe: all methods are const and may run concurrently.
// Construction aborts (fail closed) if OpenSSL cannot provide HMAC-SHA256.
class RecordKeyer {
 public:
  explicit RecordKeyer(const Secret& key);
  ~RecordKeyer();
  RecordKeyer(const RecordKeyer&) = delete;
  RecordKeyer& operator=(const RecordKeyer&) = delete;

  // rk = first 32 bits (big-endian) of HMAC-SHA256(K, unit_type || 0x00 || pseudonym).
  // REQUIRES: unit_type is non-empty and contains no 0x00 byte (checked; it is a program constant,
  // never user input), so the encoding is injective and disjoint from MagnitudeKey's.
  std::uint32_t RecordKey(std::string_view unit_type, std::string_view pseudonym) const;

  // Key of the j-th largest contribution's noise for `variable` in a cell with key `cell_key`
  // (§5.7): first 32 bits of HMAC-SHA256(K, 0x00 || variable || 0x00 || j (4 bytes BE) ||
  // cell_key (4 bytes BE)). The leading 0x00 separates it from every record key.
  // REQUIRES: variable contains no 0x00 byte (checked).
  std::uint32_t MagnitudeKey(std::string_view variable, std::uint32_t j,
                             std::uint32_t cell_key) const;

  // A public identifier of the key, for the query log and release metadata ("record-key
  // version"): "rk-" + 16 hex digits of HMAC-SHA256(K, "enclave record-key id/1"). Reveals nothing
  // about K; differs between keys, so a rotated key shows up in every later log entry.
  const std::string& KeyId() const { return key_id_; }

 private:
  KeyedHmacSha256 mac_;
  std::string key_id_;
};

}  // namespace enclave::crypto
