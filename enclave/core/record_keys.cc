#include "enclave/core/record_keys.h"

#include <algorithm>
#include <array>
#include <atomic>
#include <mutex>
#include <shared_mutex>
#include <utility>

#include "absl/container/flat_hash_map.h"
#include "absl/hash/hash.h"
#include "absl/strings/string_view.h"
#include "enclave/base/check.h"
#include "enclave/base/hex.h"

namespace enclave::core {
namespace {

constexpr std::size_t kShards = 64;
constexpr std::uint64_t kComputed = std::uint64_t{1} << 32;

std::uint64_t Fnv1a(std::uint64_t h, std::string_view s) {
  for (char c : s) {
    h ^= static_cast<std::uint8_t>(c);
    h *= 0x100000001b3ULL;
  }
  return h;
}

}  // namespace

struct UnitIndex::Impl {
  std::string unit_type;
  RecordKeySource* keys = nullptr;
  std::string basis;

  // Universe mode: immutable map, lazily computed keys (0 = not yet; else kComputed | key).
  bool universe = false;
  absl::flat_hash_map<std::string, std::uint32_t> ranks;
  std::unique_ptr<std::atomic<std::uint64_t>[]> cached;

  // Growing mode: sharded maps.
  struct Shard {
    std::shared_mutex mu;
    absl::flat_hash_map<std::string, Entry> entries;
  };
  std::array<Shard, kShards> shards;
  std::atomic<std::uint32_t> next{0};
};

UnitIndex::UnitIndex(std::string unit_type, RecordKeySource& keys)
    : impl_(std::make_unique<Impl>()) {
  impl_->unit_type = std::move(unit_type);
  impl_->keys = &keys;
}

UnitIndex::UnitIndex(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
UnitIndex::~UnitIndex() = default;

std::unique_ptr<UnitIndex> UnitIndex::FromUniverse(std::string unit_type,
                                                   std::vector<std::string> universe,
                                                   RecordKeySource& keys) {
  std::sort(universe.begin(), universe.end());
  universe.erase(std::unique(universe.begin(), universe.end()), universe.end());
  ENCLAVE_CHECK(universe.size() < (std::uint64_t{1} << 32));
  auto impl = std::make_unique<Impl>();
  impl->unit_type = std::move(unit_type);
  impl->keys = &keys;
  impl->universe = true;
  impl->ranks.reserve(universe.size());
  std::uint64_t h = 0xcbf29ce484222325ULL;
  for (std::size_t i = 0; i < universe.size(); ++i) {
    h = Fnv1a(h, universe[i]);
    h = Fnv1a(h, std::string_view("\0", 1));
    impl->ranks.emplace(std::move(universe[i]), static_cast<std::uint32_t>(i));
  }
  impl->cached = std::make_unique<std::atomic<std::uint64_t>[]>(impl->ranks.size());
  for (std::size_t i = 0; i < impl->ranks.size(); ++i) impl->cached[i].store(0);
  impl->basis = "universe/" + std::to_string(impl->ranks.size()) + "/" + base::Hex64(h);
  return std::unique_ptr<UnitIndex>(new UnitIndex(std::move(impl)));
}

std::optional<UnitIndex::Entry> UnitIndex::Lookup(std::string_view unit) {
  Impl& m = *impl_;
  const absl::string_view name(unit.data(), unit.size());  // Debian's Abseil: not std::string_view
  if (m.universe) {
    auto it = m.ranks.find(name);
    if (it == m.ranks.end()) return std::nullopt;
    const std::uint32_t index = it->second;
    std::atomic<std::uint64_t>& slot = m.cached[index];
    std::uint64_t v = slot.load(std::memory_order_acquire);
    if (v == 0) {
      // Racing threads compute the same deterministic key; either store wins.
      v = kComputed | m.keys->KeyFor(m.unit_type, unit);
      slot.store(v, std::memory_order_release);
    }
    return Entry{index, static_cast<std::uint32_t>(v)};
  }
  const std::size_t h = absl::Hash<absl::string_view>()(name);
  Impl::Shard& shard = m.shards[h % kShards];
  {
    std::shared_lock lock(shard.mu);
    auto it = shard.entries.find(name);
    if (it != shard.entries.end()) return it->second;
  }
  const std::uint32_t key = m.keys->KeyFor(m.unit_type, unit);  // outside the lock
  std::unique_lock lock(shard.mu);
  auto it = shard.entries.find(name);
  if (it != shard.entries.end()) return it->second;
  const std::uint32_t index = m.next.fetch_add(1);
  ENCLAVE_CHECK(index != 0xffffffffU);
  const Entry e{index, key};
  shard.entries.emplace(std::string(unit), e);
  return e;
}

std::size_t UnitIndex::size() const {
  return impl_->universe ? impl_->ranks.size() : impl_->next.load();
}

const std::string& UnitIndex::unit_type() const { return impl_->unit_type; }
const std::string& UnitIndex::basis() const { return impl_->basis; }

}  // namespace enclave::core
