#include "enclave/disclosure/differencing.h"

#include <algorithm>
#include <bit>
#include <limits>
#include <map>
#include <mutex>
#include <optional>
#include <array>
#include <cstring>
#include <utility>

#include "absl/container/flat_hash_map.h"
#include "enclave/base/check.h"

namespace enclave::disclosure {
namespace {

constexpr char kDelta = 0x01;
constexpr char kBitmap = 0x02;

void PutVarint(std::string& out, std::uint64_t v) {
  while (v >= 0x80) {
    out.push_back(static_cast<char>((v & 0x7f) | 0x80));
    v >>= 7;
  }
  out.push_back(static_cast<char>(v));
}

// Reads a LEB128 varint of at most 5 bytes (values < 2^35); false if truncated or too long.
bool GetVarint(std::string_view& in, std::uint64_t* v) {
  std::uint64_t result = 0;
  for (int i = 0; i < 5; ++i) {
    if (in.empty()) return false;
    const auto byte = static_cast<std::uint8_t>(in.front());
    in.remove_prefix(1);
    result |= static_cast<std::uint64_t>(byte & 0x7f) << (7 * i);
    if ((byte & 0x80) == 0) {
      *v = result;
      return true;
    }
  }
  return false;
}

std::string EncodeDelta(std::span<const std::uint32_t> u) {
  std::string out(1, kDelta);
  PutVarint(out, u.size());
  for (std::size_t i = 0; i < u.size(); ++i) {
    PutVarint(out, i == 0 ? u[0] : u[i] - u[i - 1] - 1);
  }
  return out;
}

std::string EncodeBitmap(std::span<const std::uint32_t> u) {
  std::string out(1, kBitmap);
  PutVarint(out, u.size());
  const std::uint64_t first = u.front();
  const std::uint64_t nbits = std::uint64_t{u.back()} - first + 1;
  PutVarint(out, first);
  PutVarint(out, nbits);
  const std::size_t header = out.size();
  out.resize(header + static_cast<std::size_t>((nbits + 7) / 8), '\0');
  for (std::uint32_t x : u) {
    const std::uint64_t bit = x - first;
    out[header + static_cast<std::size_t>(bit / 8)] =
        static_cast<char>(static_cast<std::uint8_t>(out[header + static_cast<std::size_t>(bit / 8)]) |
                          (1U << (bit % 8)));
  }
  return out;
}

absl::Status Corrupt(std::string_view what) {
  return absl::DataLossError("release history: a stored population is corrupt (" +
                             std::string(what) + ")");
}

}  // namespace

Population Population::FromIndices(std::vector<std::uint32_t> indices) {
  std::sort(indices.begin(), indices.end());
  indices.erase(std::unique(indices.begin(), indices.end()), indices.end());
  Population p;
  p.units_ = std::move(indices);
  return p;
}

Population Population::FromSorted(std::vector<std::uint32_t> sorted) {
  for (std::size_t i = 1; i < sorted.size(); ++i) ENCLAVE_CHECK(sorted[i - 1] < sorted[i]);
  Population p;
  p.units_ = std::move(sorted);
  return p;
}

std::uint64_t SymmetricDifferenceSize(const Population& a, const Population& b,
                                      std::uint64_t limit) {
  const std::span<const std::uint32_t> x = a.units();
  const std::span<const std::uint32_t> y = b.units();
  const std::uint64_t size_gap = x.size() > y.size() ? x.size() - y.size() : y.size() - x.size();
  if (size_gap >= limit) return size_gap;
  std::uint64_t diff = 0;
  std::size_t i = 0;
  std::size_t j = 0;
  while (i < x.size() && j < y.size()) {
    if (x[i] == y[j]) {
      ++i;
      ++j;
      continue;
    }
    if (x[i] < y[j]) {
      ++i;
    } else {
      ++j;
    }
    if (++diff >= limit) return diff;
  }
  diff += (x.size() - i) + (y.size() - j);
  return diff;
}

std::string EncodePopulation(const Population& population) {
  const std::span<const std::uint32_t> u = population.units();
  std::string delta = EncodeDelta(u);
  if (u.empty()) return delta;
  // The bitmap's size is known without building it: compare first.
  const std::uint64_t nbits = std::uint64_t{u.back()} - u.front() + 1;
  std::string header(1, kBitmap);
  PutVarint(header, u.size());
  PutVarint(header, u.front());
  PutVarint(header, nbits);
  if (header.size() + (nbits + 7) / 8 < delta.size()) return EncodeBitmap(u);
  return delta;
}

absl::StatusOr<Population> DecodePopulation(std::string_view bytes) {
  const std::string_view original = bytes;
  if (bytes.empty()) return Corrupt("empty");
  const char kind = bytes.front();
  bytes.remove_prefix(1);
  std::uint64_t count = 0;
  if (!GetVarint(bytes, &count)) return Corrupt("bad count");
  std::vector<std::uint32_t> units;
  if (kind == kDelta) {
    if (count > bytes.size()) return Corrupt("count beyond the data");
    units.reserve(static_cast<std::size_t>(count));
    std::uint64_t prev = 0;
    for (std::uint64_t i = 0; i < count; ++i) {
      std::uint64_t v = 0;
      if (!GetVarint(bytes, &v)) return Corrupt("truncated");
      const std::uint64_t x = i == 0 ? v : prev + v + 1;
      if (x > std::numeric_limits<std::uint32_t>::max()) return Corrupt("index out of range");
      units.push_back(static_cast<std::uint32_t>(x));
      prev = x;
    }
  } else if (kind == kBitmap) {
    std::uint64_t first = 0;
    std::uint64_t nbits = 0;
    if (!GetVarint(bytes, &first) || !GetVarint(bytes, &nbits)) return Corrupt("bad header");
    if (nbits == 0 || (nbits + 7) / 8 != bytes.size() || count > nbits ||
        first + nbits - 1 > std::numeric_limits<std::uint32_t>::max()) {
      return Corrupt("bad bitmap size");
    }
    units.reserve(static_cast<std::size_t>(count));
    for (std::uint64_t bit = 0; bit < nbits; ++bit) {
      const auto byte = static_cast<unsigned>(static_cast<unsigned char>(bytes[static_cast<std::size_t>(bit / 8)]));
      if (((byte >> (bit % 8)) & 1U) != 0U) {
        units.push_back(static_cast<std::uint32_t>(first + bit));
      }
    }
    if (units.size() != count) return Corrupt("bitmap count mismatch");
    bytes = std::string_view();
  } else {
    return Corrupt("unknown kind");
  }
  if (!bytes.empty()) return Corrupt("trailing bytes");
  Population p = Population::FromSorted(std::move(units));
  // Canonical form only: exactly what EncodePopulation gives (shorter form, no overlong varints,
  // no stray padding bits).
  if (EncodePopulation(p) != original) return Corrupt("not canonical");
  return p;
}

// ---------------------------------------------------------------------------------------------

namespace {

// A fixed bijection of 32-bit unit indices (lowbias32, C. Wellons): the global order in which a
// population's "first" units are taken for the prefix filter. Any fixed order is correct; a
// mixing one spreads the prefixes over the units, so that no unit's posting list grows with
// every population that contains it.
std::uint32_t Mix(std::uint32_t x) {
  x ^= x >> 16;
  x *= 0x7feb352dU;
  x ^= x >> 15;
  x *= 0x846ca68bU;
  x ^= x >> 16;
  return x;
}

std::uint64_t Fold(std::uint64_t h, std::uint64_t v, std::uint64_t k) {
  h ^= v + k + (h << 6) + (h >> 2);
  h *= 0xbf58476d1ce4e5b9ULL;
  return h ^ (h >> 31);
}

// The units of `p` that come first in Mix order, at most `k` of them (all when p is smaller).
std::vector<std::uint32_t> Prefix(const Population& p, std::size_t k) {
  // (mix, unit) max-heap of the k smallest mixes seen so far.
  std::vector<std::pair<std::uint32_t, std::uint32_t>> heap;
  heap.reserve(k + 1);
  for (std::uint32_t u : p.units()) {
    const std::uint32_t m = Mix(u);
    if (heap.size() < k) {
      heap.emplace_back(m, u);
      std::push_heap(heap.begin(), heap.end());
    } else if (m < heap.front().first) {
      std::pop_heap(heap.begin(), heap.end());
      heap.back() = {m, u};
      std::push_heap(heap.begin(), heap.end());
    }
  }
  std::vector<std::uint32_t> out;
  out.reserve(heap.size());
  for (const auto& [m, u] : heap) out.push_back(u);
  return out;
}

std::string Hex16(std::uint64_t v) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string out(16, '0');
  for (int i = 15; i >= 0; --i) {
    out[static_cast<std::size_t>(i)] = kDigits[v & 0xf];
    v >>= 4;
  }
  return out;
}

}  // namespace

std::string PopulationDigest::Hex() const { return Hex16(hi) + Hex16(lo); }

absl::StatusOr<PopulationDigest> PopulationDigest::FromHex(std::string_view hex) {
  if (hex.size() != 32) return Corrupt("bad population digest");
  PopulationDigest d;
  for (std::size_t i = 0; i < 32; ++i) {
    const char c = hex[i];
    std::uint64_t v = 0;
    if (c >= '0' && c <= '9') {
      v = static_cast<std::uint64_t>(c - '0');
    } else if (c >= 'a' && c <= 'f') {
      v = static_cast<std::uint64_t>(c - 'a' + 10);
    } else {
      return Corrupt("bad population digest");
    }
    std::uint64_t& half = i < 16 ? d.hi : d.lo;
    half = (half << 4) | v;
  }
  return d;
}

PopulationDigest DigestOf(const Population& population) {
  PopulationDigest d{0x6a09e667f3bcc908ULL ^ population.size(),
                     0xbb67ae8584caa73bULL ^ (population.size() * 0x9e3779b97f4a7c15ULL)};
  for (std::uint32_t u : population.units()) {
    d.hi = Fold(d.hi, u, 0x9e3779b97f4a7c15ULL);
    d.lo = Fold(d.lo, Mix(u), 0xc2b2ae3d27d4eb4fULL);
  }
  return d;
}

struct DifferencingGuard::Impl {
  // The prefix length and size-bucket width of the index: the largest T the guard serves.
  explicit Impl(std::size_t prefix) : kPrefix(prefix) {}
  const std::size_t kPrefix;

  struct Bucket {
    std::vector<std::string> encodings;  // by population id
    std::vector<std::uint32_t> sizes;    // by population id
    absl::flat_hash_map<std::pair<std::uint64_t, std::uint64_t>, std::uint32_t> by_digest;
    // Prefix index: (unit << 32 | size / kPrefix) -> first posting; postings chain by `next`.
    struct Posting {
      std::uint32_t id = 0;
      std::uint32_t next = 0;  // index + 1 into postings; 0 ends the chain
    };
    absl::flat_hash_map<std::uint64_t, std::uint32_t> heads;
    std::vector<Posting> postings;
    // Decomposition quota: population digest -> its partitions seen (sorted).
    absl::flat_hash_map<std::pair<std::uint64_t, std::uint64_t>, std::vector<std::string>>
        partitions;
  };

  mutable std::mutex mu;
  std::map<GuardKey, Bucket> buckets;

  static std::pair<std::uint64_t, std::uint64_t> Key(const PopulationDigest& d) {
    return {d.hi, d.lo};
  }
  std::uint64_t PostingKey(std::uint32_t unit, std::uint64_t size) const {
    return (static_cast<std::uint64_t>(unit) << 32) | (size / kPrefix);
  }

  // The stored population equal to `p` (same digest and encoding), if any.
  static std::optional<std::uint32_t> Find(const Bucket& b, const Population& p,
                                           const PopulationDigest& d, const std::string* encoding) {
    auto it = b.by_digest.find(Key(d));
    if (it == b.by_digest.end()) return std::nullopt;
    const std::string e = encoding != nullptr ? *encoding : EncodePopulation(p);
    if (b.encodings[it->second] != e) return std::nullopt;  // a digest collision: not equal
    return it->second;
  }

  // True when a stored population differs from `p` by 1..t-1 units.
  bool TooClose(const Bucket& b, const Population& p, std::uint64_t t) {
    const std::uint64_t n = p.size();
    const std::uint64_t lo = n >= t ? n - t + 1 : 0;
    const std::uint64_t hi = n + t - 1;
    std::vector<std::uint32_t> seen;
    for (std::uint32_t u : Prefix(p, static_cast<std::size_t>(t))) {
      for (std::uint64_t bucket = lo / kPrefix; bucket <= hi / kPrefix; ++bucket) {
        auto head = b.heads.find((static_cast<std::uint64_t>(u) << 32) | bucket);
        if (head == b.heads.end()) continue;
        for (std::uint32_t at = head->second; at != 0; at = b.postings[at - 1].next) {
          const std::uint32_t id = b.postings[at - 1].id;
          const std::uint64_t size = b.sizes[id];
          if (size < lo || size > hi) continue;
          if (std::find(seen.begin(), seen.end(), id) != seen.end()) continue;
          seen.push_back(id);
          absl::StatusOr<Population> q = DecodePopulation(b.encodings[id]);
          ENCLAVE_CHECK(q.ok());  // encoded by us, held in memory
          const std::uint64_t d = SymmetricDifferenceSize(p, *q, t);
          if (d > 0 && d < t) return true;
        }
      }
    }
    return false;
  }

  void Add(Bucket& b, const Population& p, const PopulationDigest& d, std::string encoding,
                  std::vector<std::string>* added) {
    const auto id = static_cast<std::uint32_t>(b.encodings.size());
    b.by_digest.emplace(Key(d), id);  // keeps the first on a digest collision
    b.sizes.push_back(static_cast<std::uint32_t>(p.size()));
    for (std::uint32_t u : Prefix(p, kPrefix)) {
      std::uint32_t& head = b.heads[PostingKey(u, p.size())];
      b.postings.push_back({id, head});
      head = static_cast<std::uint32_t>(b.postings.size());
    }
    if (added != nullptr) added->push_back(encoding);
    b.encodings.push_back(std::move(encoding));
  }

  static bool AddPartition(Bucket& b, const PopulationDigest& d, const std::string& partition) {
    std::vector<std::string>& seen = b.partitions[Key(d)];
    auto at = std::lower_bound(seen.begin(), seen.end(), partition);
    if (at != seen.end() && *at == partition) return false;
    seen.insert(at, partition);
    return true;
  }
};

DifferencingGuard::DifferencingGuard(std::uint64_t max_min_units)
    : impl_(std::make_unique<Impl>(static_cast<std::size_t>(std::max<std::uint64_t>(max_min_units, 1)))) {}
DifferencingGuard::~DifferencingGuard() = default;

std::string DifferencingGuard::DifferencingRefusal(std::uint64_t min_units) {
  return "this table shows a population that differs from one the enclave has released before "
         "(to anyone) by fewer than " +
         std::to_string(min_units) +
         " units, so together they would describe fewer than " + std::to_string(min_units) +
         " units; choose a coarser geography, fewer breakdowns or another period";
}

std::string DifferencingGuard::QuotaRefusal(std::uint32_t max_partitions) {
  return "a population in this table has already been broken down in the " +
         std::to_string(max_partitions) +
         " different ways the decomposition quota allows (disclosure-control.md §6.2); use a "
         "breakdown released before, or ask the privacy officer to approve more for this template";
}

absl::Status DifferencingGuard::CheckAndRecord(const GuardKey& key,
                                               std::span<const GuardedPopulation> populations,
                                               const GuardLimits& limits, GuardRecord* added) {
  if (limits.min_units < 1 || limits.min_units > impl_->kPrefix) {
    return absl::InternalError("the differencing guard serves thresholds from 1 to " +
                               std::to_string(impl_->kPrefix) + " units");
  }
  // Outside the lock: digests and encodings of this release's populations.
  std::vector<PopulationDigest> digests;
  std::vector<std::string> encodings;
  digests.reserve(populations.size());
  encodings.reserve(populations.size());
  for (const GuardedPopulation& g : populations) {
    digests.push_back(DigestOf(g.units));
    encodings.push_back(EncodePopulation(g.units));
  }

  std::lock_guard<std::mutex> lock(impl_->mu);
  Impl::Bucket& bucket = impl_->buckets[key];
  // 1. The guard: every population new to the history differs from each kept one by 0 or >= T.
  std::vector<bool> known(populations.size(), false);
  for (std::size_t i = 0; i < populations.size(); ++i) {
    known[i] = Impl::Find(bucket, populations[i].units, digests[i], &encodings[i]).has_value();
    if (known[i]) continue;
    if (impl_->TooClose(bucket, populations[i].units, limits.min_units)) {
      return absl::FailedPreconditionError(DifferencingRefusal(limits.min_units));
    }
  }
  // 2. The decomposition quota: the partitions each population would then have.
  std::vector<std::pair<PopulationDigest, std::string>> new_partitions;
  if (limits.max_partitions > 0) {
    std::map<std::pair<std::uint64_t, std::uint64_t>, std::vector<std::string>> fresh;
    for (std::size_t i = 0; i < populations.size(); ++i) {
      const auto k = Impl::Key(digests[i]);
      auto seen = bucket.partitions.find(k);
      for (const std::string& part : populations[i].partitions) {
        if (seen != bucket.partitions.end() &&
            std::binary_search(seen->second.begin(), seen->second.end(), part)) {
          continue;
        }
        std::vector<std::string>& f = fresh[k];
        if (std::find(f.begin(), f.end(), part) != f.end()) continue;
        f.push_back(part);
        new_partitions.emplace_back(digests[i], part);
        const std::size_t total = f.size() + (seen != bucket.partitions.end() ? seen->second.size() : 0);
        if (total > limits.max_partitions) {
          return absl::FailedPreconditionError(QuotaRefusal(limits.max_partitions));
        }
      }
    }
  } else {
    for (std::size_t i = 0; i < populations.size(); ++i) {
      for (const std::string& part : populations[i].partitions) {
        new_partitions.emplace_back(digests[i], part);
      }
    }
  }
  // 3. Record both.
  GuardRecord record;
  for (std::size_t i = 0; i < populations.size(); ++i) {
    if (known[i] || Impl::Find(bucket, populations[i].units, digests[i], &encodings[i])) continue;
    impl_->Add(bucket, populations[i].units, digests[i], std::move(encodings[i]), &record.populations);
  }
  for (auto& [digest, part] : new_partitions) {
    if (Impl::AddPartition(bucket, digest, part)) record.partitions.emplace_back(digest, std::move(part));
  }
  if (added != nullptr) *added = std::move(record);
  return absl::OkStatus();
}

absl::Status DifferencingGuard::Restore(
    const GuardKey& key, std::span<const std::string> populations,
    std::span<const std::pair<PopulationDigest, std::string>> partitions) {
  std::vector<Population> decoded;
  decoded.reserve(populations.size());
  for (const std::string& e : populations) {
    absl::StatusOr<Population> p = DecodePopulation(e);
    if (!p.ok()) return p.status();
    decoded.push_back(*std::move(p));
  }
  std::lock_guard<std::mutex> lock(impl_->mu);
  Impl::Bucket& bucket = impl_->buckets[key];
  for (std::size_t i = 0; i < decoded.size(); ++i) {
    const PopulationDigest d = DigestOf(decoded[i]);
    if (Impl::Find(bucket, decoded[i], d, &populations[i])) continue;
    impl_->Add(bucket, decoded[i], d, populations[i], nullptr);
  }
  for (const auto& [digest, part] : partitions) Impl::AddPartition(bucket, digest, part);
  return absl::OkStatus();
}

std::size_t DifferencingGuard::RecordedCount(const GuardKey& key) const {
  std::lock_guard<std::mutex> lock(impl_->mu);
  auto it = impl_->buckets.find(key);
  return it == impl_->buckets.end() ? 0 : it->second.encodings.size();
}

std::size_t DifferencingGuard::PartitionsOf(const GuardKey& key, const Population& population) const {
  const PopulationDigest d = DigestOf(population);
  std::lock_guard<std::mutex> lock(impl_->mu);
  auto it = impl_->buckets.find(key);
  if (it == impl_->buckets.end()) return 0;
  auto p = it->second.partitions.find(Impl::Key(d));
  return p == it->second.partitions.end() ? 0 : p->second.size();
}

}  // namespace enclave::disclosure
