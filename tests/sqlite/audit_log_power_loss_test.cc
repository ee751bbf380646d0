// Power-loss simulation under the audit log (docs/security.md §7.2, item 10): a VFS shim over
// "unix" keeps every write in memory until the file is synced (as an OS page cache would), and at
// a random I/O operation "loses power": every unsynced write is dropped and all further I/O fails.
// The database is then reopened with the real VFS. With synchronous=FULL no acknowledged entry is
// lost and the log opens; the negative control (synchronous=OFF) must lose one in some iteration,
// which proves the harness can fail. Torn sectors are not simulated.
#include <doctest/doctest.h>
#include <sqlite3.h>

#include <algorithm>
#include <atomic>
#include <cstring>
#include <filesystem>
#include <mutex>
#include <random>
#include <set>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "enclave/adapters/sqlite/audit_log_store.h"
#include "enclave/audit/leaf.h"
#include "tests/testing/temp_dir.h"

namespace enclave::adapters::sqlite {
namespace {

using ::enclave::testing::TempDir;

std::mutex g_mu;
bool g_crashed = false;   // guarded by g_mu
int g_countdown = -1;     // I/O operations until the power fails; < 0: never
int g_crashes = 0;

struct Overlay {
  std::vector<std::pair<sqlite3_int64, std::string>> writes;  // unsynced, in order
};

struct PFile {
  sqlite3_file base;
  sqlite3_file* real;
  Overlay* overlay;
};

PFile* P(sqlite3_file* f) { return reinterpret_cast<PFile*>(f); }
sqlite3_file* Real(sqlite3_file* f) { return P(f)->real; }

std::vector<Overlay*>& Overlays() {
  static std::vector<Overlay*> all;
  return all;
}

// REQUIRES: g_mu held. True if the power is (now) off.
bool PowerFailsLocked() {
  if (g_crashed) return true;
  if (g_countdown > 0) --g_countdown;
  if (g_countdown == 0) {
    g_crashed = true;
    ++g_crashes;
    for (Overlay* o : Overlays()) o->writes.clear();  // the page cache is gone
    return true;
  }
  return false;
}

sqlite3_int64 RealSize(sqlite3_file* f) {
  sqlite3_int64 size = 0;
  if (Real(f)->pMethods->xFileSize(Real(f), &size) != SQLITE_OK) return 0;
  return size;
}

sqlite3_int64 LogicalSizeLocked(sqlite3_file* f) {
  sqlite3_int64 size = RealSize(f);
  for (const auto& [off, data] : P(f)->overlay->writes) {
    size = std::max<sqlite3_int64>(size, off + static_cast<sqlite3_int64>(data.size()));
  }
  return size;
}

int XClose(sqlite3_file* f) {
  {
    std::lock_guard<std::mutex> lock(g_mu);
    auto& all = Overlays();
    all.erase(std::remove(all.begin(), all.end(), P(f)->overlay), all.end());
    delete P(f)->overlay;
    P(f)->overlay = nullptr;
  }
  return Real(f)->pMethods->xClose(Real(f));
}

int XRead(sqlite3_file* f, void* buf, int n, sqlite3_int64 off) {
  std::lock_guard<std::mutex> lock(g_mu);
  if (g_crashed) return SQLITE_IOERR_READ;
  int rc = Real(f)->pMethods->xRead(Real(f), buf, n, off);
  if (rc != SQLITE_OK && rc != SQLITE_IOERR_SHORT_READ) return rc;
  auto* out = static_cast<char*>(buf);
  for (const auto& [woff, data] : P(f)->overlay->writes) {
    const sqlite3_int64 begin = std::max(off, woff);
    const sqlite3_int64 end =
        std::min(off + n, woff + static_cast<sqlite3_int64>(data.size()));
    if (begin < end) {
      std::memcpy(out + (begin - off), data.data() + (begin - woff),
                  static_cast<std::size_t>(end - begin));
    }
  }
  return off + n <= LogicalSizeLocked(f) ? SQLITE_OK : SQLITE_IOERR_SHORT_READ;
}

int XWrite(sqlite3_file* f, const void* buf, int n, sqlite3_int64 off) {
  std::lock_guard<std::mutex> lock(g_mu);
  if (PowerFailsLocked()) return SQLITE_IOERR_WRITE;
  P(f)->overlay->writes.emplace_back(
      off, std::string(static_cast<const char*>(buf), static_cast<std::size_t>(n)));
  return SQLITE_OK;
}

int XTruncate(sqlite3_file* f, sqlite3_int64 size) {
  std::lock_guard<std::mutex> lock(g_mu);
  if (PowerFailsLocked()) return SQLITE_IOERR_TRUNCATE;
  for (auto& [off, data] : P(f)->overlay->writes) {
    if (off >= size) {
      data.clear();
    } else if (off + static_cast<sqlite3_int64>(data.size()) > size) {
      data.resize(static_cast<std::size_t>(size - off));
    }
  }
  return Real(f)->pMethods->xTruncate(Real(f), size);
}

int XSync(sqlite3_file* f, int flags) {
  std::lock_guard<std::mutex> lock(g_mu);
  if (PowerFailsLocked()) return SQLITE_IOERR_FSYNC;
  for (const auto& [off, data] : P(f)->overlay->writes) {
    if (data.empty()) continue;
    const int rc = Real(f)->pMethods->xWrite(Real(f), data.data(), static_cast<int>(data.size()), off);
    if (rc != SQLITE_OK) return rc;
  }
  P(f)->overlay->writes.clear();
  return Real(f)->pMethods->xSync(Real(f), flags);
}

int XFileSize(sqlite3_file* f, sqlite3_int64* size) {
  std::lock_guard<std::mutex> lock(g_mu);
  if (g_crashed) return SQLITE_IOERR_FSTAT;
  *size = LogicalSizeLocked(f);
  return SQLITE_OK;
}

int XLock(sqlite3_file* f, int l) { return Real(f)->pMethods->xLock(Real(f), l); }
int XUnlock(sqlite3_file* f, int l) { return Real(f)->pMethods->xUnlock(Real(f), l); }
int XCheckReservedLock(sqlite3_file* f, int* out) {
  return Real(f)->pMethods->xCheckReservedLock(Real(f), out);
}
int XFileControl(sqlite3_file* f, int op, void* arg) {
  // Size hints and chunking would write to the real file behind the overlay's back.
  if (op == SQLITE_FCNTL_SIZE_HINT || op == SQLITE_FCNTL_CHUNK_SIZE) return SQLITE_OK;
  return Real(f)->pMethods->xFileControl(Real(f), op, arg);
}
int XSectorSize(sqlite3_file* f) { return Real(f)->pMethods->xSectorSize(Real(f)); }
int XDeviceCharacteristics(sqlite3_file*) { return 0; }  // promise nothing
int XShmMap(sqlite3_file* f, int pg, int sz, int extend, void volatile** out) {
  return Real(f)->pMethods->xShmMap(Real(f), pg, sz, extend, out);
}
int XShmLock(sqlite3_file* f, int offset, int n, int flags) {
  return Real(f)->pMethods->xShmLock(Real(f), offset, n, flags);
}
void XShmBarrier(sqlite3_file* f) { Real(f)->pMethods->xShmBarrier(Real(f)); }
int XShmUnmap(sqlite3_file* f, int del) { return Real(f)->pMethods->xShmUnmap(Real(f), del); }

const sqlite3_io_methods kMethods = {
    2,          XClose,       XRead,      XWrite,     XTruncate,   XSync,
    XFileSize,  XLock,        XUnlock,    XCheckReservedLock,      XFileControl,
    XSectorSize, XDeviceCharacteristics, XShmMap, XShmLock, XShmBarrier, XShmUnmap,
    nullptr,    nullptr};

sqlite3_vfs* g_real = nullptr;
sqlite3_vfs g_vfs;

int XOpen(sqlite3_vfs*, const char* name, sqlite3_file* f, int flags, int* out_flags) {
  PFile* pf = P(f);
  pf->real = reinterpret_cast<sqlite3_file*>(pf + 1);
  pf->overlay = nullptr;
  const int rc = g_real->xOpen(g_real, name, pf->real, flags, out_flags);
  if (rc != SQLITE_OK || pf->real->pMethods == nullptr) {
    pf->base.pMethods = nullptr;
    return rc;
  }
  pf->overlay = new Overlay;
  {
    std::lock_guard<std::mutex> lock(g_mu);
    Overlays().push_back(pf->overlay);
  }
  pf->base.pMethods = &kMethods;
  return rc;
}

const char* RegisterPowerLossVfs() {
  if (g_real == nullptr) {
    g_real = sqlite3_vfs_find(nullptr);
    g_vfs = *g_real;
    g_vfs.zName = "enclave-power-loss";
    g_vfs.szOsFile = static_cast<int>(sizeof(PFile)) + g_real->szOsFile;
    g_vfs.xOpen = XOpen;
    sqlite3_vfs_register(&g_vfs, 0);
  }
  return g_vfs.zName;
}

core::QueryLogEntry Entry(const std::string& request_id) {
  core::QueryLogEntry e;
  e.type = core::QueryLogEntry::Type::kAccepted;
  e.request_id = request_id;
  e.rpc = "RunQuery";
  e.template_id = "zzp_aantal_per_wijk";
  e.decision = "allowed";
  return e;
}

struct Outcome {
  int lost_acknowledged = 0;
  bool refused_at_start = false;
  int acknowledged = 0;
  bool integrity_ok = true;
};

Outcome OneIteration(bool durable, int crash_after_ops) {
  const char* vfs = RegisterPowerLossVfs();
  TempDir dir;
  AuditLogOptions o;
  o.state_dir = dir.path().string();
  o.checkpoint_interval = std::chrono::milliseconds(0);
  o.checkpoint_every_entries = 5;
  o.durable = durable;
  o.vfs_for_test = vfs;
  std::set<std::string> acknowledged;
  {
    {
      std::lock_guard<std::mutex> lock(g_mu);
      g_crashed = false;
      g_countdown = -1;
    }
    auto store = AuditLogStore::Open(o);
    REQUIRE_MESSAGE(store.ok(), store.status().ToString());
    {
      std::lock_guard<std::mutex> lock(g_mu);
      g_countdown = crash_after_ops;
    }
    std::mutex mu;
    std::vector<std::thread> threads;
    for (int t = 0; t < 4; ++t) {
      threads.emplace_back([&, t] {
        for (int i = 0; i < 12; ++i) {
          const std::string id = "t" + std::to_string(t) + "-" + std::to_string(i);
          if ((*store)->Append(Entry(id)).ok()) {
            std::lock_guard<std::mutex> lock(mu);
            acknowledged.insert(id);
          }
        }
      });
    }
    for (auto& th : threads) th.join();
    {
      // Power off before the store closes, if it has not failed yet: nothing more reaches disk.
      std::lock_guard<std::mutex> lock(g_mu);
      if (!g_crashed) {
        g_crashed = true;
        for (Overlay* ov : Overlays()) ov->writes.clear();
      }
    }
    (*store)->Close().IgnoreError();
  }
  // The shared-memory index does not survive a power loss.
  std::filesystem::remove(dir.File("audit_log.db-shm"));
  Outcome out;
  out.acknowledged = static_cast<int>(acknowledged.size());
  {
    sqlite3* raw = nullptr;
    REQUIRE(sqlite3_open(dir.File("audit_log.db").c_str(), &raw) == SQLITE_OK);
    sqlite3_stmt* stmt = nullptr;
    REQUIRE(sqlite3_prepare_v2(raw, "PRAGMA integrity_check", -1, &stmt, nullptr) == SQLITE_OK);
    out.integrity_ok = sqlite3_step(stmt) == SQLITE_ROW &&
                       std::string(reinterpret_cast<const char*>(sqlite3_column_text(stmt, 0))) == "ok";
    sqlite3_finalize(stmt);
    sqlite3_close(raw);
  }
  o.vfs_for_test.clear();
  auto store = AuditLogStore::Open(o);
  if (!store.ok()) {
    // A log behind its external checkpoint is refused: an acknowledged entry was lost.
    CHECK(store.status().code() == absl::StatusCode::kFailedPrecondition);
    out.refused_at_start = true;
    return out;
  }
  auto leaves = (*store)->ReadLeaves(0, (*store)->Size());
  REQUIRE(leaves.ok());
  std::set<std::string> stored;
  for (const std::string& bytes : *leaves) {
    auto leaf = audit::DecodeLeaf(bytes);
    REQUIRE(leaf.ok());
    stored.insert(leaf->request_id);
  }
  for (const std::string& id : acknowledged) {
    if (!stored.contains(id)) ++out.lost_acknowledged;
  }
  return out;
}

TEST_CASE("power loss at a random I/O operation: synchronous=FULL loses no acknowledged entry") {
  std::mt19937 rng(4242);
  std::uniform_int_distribution<int> ops(1, 400);
  int acknowledged = 0;
  for (int i = 0; i < 40; ++i) {
    const int crash_after = ops(rng);
    CAPTURE(crash_after);
    Outcome out = OneIteration(/*durable=*/true, crash_after);
    CHECK(out.integrity_ok);
    CHECK_FALSE(out.refused_at_start);
    CHECK(out.lost_acknowledged == 0);
    acknowledged += out.acknowledged;
  }
  MESSAGE("acknowledged entries over 40 power losses: ", acknowledged);
  CHECK(acknowledged > 0);
}

TEST_CASE("negative control: with synchronous=OFF the harness does see a lost acknowledged entry") {
  std::mt19937 rng(4243);
  std::uniform_int_distribution<int> ops(50, 400);
  int detected = 0;
  for (int i = 0; i < 10; ++i) {
    Outcome out = OneIteration(/*durable=*/false, ops(rng));
    if (out.lost_acknowledged > 0 || out.refused_at_start) ++detected;
  }
  MESSAGE("iterations with a detected loss: ", detected, " of 10");
  CHECK(detected >= 1);
}

}  // namespace
}  // namespace enclave::adapters::sqlite
