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

std::size_t VarintSize(std::uint64_t v) {
  std::size_t n = 1;
  while (v >= 0x80) {
    v >>= 7;
    ++n;
  }
  return n;
}

// Writes v at p (room for 10 bytes); returns the end.
char* PutVarint(char* p, std::uint64_t v) {
  while (v >= 0x80) {
    *p++ = static_cast<char>((v & 0x7f) | 0x80);
    v >>= 7;
  }
  *p++ = static_cast<char>(v);
  return p;
}

void PutVarint(std::string& out, std::uint64_t v) {
  char buf[10];
  out.append(buf, static_cast<std::size_t>(PutVarint(buf, v) - buf));
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

// The same, refusing an overlong form (a last byte of 0 after the first): the canonical one.
bool GetCanonicalVarint(std::string_view& in, std::uint64_t* v) {
  const std::size_t before = in.size();
  if (!GetVarint(in, v)) return false;
  return before - in.size() == VarintSize(*v);
}

std::size_t DeltaSize(std::span<const std::uint32_t> u) {
  std::size_t n = 1 + VarintSize(u.size());
  for (std::size_t i = 0; i < u.size(); ++i) n += VarintSize(i == 0 ? u[0] : u[i] - u[i - 1] - 1);
  return n;
}

std::size_t BitmapSize(std::uint64_t count, std::uint64_t first, std::uint64_t nbits) {
  return 1 + VarintSize(count) + VarintSize(first) + VarintSize(nbits) +
         static_cast<std::size_t>((nbits + 7) / 8);
}

std::string EncodeDelta(std::span<const std::uint32_t> u, std::size_t size) {
  std::string out(size, '\0');
  char* p = out.data();
  *p++ = kDelta;
  p = PutVarint(p, u.size());
  for (std::size_t i = 0; i < u.size(); ++i) p = PutVarint(p, i == 0 ? u[0] : u[i] - u[i - 1] - 1);
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
  auto* bits = reinterpret_cast<unsigned char*>(out.data() + header);
  for (std::uint32_t x : u) {
    const std::uint64_t bit = x - first;
    bits[bit / 8] = static_cast<unsigned char>(bits[bit / 8] | (1U << (bit % 8)));
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
  const std::size_t delta = DeltaSize(u);
  if (!u.empty()) {
    const std::uint64_t nbits = std::uint64_t{u.back()} - u.front() + 1;
    if (BitmapSize(u.size(), u.front(), nbits) < delta) return EncodeBitmap(u);
  }
  return EncodeDelta(u, delta);
}

// Decodes and checks, in one pass, that the bytes are exactly what EncodePopulation gives for
// the population: minimal varints, the shorter form, a tight bitmap with no stray bits.
absl::StatusOr<Population> DecodePopulation(std::string_view bytes) {
  if (bytes.empty()) return Corrupt("empty");
  const std::size_t total = bytes.size();
  const char kind = bytes.front();
  bytes.remove_prefix(1);
  std::uint64_t count = 0;
  if (!GetCanonicalVarint(bytes, &count)) return Corrupt("bad count");
  std::vector<std::uint32_t> units;
  if (kind == kDelta) {
    if (count > bytes.size()) return Corrupt("count beyond the data");
    units.reserve(static_cast<std::size_t>(count));
    std::uint64_t prev = 0;
    for (std::uint64_t i = 0; i < count; ++i) {
      std::uint64_t v = 0;
      if (!GetCanonicalVarint(bytes, &v)) return Corrupt("truncated or overlong");
      const std::uint64_t x = i == 0 ? v : prev + v + 1;
      if (x > std::numeric_limits<std::uint32_t>::max()) return Corrupt("index out of range");
      units.push_back(static_cast<std::uint32_t>(x));
      prev = x;
    }
    if (!bytes.empty()) return Corrupt("trailing bytes");
    // The bitmap would not have been shorter.
    if (count > 0 &&
        BitmapSize(count, units.front(), std::uint64_t{units.back()} - units.front() + 1) < total) {
      return Corrupt("not canonical");
    }
  } else if (kind == kBitmap) {
    std::uint64_t first = 0;
    std::uint64_t nbits = 0;
    if (!GetCanonicalVarint(bytes, &first) || !GetCanonicalVarint(bytes, &nbits)) {
      return Corrupt("bad header");
    }
    if (nbits == 0 || (nbits + 7) / 8 != bytes.size() || count > nbits ||
        first + nbits - 1 > std::numeric_limits<std::uint32_t>::max()) {
      return Corrupt("bad bitmap size");
    }
    units.reserve(static_cast<std::size_t>(count));
    const auto* bits = reinterpret_cast<const unsigned char*>(bytes.data());
    for (std::size_t byte = 0; byte < bytes.size(); ++byte) {
      unsigned b = bits[byte];
      while (b != 0) {
        const std::uint64_t bit = byte * 8 + static_cast<std::uint64_t>(std::countr_zero(b));
        b &= b - 1;
        if (bit >= nbits) return Corrupt("stray padding bits");
        units.push_back(static_cast<std::uint32_t>(first + bit));
      }
    }
    if (units.size() != count || units.empty()) return Corrupt("bitmap count mismatch");
    // Tight (first and last bits set) and shorter than the delta form.
    if (units.front() != first || units.back() != first + nbits - 1 ||
        DeltaSize(units) <= total) {
      return Corrupt("not canonical");
    }
  } else {
    return Corrupt("unknown kind");
  }
  return Population::FromSorted(std::move(units));
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

// One pass over a population: its 128-bit digest and its `k` first units in Mix order (the
// prefix of the index), sorted by Mix.
struct Fingerprint {
  PopulationDigest digest;
  std::vector<std::uint32_t> prefix;
};

Fingerprint Fingerprints(const Population& p, std::size_t k) {
  std::uint64_t hi = 0x6a09e667f3bcc908ULL ^ p.size();
  std::uint64_t lo = 0xbb67ae8584caa73bULL ^ (p.size() * 0x9e3779b97f4a7c15ULL);
  // (mix, unit) max-heap of the k smallest mixes seen so far.
  std::vector<std::pair<std::uint32_t, std::uint32_t>> heap;
  heap.reserve(k + 1);
  for (std::uint32_t u : p.units()) {
    const std::uint32_t m = Mix(u);
    hi = (hi ^ u) * 0x9e3779b97f4a7c15ULL;
    hi ^= hi >> 29;
    lo = (lo ^ m) * 0xc2b2ae3d27d4eb4fULL;
    lo ^= lo >> 31;
    if (k == 0) continue;
    if (heap.size() < k) {
      heap.emplace_back(m, u);
      std::push_heap(heap.begin(), heap.end());
    } else if (m < heap.front().first) {
      std::pop_heap(heap.begin(), heap.end());
      heap.back() = {m, u};
      std::push_heap(heap.begin(), heap.end());
    }
  }
  std::sort_heap(heap.begin(), heap.end());
  Fingerprint f;
  f.digest = {hi * 0xbf58476d1ce4e5b9ULL ^ (hi >> 32), lo * 0x94d049bb133111ebULL ^ (lo >> 32)};
  f.prefix.reserve(heap.size());
  for (const auto& [m, u] : heap) f.prefix.push_back(u);
  return f;
}

// The units of an encoding made by EncodePopulation (held in memory: trusted), one at a time.
class EncodedUnits {
 public:
  explicit EncodedUnits(std::string_view e) : in_(e) {
    kind_ = in_.front();
    in_.remove_prefix(1);
    std::uint64_t v = 0;
    GetVarint(in_, &v);
    left_ = v;
    if (kind_ == kBitmap && left_ > 0) {
      GetVarint(in_, &v);
      first_ = v;
      GetVarint(in_, &v);  // bit length
      byte_ = 0;
      bits_ = static_cast<unsigned char>(in_[0]);
    }
  }
  std::uint64_t left() const { return left_; }
  // REQUIRES: left() > 0.
  std::uint32_t Next() {
    --left_;
    if (kind_ == kDelta) {
      std::uint64_t v = 0;
      GetVarint(in_, &v);
      prev_ = started_ ? prev_ + v + 1 : v;
      started_ = true;
      return static_cast<std::uint32_t>(prev_);
    }
    while (bits_ == 0) bits_ = static_cast<unsigned char>(in_[++byte_]);
    const int bit = std::countr_zero(static_cast<unsigned>(bits_));
    bits_ = static_cast<unsigned char>(bits_ & (bits_ - 1));
    return static_cast<std::uint32_t>(first_ + byte_ * 8 + static_cast<std::uint64_t>(bit));
  }

 private:
  std::string_view in_;
  char kind_ = 0;
  std::uint64_t left_ = 0;
  std::uint64_t prev_ = 0;
  bool started_ = false;
  std::uint64_t first_ = 0;
  std::size_t byte_ = 0;
  unsigned char bits_ = 0;
};

// |p Δ q| for q given by its encoding, exact below `limit` (SymmetricDifferenceSize's contract).
std::uint64_t SymmetricDifferenceToEncoded(const Population& p, std::string_view q_encoding,
                                           std::uint64_t q_size, std::uint64_t limit) {
  const std::span<const std::uint32_t> x = p.units();
  const std::uint64_t size_gap = x.size() > q_size ? x.size() - q_size : q_size - x.size();
  if (size_gap >= limit) return size_gap;
  EncodedUnits y(q_encoding);
  std::uint64_t diff = 0;
  std::size_t i = 0;
  bool have = y.left() > 0;
  std::uint32_t yv = have ? y.Next() : 0;
  while (i < x.size() && have) {
    if (x[i] == yv) {
      ++i;
      have = y.left() > 0;
      if (have) yv = y.Next();
      continue;
    }
    if (x[i] < yv) {
      ++i;
    } else {
      have = y.left() > 0;
      if (have) yv = y.Next();
    }
    if (++diff >= limit) return diff;
  }
  diff += (x.size() - i) + (have ? 1 + y.left() : 0);
  return diff;
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
  return Fingerprints(population, 0).digest;
}

struct DifferencingGuard::Impl {
  // Width of the size buckets of the prefix index.
  static constexpr std::uint64_t kBucket = 16;

  struct Bucket {
    std::vector<std::string> encodings;  // by population id
    std::vector<std::uint32_t> sizes;    // by population id
    std::vector<std::uint32_t> t;        // by population id: its T, the prefix length indexed
    // Populations are identified by their 128-bit digest (the units come from the store, not
    // from callers: a collision is as likely as 2^-128 per pair).
    absl::flat_hash_map<std::pair<std::uint64_t, std::uint64_t>, std::uint32_t> by_digest;
    // Prefix index: (unit << 32 | size / kBucket) -> first posting; postings chain by `next`.
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

  // True when a kept population Q differs from `p` by 1..min(t, T_Q)-1 units. `f.prefix` holds
  // p's first t units in Mix order (the probe); Q is indexed under its first T_Q units, and both
  // are at least the pair's threshold, so the prefix filter misses no such Q.
  static bool TooClose(const Bucket& b, const Population& p, const Fingerprint& f,
                       std::uint64_t t) {
    const std::uint64_t n = p.size();
    const std::uint64_t lo = n >= t ? n - t + 1 : 0;
    const std::uint64_t hi = n + t - 1;
    std::vector<std::uint32_t> seen;
    for (std::uint32_t u : f.prefix) {
      for (std::uint64_t bucket = lo / kBucket; bucket <= hi / kBucket; ++bucket) {
        auto head = b.heads.find((static_cast<std::uint64_t>(u) << 32) | bucket);
        if (head == b.heads.end()) continue;
        for (std::uint32_t at = head->second; at != 0; at = b.postings[at - 1].next) {
          const std::uint32_t id = b.postings[at - 1].id;
          const std::uint64_t pair_t = std::min<std::uint64_t>(t, b.t[id]);
          const std::uint64_t size = b.sizes[id];
          if (size + pair_t <= n || n + pair_t <= size) continue;  // sizes alone differ by >= T
          if (std::find(seen.begin(), seen.end(), id) != seen.end()) continue;
          seen.push_back(id);
          const std::uint64_t d = SymmetricDifferenceToEncoded(p, b.encodings[id], size, pair_t);
          if (d > 0 && d < pair_t) return true;
        }
      }
    }
    return false;
  }

  static void Index(Bucket& b, std::uint32_t id, std::span<const std::uint32_t> units,
                    std::uint64_t size) {
    for (std::uint32_t u : units) {
      std::uint32_t& head = b.heads[(static_cast<std::uint64_t>(u) << 32) | (size / kBucket)];
      b.postings.push_back({id, head});
      head = static_cast<std::uint32_t>(b.postings.size());
    }
  }

  // Keeps `p` with threshold t (its fingerprint's prefix has at least t units), or raises the
  // threshold of the kept equal population. Returns true when something changed.
  static bool Keep(Bucket& b, const Population& p, const Fingerprint& f, std::uint32_t t,
                   const std::string* encoding) {
    auto known = b.by_digest.find(Key(f.digest));
    const std::span<const std::uint32_t> prefix(f.prefix.data(),
                                                std::min<std::size_t>(f.prefix.size(), t));
    if (known != b.by_digest.end()) {
      const std::uint32_t id = known->second;
      if (b.t[id] >= t) return false;
      if (prefix.size() > b.t[id]) Index(b, id, prefix.subspan(b.t[id]), b.sizes[id]);
      b.t[id] = t;
      return true;
    }
    const auto id = static_cast<std::uint32_t>(b.encodings.size());
    b.by_digest.emplace(Key(f.digest), id);
    b.sizes.push_back(static_cast<std::uint32_t>(p.size()));
    b.t.push_back(t);
    Index(b, id, prefix, p.size());
    b.encodings.push_back(encoding != nullptr ? *encoding : EncodePopulation(p));
    return true;
  }

  static bool AddPartition(Bucket& b, const PopulationDigest& d, const std::string& partition) {
    std::vector<std::string>& seen = b.partitions[Key(d)];
    auto at = std::lower_bound(seen.begin(), seen.end(), partition);
    if (at != seen.end() && *at == partition) return false;
    seen.insert(at, partition);
    return true;
  }
};

DifferencingGuard::DifferencingGuard() : impl_(std::make_unique<Impl>()) {}
DifferencingGuard::~DifferencingGuard() = default;

std::string DifferencingGuard::DifferencingRefusal(std::uint64_t min_units,
                                                   std::string_view noun) {
  const std::string n(noun);
  return "this table shows a population that differs from one the enclave has released before "
         "(to anyone) by fewer than " +
         std::to_string(min_units) + " " + n + ", so together they would describe fewer than " +
         std::to_string(min_units) + " " + n +
         "; choose a coarser geography, fewer breakdowns or another period";
}

absl::StatusOr<Population> EntityPopulation(std::vector<std::uint32_t> entities,
                                            const Population& units) {
  for (std::uint32_t e : entities) {
    if (e > kMaxEntityIndex) return absl::InternalError("too many entities for the differencing guard");
  }
  const PopulationDigest d = DigestOf(units);
  entities.push_back(kMaxEntityIndex + 1 + static_cast<std::uint32_t>((d.lo ^ d.hi) & kMaxEntityIndex));
  return Population::FromIndices(std::move(entities));
}

std::string DifferencingGuard::QuotaRefusal(std::uint32_t max_partitions) {
  return "a population in this table has already been broken down in the " +
         std::to_string(max_partitions) +
         " different ways the decomposition quota allows (disclosure-control.md §6.2); use a "
         "breakdown released before, or ask the privacy officer to approve more for this template";
}

absl::Status DifferencingGuard::CheckAndRecord(const GuardKey& key,
                                               std::span<const GuardedPopulation> populations,
                                               const GuardLimits& limits, GuardRecord* added,
                                               std::string_view entity_noun) {
  // Entity populations carry one identity element each: two of different units differ by 2 more
  // than their entities (EntityPopulation).
  const bool entities = !entity_noun.empty();
  if (limits.min_units < 1 ||
      limits.min_units + (entities ? kEntityIdentitySlack : 0) > kMaxMinUnits) {
    return absl::InternalError("the differencing guard serves thresholds from 1 to " +
                               std::to_string(kMaxMinUnits) + " units");
  }
  const auto t = static_cast<std::uint32_t>(limits.min_units +
                                            (entities ? kEntityIdentitySlack : 0));
  // Outside the lock: one pass over each population for its digest and its first T units.
  std::vector<Fingerprint> prints;
  prints.reserve(populations.size());
  for (const GuardedPopulation& g : populations) prints.push_back(Fingerprints(g.units, t));

  std::lock_guard<std::mutex> lock(impl_->mu);
  Impl::Bucket& bucket = impl_->buckets[key];
  // 1. The guard: every population new to the history differs from each kept one by 0 or >= T.
  for (std::size_t i = 0; i < populations.size(); ++i) {
    if (bucket.by_digest.contains(Impl::Key(prints[i].digest))) continue;
    if (Impl::TooClose(bucket, populations[i].units, prints[i], t)) {
      return absl::FailedPreconditionError(
          entities ? DifferencingRefusal(limits.min_units, entity_noun)
                   : DifferencingRefusal(limits.min_units));
    }
  }
  // 2. The decomposition quota: the partitions each population would then have.
  std::vector<std::pair<PopulationDigest, std::string>> new_partitions;
  std::map<std::pair<std::uint64_t, std::uint64_t>, std::vector<std::string>> fresh;
  for (std::size_t i = 0; i < populations.size(); ++i) {
    const auto k = Impl::Key(prints[i].digest);
    auto seen = bucket.partitions.find(k);
    for (const std::string& part : populations[i].partitions) {
      if (seen != bucket.partitions.end() &&
          std::binary_search(seen->second.begin(), seen->second.end(), part)) {
        continue;
      }
      std::vector<std::string>& f = fresh[k];
      if (std::find(f.begin(), f.end(), part) != f.end()) continue;
      f.push_back(part);
      new_partitions.emplace_back(prints[i].digest, part);
      const std::size_t total =
          f.size() + (seen != bucket.partitions.end() ? seen->second.size() : 0);
      if (limits.max_partitions > 0 && total > limits.max_partitions) {
        return absl::FailedPreconditionError(QuotaRefusal(limits.max_partitions));
      }
    }
  }
  // 3. Record both.
  GuardRecord record;
  for (std::size_t i = 0; i < populations.size(); ++i) {
    if (Impl::Keep(bucket, populations[i].units, prints[i], t, nullptr)) {
      const std::uint32_t id = bucket.by_digest.at(Impl::Key(prints[i].digest));
      record.populations.push_back({bucket.encodings[id], bucket.t[id]});
    }
  }
  for (auto& [digest, part] : new_partitions) {
    if (Impl::AddPartition(bucket, digest, part)) record.partitions.emplace_back(digest, std::move(part));
  }
  if (added != nullptr) *added = std::move(record);
  return absl::OkStatus();
}

absl::Status DifferencingGuard::Restore(
    const GuardKey& key, std::span<const KeptPopulation> populations,
    std::span<const std::pair<PopulationDigest, std::string>> partitions) {
  std::vector<Population> decoded;
  std::vector<Fingerprint> prints;
  decoded.reserve(populations.size());
  prints.reserve(populations.size());
  for (const KeptPopulation& k : populations) {
    if (k.min_units < 1 || k.min_units > kMaxMinUnits) return Corrupt("threshold out of range");
    absl::StatusOr<Population> p = DecodePopulation(k.encoding);
    if (!p.ok()) return p.status();
    prints.push_back(Fingerprints(*p, k.min_units));
    decoded.push_back(*std::move(p));
  }
  std::lock_guard<std::mutex> lock(impl_->mu);
  Impl::Bucket& bucket = impl_->buckets[key];
  for (std::size_t i = 0; i < decoded.size(); ++i) {
    Impl::Keep(bucket, decoded[i], prints[i], populations[i].min_units, &populations[i].encoding);
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
