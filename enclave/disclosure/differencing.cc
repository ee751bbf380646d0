#include "enclave/disclosure/differencing.h"

#include <algorithm>
#include <bit>
#include <limits>
#include <unordered_set>
#include <utility>

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

struct DifferencingGuard::Impl {
  struct Bucket {
    std::unordered_set<std::string> encodings;  // canonical: equal encoding == equal population
    std::multimap<std::size_t, const std::string*> by_size;
  };

  mutable std::mutex mu;
  std::map<GuardKey, Bucket> buckets;

  absl::Status CheckLocked(const GuardKey& key, std::span<const Population> populations,
                           std::uint64_t min_units) const {
    ENCLAVE_CHECK(min_units >= 1);
    auto it = buckets.find(key);
    if (it == buckets.end()) return absl::OkStatus();
    const Bucket& bucket = it->second;
    for (const Population& p : populations) {
      if (bucket.encodings.contains(EncodePopulation(p))) continue;  // already released
      const std::size_t n = p.size();
      const std::size_t lo = n >= min_units ? n - static_cast<std::size_t>(min_units) + 1 : 0;
      const std::size_t hi = n + static_cast<std::size_t>(min_units) - 1;
      for (auto s = bucket.by_size.lower_bound(lo); s != bucket.by_size.end() && s->first <= hi;
           ++s) {
        absl::StatusOr<Population> q = DecodePopulation(*s->second);
        ENCLAVE_CHECK(q.ok());  // encoded by us, held in memory
        const std::uint64_t d = SymmetricDifferenceSize(p, *q, min_units);
        if (d > 0 && d < min_units) {
          return absl::FailedPreconditionError(RefusalMessage(key.project, min_units));
        }
      }
    }
    return absl::OkStatus();
  }

  void Add(Bucket& bucket, std::string encoding, std::size_t size,
           std::vector<std::string>* added) {
    auto [pos, inserted] = bucket.encodings.insert(std::move(encoding));
    if (!inserted) return;
    bucket.by_size.emplace(size, &*pos);
    if (added != nullptr) added->push_back(*pos);
  }

  std::vector<std::string> RecordLocked(const GuardKey& key,
                                        std::span<const Population> populations) {
    std::vector<std::string> added;
    Bucket& bucket = buckets[key];
    for (const Population& p : populations) Add(bucket, EncodePopulation(p), p.size(), &added);
    return added;
  }
};

DifferencingGuard::DifferencingGuard() : impl_(std::make_unique<Impl>()) {}
DifferencingGuard::~DifferencingGuard() = default;

std::string DifferencingGuard::RefusalMessage(std::string_view project, std::uint64_t min_units) {
  return "this release's population differs from one released earlier to project " +
         std::string(project) + " by fewer than " + std::to_string(min_units) +
         " units; choose a broader breakdown or another period";
}

absl::Status DifferencingGuard::Check(const GuardKey& key, std::span<const Population> populations,
                                      std::uint64_t min_units) const {
  std::lock_guard<std::mutex> lock(impl_->mu);
  return impl_->CheckLocked(key, populations, min_units);
}

std::vector<std::string> DifferencingGuard::Record(const GuardKey& key,
                                                   std::span<const Population> populations) {
  std::lock_guard<std::mutex> lock(impl_->mu);
  return impl_->RecordLocked(key, populations);
}

absl::Status DifferencingGuard::CheckAndRecord(const GuardKey& key,
                                               std::span<const Population> populations,
                                               std::uint64_t min_units,
                                               std::vector<std::string>* newly_recorded) {
  std::lock_guard<std::mutex> lock(impl_->mu);
  if (absl::Status s = impl_->CheckLocked(key, populations, min_units); !s.ok()) return s;
  std::vector<std::string> added = impl_->RecordLocked(key, populations);
  if (newly_recorded != nullptr) *newly_recorded = std::move(added);
  return absl::OkStatus();
}

absl::Status DifferencingGuard::Restore(const GuardKey& key,
                                        std::span<const std::string> encodings) {
  std::vector<std::size_t> sizes;
  sizes.reserve(encodings.size());
  for (const std::string& e : encodings) {
    absl::StatusOr<Population> p = DecodePopulation(e);
    if (!p.ok()) return p.status();
    sizes.push_back(p->size());
  }
  std::lock_guard<std::mutex> lock(impl_->mu);
  Impl::Bucket& bucket = impl_->buckets[key];
  for (std::size_t i = 0; i < encodings.size(); ++i) {
    impl_->Add(bucket, encodings[i], sizes[i], nullptr);
  }
  return absl::OkStatus();
}

std::size_t DifferencingGuard::RecordedCount(const GuardKey& key) const {
  std::lock_guard<std::mutex> lock(impl_->mu);
  auto it = impl_->buckets.find(key);
  return it == impl_->buckets.end() ? 0 : it->second.encodings.size();
}

// ---------------------------------------------------------------------------------------------

DecompositionQuota::DecompositionQuota(std::uint32_t max_partitions)
    : max_partitions_(max_partitions) {}
DecompositionQuota::~DecompositionQuota() = default;

absl::Status DecompositionQuota::Use(const GuardKey& key, const Population& population,
                                     std::string_view partition) {
  std::lock_guard<std::mutex> lock(mu_);
  auto& seen = seen_[{key, EncodePopulation(population)}];
  if (seen.find(partition) != seen.end()) return absl::OkStatus();
  if (seen.size() >= max_partitions_) {
    return absl::ResourceExhaustedError(
        "this population has already been broken down in " + std::to_string(max_partitions_) +
        " different ways for project " + key.project +
        "; a further breakdown needs the privacy officer's approval");
  }
  seen.emplace(partition);
  return absl::OkStatus();
}

std::size_t DecompositionQuota::PartitionsOf(const GuardKey& key,
                                             const Population& population) const {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = seen_.find({key, EncodePopulation(population)});
  return it == seen_.end() ? 0 : it->second.size();
}

}  // namespace enclave::disclosure
