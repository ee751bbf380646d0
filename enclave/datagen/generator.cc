// The synthetic microdata generator: a seeded month-by-month simulation of the residents of
// Leidschendam-Voorburg 2015–2024, its businesses and PIN turnover, written to SQLite.
// Model, simplifications and calibration: enclave/datagen/README.md.
#include "enclave/datagen/generator.h"

#include <sqlite3.h>
#include <stdlib.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <fstream>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "enclave/base/file.h"
#include "enclave/base/hex.h"
#include "enclave/base/log.h"
#include "enclave/base/status_macros.h"
#include "enclave/crypto/pseudonymiser.h"
#include "enclave/datagen/calendar.h"
#include "enclave/datagen/pseudonym.h"
#include "enclave/datagen/rng.h"
#include "enclave/datagen/sql_embed.h"

namespace enclave::datagen {
namespace {

constexpr std::uint32_t kNone = 0xFFFFFFFFU;
constexpr int kW0 = DaysFromCivil(2015, 1, 1);      // window start
constexpr int kW1 = DaysFromCivil(2025, 1, 1);      // window end (exclusive)
constexpr int kRef = DaysFromCivil(2024, 1, 1);     // reference date of the resident targets
constexpr int kOpenDay = DaysFromCivil(2099, 12, 31);
constexpr int kFar = kOpenDay + 1;                  // exclusive end of an open spell
constexpr int kMonths = 120;
constexpr int kYears = 10;                          // 2015..2024
constexpr int kPinFrom = DaysFromCivil(2020, 1, 1);

int MonthStart(int m) { return DaysFromCivil(2015 + m / 12, m % 12 + 1, 1); }
int YearEnd(int y) { return DaysFromCivil(y, 12, 31); }
int Round(double x) { return static_cast<int>(std::lround(x)); }
std::int64_t Round64(double x) { return static_cast<std::int64_t>(std::llround(x)); }
std::string EndText(int end_excl) { return end_excl >= kFar ? "20991231" : DateText(end_excl - 1); }
std::string Pad(std::int64_t v, int width) {
  std::string s = std::to_string(v);
  if (static_cast<int>(s.size()) < width) s.insert(0, static_cast<std::size_t>(width) - s.size(), '0');
  return s;
}
template <typename T>
T Clamp(T v, T lo, T hi) {
  return std::min(hi, std::max(lo, v));
}

// ---------------------------------------------------------------- SQLite helpers

class Inserter {
 public:
  Inserter(sqlite3* db, const char* sql, const char* table) : table_(table) {
    if (sqlite3_prepare_v2(db, sql, -1, &stmt_, nullptr) != SQLITE_OK) {
      status_ = absl::InternalError(std::string("prepare insert failed for table ") + table);
    }
  }
  ~Inserter() { sqlite3_finalize(stmt_); }
  Inserter(const Inserter&) = delete;
  Inserter& operator=(const Inserter&) = delete;

  Inserter& Text(const std::string& v) {
    if (ok()) sqlite3_bind_text(stmt_, ++col_, v.data(), static_cast<int>(v.size()), SQLITE_TRANSIENT);
    return *this;
  }
  Inserter& Text(const char* v) { return Text(std::string(v)); }
  Inserter& Int(std::int64_t v) {
    if (ok()) sqlite3_bind_int64(stmt_, ++col_, v);
    return *this;
  }
  Inserter& Real(double v) {
    if (ok()) sqlite3_bind_double(stmt_, ++col_, v);
    return *this;
  }
  Inserter& Null() {
    if (ok()) sqlite3_bind_null(stmt_, ++col_);
    return *this;
  }
  Inserter& TextOrNull(const std::string& v) { return v.empty() ? Null() : Text(v); }
  void Row() {
    col_ = 0;
    if (!ok()) return;
    if (sqlite3_step(stmt_) != SQLITE_DONE) {
      status_ = absl::InternalError(std::string("insert failed for table ") + table_);
    }
    sqlite3_reset(stmt_);
    ++rows_;
  }
  bool ok() const { return status_.ok(); }
  absl::Status status() const { return status_; }
  std::int64_t rows() const { return rows_; }

 private:
  sqlite3_stmt* stmt_ = nullptr;
  const char* table_;
  absl::Status status_;
  int col_ = 0;
  std::int64_t rows_ = 0;
};

absl::Status Exec(sqlite3* db, const char* sql, const char* what) {
  char* err = nullptr;
  const int rc = sqlite3_exec(db, sql, nullptr, nullptr, &err);
  sqlite3_free(err);  // may hold SQL fragments: never propagated
  if (rc != SQLITE_OK) return absl::InternalError(std::string("SQLite step failed: ") + what);
  return absl::OkStatus();
}

// ---------------------------------------------------------------- geography

struct WijkDef {
  const char* code;
  const char* kern;
  int inhabitants;
  int dwellings;
  double ses;
  const char* pc4a;
  const char* pc4b;
};
// domain.md §2 table; postcodes [asm].
constexpr WijkDef kWijken[13] = {
    {"WK191601", "Leidschendam", 5370, 2547, 0.95, "2262", "2262"},
    {"WK191602", "Leidschendam", 5760, 2676, 0.65, "2263", "2263"},
    {"WK191603", "Leidschendam", 6955, 3276, 0.80, "2264", "2265"},
    {"WK191604", "Stompwijk", 2355, 967, 1.05, "2266", "2266"},
    {"WK191605", "Leidschendam", 6545, 3012, 0.90, "2265", "2265"},
    {"WK191606", "Leidschendam", 3250, 1795, 0.85, "2261", "2261"},
    {"WK191607", "Leidschendam", 6995, 3149, 1.00, "2267", "2261"},
    {"WK191608", "Voorburg", 5820, 2869, 1.18, "2271", "2271"},
    {"WK191609", "Voorburg", 8050, 4437, 0.90, "2272", "2271"},
    {"WK191610", "Voorburg", 7650, 4092, 0.95, "2273", "2273"},
    {"WK191611", "Voorburg", 6985, 3551, 1.05, "2274", "2274"},
    {"WK191612", "Voorburg", 5230, 2169, 1.45, "2275", "2275"},
    {"WK191613", "Voorburg", 7260, 3206, 1.30, "2272", "2275"},
};

struct Buurt {
  std::string code;
  int wijk;
  double ses;
  int pop_target;
  int dwellings_target;
  std::vector<std::uint32_t> objects;  // indexes into Geo::objects
};
struct AddressObject {
  std::string id;
  std::string pc4;
  int buurt;
};
struct Geo {
  std::vector<Buurt> buurten;
  std::vector<AddressObject> objects;
  std::vector<std::vector<int>> buurten_of_wijk;
};

Geo MakeGeography(Rng& rng, double f) {
  Geo g;
  g.buurten_of_wijk.resize(13);
  for (int w = 0; w < 13; ++w) {
    const WijkDef& def = kWijken[w];
    const int n = rng.IntI(3, 5);
    std::vector<double> share(static_cast<std::size_t>(n));
    double total = 0;
    for (double& s : share) total += (s = rng.Uniform(0.5, 1.5));
    for (int b = 0; b < n; ++b) {
      Buurt bu;
      bu.code = "BU1916" + Pad(w + 1, 2) + Pad(b, 2);
      bu.wijk = w;
      bu.ses = def.ses * std::exp(rng.Normal(0, 0.10));
      const double sh = share[static_cast<std::size_t>(b)] / total;
      bu.pop_target = Round(def.inhabitants * sh);
      bu.dwellings_target = Round(def.dwellings * sh);
      const int nobj = std::max(5, Round(bu.dwellings_target * f * 1.05));
      for (int k = 0; k < nobj; ++k) {
        AddressObject o;
        o.id = "1916" + Pad(w + 1, 2) + Pad(b, 2) + Pad(rng.Int(0, 99) * 1000000 + k, 8);
        o.pc4 = (k % 3 == 2) ? def.pc4b : def.pc4a;
        o.buurt = static_cast<int>(g.buurten.size());
        bu.objects.push_back(static_cast<std::uint32_t>(g.objects.size()));
        g.objects.push_back(std::move(o));
      }
      g.buurten_of_wijk[static_cast<std::size_t>(w)].push_back(static_cast<int>(g.buurten.size()));
      g.buurten.push_back(std::move(bu));
    }
  }
  return g;
}

// ---------------------------------------------------------------- SBI and businesses

struct SbiDef {
  const char* code;
  const char* sectie;
  const char* omschrijving;
  const char* group;
};
constexpr SbiDef kSbi[] = {
    {"0111", "A", "Teelt van granen en peulvruchten", "other"},
    {"0113", "A", "Teelt van groenten in de volle grond", "other"},
    {"0141", "A", "Melkveehouderij", "other"},
    {"1071", "C", "Brood- en banketbakkerijen", "other"},
    {"2511", "C", "Vervaardiging van metalen constructiewerken", "other"},
    {"3109", "C", "Vervaardiging van meubels", "other"},
    {"3511", "D", "Productie van elektriciteit", "other"},
    {"3811", "E", "Inzameling van afval", "other"},
    {"4120", "F", "Algemene burgerlijke en utiliteitsbouw", "other"},
    {"4321", "F", "Elektrotechnische bouwinstallatie", "other"},
    {"4322", "F", "Loodgieters- en fitterswerk", "other"},
    {"4332", "F", "Bouwtimmeren", "other"},
    {"4334", "F", "Schilderen en glaszetten", "other"},
    {"4511", "G", "Handel in en reparatie van personenautos", "other"},
    {"4520", "G", "Gespecialiseerde reparatie van autos", "other"},
    {"4690", "G", "Niet-gespecialiseerde groothandel", "other"},
    {"4711", "G", "Supermarkten", "retail_food"},
    {"4721", "G", "Winkels in aardappelen, groenten en fruit", "retail_food"},
    {"4722", "G", "Winkels in vlees en vleeswaren", "retail_food"},
    {"4723", "G", "Winkels in vis", "retail_food"},
    {"4724", "G", "Winkels in brood en banket", "retail_food"},
    {"4729", "G", "Overige winkels in voedings- en genotmiddelen", "retail_food"},
    {"4741", "G", "Winkels in computers en software", "retail_nonfood"},
    {"4751", "G", "Winkels in textiel", "retail_nonfood"},
    {"4752", "G", "Doe-het-zelfwinkels", "retail_nonfood"},
    {"4754", "G", "Winkels in elektrische huishoudelijke apparaten", "retail_nonfood"},
    {"4759", "G", "Winkels in meubels en woninginrichting", "retail_nonfood"},
    {"4761", "G", "Winkels in boeken", "retail_nonfood"},
    {"4764", "G", "Winkels in sportartikelen", "retail_nonfood"},
    {"4765", "G", "Winkels in speelgoed", "retail_nonfood"},
    {"4771", "G", "Winkels in kleding en mode-artikelen", "retail_nonfood"},
    {"4772", "G", "Winkels in schoenen en lederwaren", "retail_nonfood"},
    {"4773", "G", "Apotheken", "retail_nonfood"},
    {"4775", "G", "Drogisterijen en parfumerieen", "retail_nonfood"},
    {"4776", "G", "Winkels in bloemen, planten en dierbenodigdheden", "retail_nonfood"},
    {"4777", "G", "Winkels in juweliersartikelen en uurwerken", "retail_nonfood"},
    {"4778", "G", "Winkels in brillen en overige artikelen", "retail_nonfood"},
    {"4791", "G", "Detailhandel via internet", "other"},
    {"4932", "H", "Taxivervoer", "other"},
    {"4941", "H", "Goederenvervoer over de weg", "other"},
    {"5210", "H", "Opslag en distributie", "other"},
    {"5310", "H", "Post en koeriers", "other"},
    {"5510", "I", "Hotels", "other"},
    {"56101", "I", "Restaurants", "horeca_restaurant"},
    {"56102", "I", "Fastfoodrestaurants, cafetarias en ijssalons", "horeca_restaurant"},
    {"5621", "I", "Eventcatering", "other"},
    {"5629", "I", "Kantines en contractcatering", "other"},
    {"5630", "I", "Cafes", "horeca_cafe"},
    {"5811", "J", "Uitgeverijen van boeken", "other"},
    {"5911", "J", "Productie van films en televisieprogrammas", "other"},
    {"6110", "J", "Draadgebonden telecommunicatie", "other"},
    {"6201", "J", "Ontwikkelen en produceren van software", "other"},
    {"6202", "J", "Advisering op het gebied van informatietechnologie", "other"},
    {"6311", "J", "Gegevensverwerking en webhosting", "other"},
    {"6419", "K", "Bankwezen", "other"},
    {"6512", "K", "Schadeverzekeringen", "other"},
    {"6622", "K", "Assurantietussenpersonen", "other"},
    {"6810", "L", "Handel in onroerend goed", "other"},
    {"6831", "L", "Bemiddeling in onroerend goed", "other"},
    {"6910", "M", "Rechtskundige dienstverlening", "other"},
    {"6920", "M", "Accountancy en belastingadvies", "other"},
    {"7010", "M", "Holdings en concerndiensten", "other"},
    {"7022", "M", "Organisatie-adviesbureaus", "other"},
    {"7111", "M", "Architecten", "other"},
    {"7112", "M", "Ingenieurs en technisch ontwerp", "other"},
    {"7311", "M", "Reclamebureaus", "other"},
    {"7410", "M", "Industrieel ontwerp en vormgeving", "other"},
    {"7420", "M", "Fotografie", "other"},
    {"7430", "M", "Vertalers en tolken", "other"},
    {"7490", "M", "Overige specialistische zakelijke dienstverlening", "other"},
    {"7500", "M", "Veterinaire dienstverlening", "other"},
    {"7810", "N", "Arbeidsbemiddeling", "other"},
    {"7820", "N", "Uitzendbureaus", "other"},
    {"8121", "N", "Reiniging van gebouwen", "other"},
    {"8130", "N", "Hoveniers", "other"},
    {"8211", "N", "Secretariele dienstverlening", "other"},
    {"8411", "O", "Openbaar bestuur", "other"},
    {"8422", "O", "Defensie", "other"},
    {"8520", "P", "Basisonderwijs", "other"},
    {"8531", "P", "Voortgezet onderwijs", "other"},
    {"8559", "P", "Overig onderwijs", "other"},
    {"8560", "P", "Onderwijsondersteunende diensten", "other"},
    {"8610", "Q", "Ziekenhuizen", "other"},
    {"8621", "Q", "Huisartsenpraktijken", "other"},
    {"8623", "Q", "Tandartspraktijken", "other"},
    {"8690", "Q", "Paramedische praktijken", "other"},
    {"8710", "Q", "Verpleeghuizen", "other"},
    {"8810", "Q", "Maatschappelijke dienstverlening zonder overnachting", "other"},
    {"8891", "Q", "Kinderopvang", "other"},
    {"9001", "R", "Beoefening van podiumkunst", "other"},
    {"9003", "R", "Schrijven en overige scheppende kunst", "other"},
    {"9102", "R", "Musea", "other"},
    {"9311", "R", "Sportaccommodaties", "other"},
    {"9313", "R", "Fitnesscentra", "other"},
    {"9329", "R", "Overige recreatie", "other"},
    {"9499", "S", "Overige ideele organisaties", "other"},
    {"9602", "S", "Kappers en schoonheidsverzorging", "other"},
    {"9609", "S", "Overige persoonlijke dienstverlening", "other"},
    {"9700", "T", "Huishoudens als werkgever", "other"},
    {"9900", "U", "Extraterritoriale organisaties", "other"},
};

// zzp sectors (domain.md §3.4) with log-normal median income as zelfstandige (C2, S9) [asm].
struct ZzpSector {
  double share;
  double median;
  std::vector<const char*> codes;
};
const std::vector<ZzpSector>& ZzpSectors() {
  static const std::vector<ZzpSector> kSectors = {
      {0.30, 44000, {"6910", "6920", "7022", "7111", "7112", "7311", "7410", "7420", "7430", "7490", "8121", "8130", "8211"}},
      {0.20, 29000, {"8559", "8560", "8621", "8690", "8810", "8891"}},
      {0.15, 16500, {"9001", "9003", "9329", "9602", "9609"}},
      {0.10, 42000, {"4321", "4322", "4332", "4334", "4120"}},
      {0.10, 31000, {"4791", "4932", "56102", "4778"}},
      {0.08, 52000, {"5811", "5911", "6201", "6202"}},
      {0.07, 36000, {"6622", "6831", "0111", "1071"}},
  };
  return kSectors;
}

enum SectorGroup { kRetailFood = 0, kRetailNonfood = 1, kHorecaRestaurant = 2, kHorecaCafe = 3 };
constexpr const char* kAreas[] = {"huygenskwartier", "julianabaan", "damcentrum", "mall_leidsenhage",
                                  "prinsenhof", "stompwijk", "verspreid"};
constexpr int kAreaWijk[] = {8, 9, 5, 0, 1, 3, -1};  // wijk index per winkelgebied
constexpr double kAreaShare[] = {0.15, 0.08, 0.12, 0.30, 0.08, 0.025, 0.245};
bool Adjacent(int a, int b) {
  auto pair = [&](int x, int y) { return (a == x && b == y) || (a == y && b == x); };
  return pair(0, 1) || pair(2, 3) || pair(3, 4) || pair(2, 4) || pair(5, 2);
}

struct Enterprise {
  std::string be_id;
  std::string kvk_hash;
  std::string sbi;
  int werkzame = 1;
  std::string rechtsvorm;
  int aanvang = 0;
  int einde = kFar;
};
struct Vestiging {
  std::string id;
  std::uint32_t be;
  int buurt;
  int area;   // index into kAreas
  std::string sbi;
  int werkzame;
  int group = -1;   // SectorGroup for retail/horeca, -1 otherwise
  double base = 0;  // typical daily PIN turnover, euros
  double ticket = 0;
  bool sunday_closed = false;
  int open_from = 0;
};
struct Business {
  std::vector<Enterprise> enterprises;
  std::vector<Vestiging> vestigingen;
  std::vector<double> employer_cum;  // cumulative job weights over enterprises
};

std::string Grootteklasse(int n) {
  if (n <= 0) return "0";
  if (n == 1) return "1";
  if (n <= 4) return "2-4";
  if (n <= 9) return "5-9";
  if (n <= 19) return "10-19";
  if (n <= 49) return "20-49";
  return "50+";
}

const char* PickCode(Rng& rng, const std::vector<const char*>& codes) {
  return codes[static_cast<std::size_t>(rng.Int(0, static_cast<std::int64_t>(codes.size()) - 1))];
}

Business MakeBusinesses(Rng& rng, const Geo& geo, double fb, std::uint64_t seed) {
  Business b;
  int be_seq = 0;
  int ves_seq = 0;
  auto new_be = [&](const std::string& sbi, int werkzame, const char* rechtsvorm, int aanvang) {
    Enterprise e;
    e.be_id = "BE" + Pad(10000000 + be_seq * 7 + 3, 8);
    e.kvk_hash = base::Hex64(Mix(seed ^ 0x4B564BULL, static_cast<std::uint64_t>(be_seq)));
    e.sbi = sbi;
    e.werkzame = werkzame;
    e.rechtsvorm = rechtsvorm;
    e.aanvang = aanvang;
    ++be_seq;
    b.enterprises.push_back(std::move(e));
    return static_cast<std::uint32_t>(b.enterprises.size() - 1);
  };
  auto random_buurt = [&](int wijk) {
    const int w = wijk >= 0 ? wijk : rng.IntI(0, 12);
    const std::vector<int>& bs = geo.buurten_of_wijk[static_cast<std::size_t>(w)];
    return bs[static_cast<std::size_t>(rng.Int(0, static_cast<std::int64_t>(bs.size()) - 1))];
  };
  auto add_vestiging = [&](std::uint32_t be, int buurt, int area, const std::string& sbi, int werkzame) {
    Vestiging v;
    v.id = "VS" + Pad(20000000 + ves_seq * 13 + 5, 8);
    ++ves_seq;
    v.be = be;
    v.buurt = buurt;
    v.area = area;
    v.sbi = sbi;
    v.werkzame = werkzame;
    b.vestigingen.push_back(std::move(v));
    return b.vestigingen.size() - 1;
  };
  auto old_date = [&] { return DaysFromCivil(rng.IntI(1975, 2019), rng.IntI(1, 12), rng.IntI(1, 28)); };

  // Retail and horeca with PIN: per winkelgebied x sector group, 0-2 dominant anchors (C8).
  const int n_retail = std::max(40, Round(800 * fb));
  const double group_share[4] = {0.20, 0.38, 0.30, 0.12};
  const std::vector<const char*> group_codes[4] = {
      {"4711", "4721", "4722", "4723", "4724", "4729"},
      {"4741", "4751", "4752", "4754", "4759", "4761", "4764", "4765", "4771", "4771", "4772", "4773", "4775", "4776", "4777", "4778"},
      {"56101", "56101", "56102"},
      {"5630"}};
  const double group_median[4] = {2600, 1500, 1100, 700};
  const double group_ticket[4] = {30, 45, 21, 15};
  std::vector<std::uint32_t> chains;
  for (int c = 0; c < 3; ++c) chains.push_back(new_be("4711", 400 + 100 * c, "nv", old_date()));
  for (int a = 0; a < 7; ++a) {
    for (int gi = 0; gi < 4; ++gi) {
      const int n = std::max(a == 5 ? 1 : 2, Round(n_retail * kAreaShare[a] * group_share[gi]));
      const int anchors = a == 6 ? 0 : rng.IntI(n >= 3 ? 1 : 0, std::min(2, n - 1));
      std::vector<std::size_t> cell;
      for (int k = 0; k < n; ++k) {
        const bool anchor = k < anchors;
        const std::string sbi = anchor && gi == kRetailFood ? "4711" : PickCode(rng, group_codes[gi]);
        const int werkzame = anchor ? rng.IntI(25, 120) : std::max(1, Round(rng.LogNormal(std::log(4.0), 0.7)));
        std::uint32_t be;
        if (anchor && gi == kRetailFood) {
          be = chains[static_cast<std::size_t>(rng.IntI(0, 2))];
        } else {
          be = new_be(sbi, werkzame, werkzame == 1 ? "eenmanszaak" : (rng.Bernoulli(0.5) ? "bv" : "vof"), old_date());
        }
        const std::size_t vi = add_vestiging(be, random_buurt(kAreaWijk[a]), a, sbi, werkzame);
        Vestiging& v = b.vestigingen[vi];
        v.group = gi;
        v.base = rng.LogNormal(std::log(group_median[gi]), 0.6);
        v.ticket = group_ticket[gi] * rng.Uniform(0.8, 1.25);
        v.sunday_closed = (a == 5 || a == 6) && gi <= kRetailNonfood && rng.Bernoulli(0.5);
        v.open_from = rng.Bernoulli(0.06) ? DaysFromCivil(rng.IntI(2020, 2024), rng.IntI(1, 12), rng.IntI(1, 28)) : 0;
        if (v.open_from > 0) b.enterprises[be].aanvang = std::min(b.enterprises[be].aanvang, v.open_from);
        if (anchor) v.base = -1;  // filled below
        cell.push_back(vi);
      }
      if (anchors > 0) {
        double rest = 0;
        for (std::size_t vi : cell) rest += std::max(0.0, b.vestigingen[vi].base);
        const double share = rng.Uniform(0.30, 0.60);
        const double anchor_total = rest * share / (1 - share);
        const double first = anchors == 2 ? rng.Uniform(0.5, 0.75) : 1.0;
        int k = 0;
        for (std::size_t vi : cell) {
          if (b.vestigingen[vi].base < 0) b.vestigingen[vi].base = anchor_total * (k++ == 0 ? first : 1 - first);
        }
      }
    }
  }
  // zzp establishments (LISA: 4,147 of 5,711) and other local businesses.
  const int n_zzp = Round(4150 * fb);
  for (int k = 0; k < n_zzp; ++k) {
    double w[7];
    for (std::size_t s = 0; s < 7; ++s) w[s] = ZzpSectors()[s].share;
    const std::string sbi = PickCode(rng, ZzpSectors()[rng.Choice(w, 7)].codes);
    const std::uint32_t be = new_be(sbi, 1, "eenmanszaak", old_date());
    add_vestiging(be, random_buurt(-1), 6, sbi, 1);
  }
  const int n_other = Round(760 * fb);
  constexpr std::size_t kNSbi = sizeof(kSbi) / sizeof(kSbi[0]);
  for (int k = 0; k < n_other; ++k) {
    const SbiDef* def;
    do {
      def = &kSbi[static_cast<std::size_t>(rng.Int(0, kNSbi - 1))];
    } while (std::string_view(def->group) != "other");
    const int werkzame = std::max(2, Round(rng.LogNormal(std::log(8.0), 1.0)));
    const std::uint32_t be = new_be(def->code, werkzame, rng.Bernoulli(0.7) ? "bv" : "stichting", old_date());
    add_vestiging(be, random_buurt(-1), 6, def->code, werkzame);
  }
  // Employers outside LV (The Hague region): enterprises without an LV establishment.
  const int n_external = std::max(50, Round(900 * fb));
  for (int k = 0; k < n_external; ++k) {
    const SbiDef* def;
    do {
      def = &kSbi[static_cast<std::size_t>(rng.Int(0, kNSbi - 1))];
    } while (std::string_view(def->group) != "other");
    const int werkzame = std::max(5, Round(rng.LogNormal(std::log(60.0), 1.3)));
    new_be(def->code, werkzame, rng.Bernoulli(0.8) ? "bv" : "stichting", old_date());
  }
  // Some closures after the PIN window for non-PIN businesses.
  for (Enterprise& e : b.enterprises) {
    if (e.werkzame < 100 && rng.Bernoulli(0.08)) {
      e.einde = DaysFromCivil(rng.IntI(2015, 2019), rng.IntI(1, 12), rng.IntI(1, 28));
      if (e.einde <= e.aanvang) e.einde = kFar;
    }
  }
  for (const Vestiging& v : b.vestigingen) {
    if (v.group >= 0) b.enterprises[v.be].einde = kFar;  // merchants trade through 2024
  }
  double cum = 0;
  for (const Enterprise& e : b.enterprises) {
    cum += e.werkzame > 1 && e.einde == kFar ? std::pow(static_cast<double>(e.werkzame), 0.9) : 0.0;
    b.employer_cum.push_back(cum);
  }
  return b;
}

std::uint32_t PickEmployer(Rng& rng, const Business& b) {
  const double x = rng.Uniform() * b.employer_cum.back();
  const auto it = std::upper_bound(b.employer_cum.begin(), b.employer_cum.end(), x);
  return static_cast<std::uint32_t>(std::min<std::ptrdiff_t>(it - b.employer_cum.begin(),
                                                              static_cast<std::ptrdiff_t>(b.employer_cum.size()) - 1));
}

// ---------------------------------------------------------------- persons and households

enum Role : std::int8_t { kHead = 0, kPartner = 1, kChild = 2, kOther = 3 };
enum HhType : std::int8_t { kEenpersoons = 0, kPaarZonder = 1, kPaarMet = 2, kEenouder = 3, kOverig = 4, kInstitutioneel = 5 };
constexpr const char* kHerkomst[] = {"nederland", "europa", "turkije_marokko", "suriname_caribisch_indonesie",
                                     "overig_buiten_europa"};
constexpr const char* kEdu[] = {"laag", "middelbaar", "hoog", "onbekend"};

// SECM codes.
constexpr int kSecmNone = 0, kWerknemer = 11, kDga = 12, kZelfstandige = 13, kOverigActief = 14, kWw = 21,
              kBijstand = 22, kOtherBenefit = 23, kSick = 24, kPension = 25, kStudentInc = 26,
              kStudentNoInc = 31, kNoIncome = 32;

struct StateSpell {
  int state;
  int start;
  int end = kFar;
};
struct PosSpell {
  const char* poswrk;
  std::string sbi;
  int start;
  int end = kFar;
};
struct Job {
  std::uint32_t be;
  std::int64_t ikv;
  int start;
  int end = kFar;
  double rate;  // annual wage at the job's hours
  int hours;    // per week
  const char* contract;
  const char* soort;
};
struct BijSpell {
  std::int64_t unit;
  bool persoon2;
  const char* code;
  int start;
  int end = kFar;
  const char* leefvorm;
  bool inkomsten;
  const char* reden = nullptr;
};
struct Provision {
  const char* voorziening;
  const char* doelgroep;
  int start;
  int end;
};
struct Traject {
  std::int64_t id;
  const char* type;
  int aanbieder;
  int start;
  int end;
  const char* resultaat;
  int trede;
};
struct JhSpell {
  std::int64_t id;
  const char* hulpvorm;
  bool verblijf;
  const char* verwijzer;
  int start;
  int end;
  const char* reden;
};
struct Protect {
  const char* maatregel;
  int start;
  int end;
};
struct Span {
  int start;
  int end;
};
struct ZelfYear {
  int year;
  std::int64_t income;
};

struct Person {
  std::string rin;
  int birth = 0;
  int by = 0, bm = 0;
  int in_day = 0, out_day = kFar;
  int death = -1;
  std::uint32_t hh = kNone, pa = kNone, ma = kNone, partner = kNone;
  std::int8_t sex = 1, herkomst = 0, gen = 0, role = kHead, edu = 1;
  bool edu_unknown = false, disabled = false;
  double latent = 0, motivation = 0, r_bij = 1;
  int edu_end_age = -1;
  bool early_leaver = false, had_jh = false;
  // Simulation state.
  int state = kSecmNone;
  int job = -1;              // index into jobs of the running job
  int bij = -1;              // index into bij of the running spell
  std::uint32_t co = kNone;  // the persoon1 whose unit this person shares, while forced
  int bij_episode_start = 0;
  int srg_end = -1;
  int forced_job_day = -1;
  int jh_end = -1, jb_end = -1;
  int zelf_sector = -1;
  std::string zelf_sbi;
  bool zelf_personeel = false;
  int pos_open = -1;
  double dga_rate = 0;
  double zelf_u = 0;
  double last_wage = 0;
  bool initialized = false, closed = false;
  // Output.
  std::vector<StateSpell> secm;
  std::vector<PosSpell> pos;
  std::vector<Job> jobs;
  std::vector<BijSpell> bij_spells;
  std::vector<Provision> provisions;
  std::vector<Traject> trajecten;
  std::vector<JhSpell> jh;
  std::vector<Protect> protect;
  std::vector<Span> werkzoekend;
  std::vector<ZelfYear> zelf;
};

struct AddrSpell {
  std::uint32_t obj;
  int start;
  int end;
};
struct Household {
  int buurt = 0;
  std::int8_t type = kEenpersoons;
  int start = 0, end = kFar;
  std::vector<AddrSpell> addr;
  std::vector<std::uint32_t> members;
  bool lowinc = false;
  double frailty = 1;
  int inst_size = 0;
  std::int64_t nr = 0;
};

struct Population {
  std::vector<Person> persons;
  std::vector<Household> households;
};

int AgeYears(const Person& p, int day) {
  const Ymd c = CivilFromDays(day);
  const Ymd b = CivilFromDays(p.birth);
  return c.y - b.y - ((c.m < b.m || (c.m == b.m && c.d < b.d)) ? 1 : 0);
}
int BirthdayDay(const Person& p, int age) {
  const Ymd b = CivilFromDays(p.birth);
  return DaysFromCivil(b.y + age, b.m, std::min(b.d, 28));
}
int AowAge(int day) { return day >= kRef ? 67 : 66; }

class PopulationBuilder {
 public:
  PopulationBuilder(Rng& rng, const Geo& geo, Population& pop) : rng_(rng), geo_(geo), pop_(pop) {
    double num = 0, den = 0;
    for (const WijkDef& w : kWijken) {
      num += w.inhabitants * std::pow(w.ses, -1.6);
      den += w.inhabitants;
    }
    mig_norm_ = num / den;
  }

  void Build(double f) {
    for (int w = 0; w < 13; ++w) {
      for (int bi : geo_.buurten_of_wijk[static_cast<std::size_t>(w)]) {
        const Buurt& bu = geo_.buurten[static_cast<std::size_t>(bi)];
        const double target = bu.pop_target * f * 0.975;
        // Residents on 1 Jan 2024, some of whom arrived during the window.
        double made = 0;
        while (made < target) made += static_cast<double>(MakeHousehold(bi, kRef, Kind::kPresent));
        // Households that left (moved out or died) before the end of the window.
        made = 0;
        while (made < target * 0.18) made += static_cast<double>(MakeHousehold(bi, 0, Kind::kLeaver));
        made = 0;
        while (made < target * 0.018) made += static_cast<double>(MakeHousehold(bi, kRef, Kind::kArrival2024));
      }
    }
    Institutions(f);
  }

 private:
  enum class Kind { kPresent, kLeaver, kArrival2024 };

  std::uint32_t NewPerson(std::uint32_t hh, int sex, int birth, int herkomst, int gen, Role role, double z_hh,
                          double ses) {
    Person p;
    p.hh = hh;
    p.sex = static_cast<std::int8_t>(sex);
    p.birth = birth;
    const Ymd b = CivilFromDays(birth);
    p.by = b.y;
    p.bm = b.m;
    p.herkomst = static_cast<std::int8_t>(herkomst);
    p.gen = static_cast<std::int8_t>(gen);
    p.role = role;
    p.latent = 0.6 * z_hh + 0.8 * rng_.Normal();
    p.motivation = rng_.Normal();
    const double age = (kRef - birth) / 365.25;
    const bool non_western = herkomst >= 2;
    const double e = p.latent + 1.1 * std::log(ses) - 0.018 * std::max(0.0, age - 45) -
                     (gen == 1 && non_western ? 0.5 : 0.0);
    p.edu = static_cast<std::int8_t>(e > -0.05 ? 2 : (e < -1.1 ? 0 : 1));
    p.edu_unknown = rng_.Bernoulli(gen == 1 ? 0.33 : (age >= 65 ? 0.08 : 0.03));
    p.disabled = rng_.Bernoulli(0.045 * (p.edu == 0 ? 1.8 : 1.0));
    pop_.persons.push_back(std::move(p));
    return static_cast<std::uint32_t>(pop_.persons.size() - 1);
  }

  int BirthForAge(double age, int ref) { return ref - Round(age * 365.25) - rng_.IntI(0, 364); }

  // Creates one household in buurt `bi`; returns its number of persons counted towards the target.
  int MakeHousehold(int bi, int ref_in, Kind kind) {
    const Buurt& bu = geo_.buurten[static_cast<std::size_t>(bi)];
    const double ses = bu.ses;
    const int exit_day = kind == Kind::kLeaver ? rng_.IntI(kW0 + 20, kW1 - 1) : kFar;
    const int ref = kind == Kind::kLeaver ? exit_day : ref_in;
    // Household type (domain.md §3.4), single parents likelier in low-SES buurten (C1).
    const double w_eenouder = 0.07 * std::pow(ses, -1.5);
    const std::size_t t = rng_.Choice({0.37, 0.29, 0.25, w_eenouder, 0.02});
    const auto type = static_cast<HhType>(t);
    const std::uint32_t h = static_cast<std::uint32_t>(pop_.households.size());
    pop_.households.emplace_back();
    pop_.households[h].buurt = bi;
    pop_.households[h].type = type;
    pop_.households[h].nr = 100000000 + static_cast<std::int64_t>(h) * 3 + 1;
    const double z_hh = rng_.Normal();
    // Origin (C1): ~30% migration background, more in low-SES areas and among families.
    const double p_mig = Clamp(0.30 * std::pow(ses, -1.6) / mig_norm_ * (type >= kPaarMet ? 1.12 : 1.0), 0.0, 0.9);
    int herk = 0;
    if (rng_.Bernoulli(p_mig)) herk = 1 + static_cast<int>(rng_.Choice({0.35, 0.22, 0.23, 0.20}));
    auto adult_gen = [&](double age) {
      if (herk == 0) return 0;
      return rng_.Bernoulli(age >= 60 ? 0.8 : 0.6) ? 1 : 2;
    };
    std::vector<std::uint32_t> members;
    auto add = [&](int sex, double age, Role role, int herkomst, int gen) {
      const std::uint32_t id = NewPerson(h, sex, BirthForAge(age, ref), herkomst, gen, role, z_hh, ses);
      members.push_back(id);
      return id;
    };
    auto add_kids = [&](std::uint32_t mother, std::uint32_t father, int nkids, double parent_age) {
      const Person& m = pop_.persons[mother != kNone ? mother : father];
      const int kid_herk = m.herkomst;
      const int parent_gen = m.gen;
      double age = rng_.Uniform(0, std::min(parent_age - 20.0, 26.0));
      for (int k = 0; k < nkids && age >= 0; ++k) {
        int kh = kid_herk, kg = 0;
        if (kid_herk != 0) {
          if (parent_gen == 1) {
            kg = 2;
          } else if (rng_.Bernoulli(0.5)) {
            kg = 2;
          } else {
            kh = 0;
          }
        }
        const std::uint32_t c = add(rng_.Bernoulli(0.51) ? 1 : 2, age, kChild, kh, kg);
        pop_.persons[c].ma = mother;
        pop_.persons[c].pa = father;
        age -= rng_.Uniform(1.2, 5.0);
      }
    };
    switch (type) {
      case kEenpersoons: {
        static constexpr double lo[] = {18, 30, 45, 65, 80}, hi[] = {30, 45, 65, 80, 99};
        const std::size_t b = rng_.Choice({0.15, 0.14, 0.27, 0.24, 0.20});
        const double age = rng_.Uniform(lo[b], hi[b]);
        const std::uint32_t id = add(rng_.Bernoulli(age >= 75 ? 0.35 : 0.5) ? 1 : 2, age, kHead, herk, adult_gen(age));
        // Widowed during the window: the deceased partner (present households only).
        if (kind == Kind::kPresent && age >= 68 && rng_.Bernoulli(0.33)) {
          const Person& me = pop_.persons[id];
          const double page = age + rng_.Normal(1, 3);
          const std::uint32_t pid = add(me.sex == 1 ? 2 : 1, page, kPartner, herk, me.gen);
          pop_.persons[pid].death = rng_.IntI(kW0, kRef - 1);
          pop_.persons[pid].partner = id;
          pop_.persons[id].partner = pid;
        }
        break;
      }
      case kPaarZonder: {
        static constexpr double lo[] = {22, 35, 55, 65, 80}, hi[] = {35, 55, 65, 80, 95};
        const std::size_t b = rng_.Choice({0.17, 0.12, 0.23, 0.35, 0.13});
        const double age = rng_.Uniform(lo[b], hi[b]);
        const std::uint32_t a = add(1, age, kHead, herk, adult_gen(age));
        const int pherk = herk != 0 && rng_.Bernoulli(0.25) ? 0 : herk;
        const std::uint32_t c = add(2, std::max(18.5, age + rng_.Normal(-2, 3)), kPartner, pherk,
                                    pherk == 0 ? 0 : pop_.persons[a].gen);
        pop_.persons[a].partner = c;
        pop_.persons[c].partner = a;
        break;
      }
      case kPaarMet: {
        const double mage = rng_.Uniform(28, 59);
        const std::uint32_t ma = add(2, mage, kHead, herk, adult_gen(mage));
        const int pherk = herk != 0 && rng_.Bernoulli(0.2) ? 0 : herk;
        const std::uint32_t pa = add(1, std::max(20.0, mage + rng_.Normal(2, 3)), kPartner, pherk,
                                     pherk == 0 ? 0 : pop_.persons[ma].gen);
        pop_.persons[ma].partner = pa;
        pop_.persons[pa].partner = ma;
        const int nkids = 1 + static_cast<int>(rng_.Choice({0.42, 0.42, 0.12, 0.04}));
        add_kids(ma, pa, nkids, mage);
        break;
      }
      case kEenouder: {
        const bool mother = rng_.Bernoulli(0.82);
        const double page = rng_.Uniform(25, 60);
        const std::uint32_t par = add(mother ? 2 : 1, page, kHead, herk, adult_gen(page));
        const int nkids = 1 + static_cast<int>(rng_.Choice({0.55, 0.35, 0.10}));
        add_kids(mother ? par : kNone, mother ? kNone : par, nkids, page);
        break;
      }
      default: {
        const int n = rng_.IntI(2, 3);
        for (int k = 0; k < n; ++k) {
          const double age = rng_.Uniform(19, 34);
          add(rng_.Bernoulli(0.5) ? 1 : 2, age, k == 0 ? kHead : kOther, herk, adult_gen(age));
        }
        break;
      }
    }
    // Children who left the parental home (and LV) during the window.
    const int n_left = (kind == Kind::kPresent && (type == kPaarMet || type == kEenouder))
                           ? static_cast<int>(rng_.Choice({0.45, 0.35, 0.20})) : 0;
    for (int k = 0; k < n_left; ++k) {
      const Person head = pop_.persons[members[0]];  // a copy: add() may reallocate
      const double head_age = (ref - head.birth) / 365.25;
      if (head_age >= 42) {
        const double age = rng_.Uniform(19, std::min(31.0, head_age - 20));
        const std::uint32_t c = add(rng_.Bernoulli(0.5) ? 1 : 2, age, kChild, head.herkomst,
                                    head.herkomst == 0 ? 0 : 2);
        Person& cp = pop_.persons[c];
        cp.ma = head.sex == 2 ? members[0] : head.partner;
        cp.pa = head.sex == 1 ? members[0] : head.partner;
        const int earliest = std::max(kW0 + 60, BirthdayDay(cp, 18) + 200);
        cp.out_day = earliest < kRef ? rng_.IntI(earliest, kRef - 1) : kRef - 1;
      }
    }
    // Arrival in LV.
    Household& hh = pop_.households[h];
    int earliest = kW0 - 40 * 365;
    for (std::uint32_t m : members) {
      const Person& p = pop_.persons[m];
      if (p.role != kChild) earliest = std::max(earliest, BirthdayDay(p, 18));
    }
    int start;
    if (kind == Kind::kArrival2024) {
      start = rng_.IntI(kRef, kW1 - 1);
    } else if (rng_.Bernoulli(kind == Kind::kPresent ? 0.13 : 0.20)) {
      start = rng_.IntI(kW0, (kind == Kind::kLeaver ? exit_day : kRef) - 1);
    } else {
      start = rng_.IntI(DaysFromCivil(1975, 1, 1), kW0 - 1);
    }
    start = std::max(start, earliest + rng_.IntI(0, 700));
    if (kind == Kind::kPresent && start >= kRef) start = kRef - rng_.IntI(1, 250);
    if (kind == Kind::kLeaver && start >= exit_day - 30) start = exit_day - rng_.IntI(30, 200);
    hh.start = start;
    hh.end = exit_day;
    // Leaving: elderly single households mostly by death.
    if (kind == Kind::kLeaver) {
      for (std::uint32_t m : members) {
        Person& p = pop_.persons[m];
        const double age = (exit_day - p.birth) / 365.25;
        if (type == kEenpersoons && age >= 75 && rng_.Bernoulli(0.8)) p.death = exit_day - 1;
      }
    }
    // Address history: one address, or an earlier one in LV (moves within, mostly same kern).
    const std::uint32_t obj = RandomObject(bi);
    const int move_lo = std::max(start + 60, kW0);
    const int move_hi = std::min(hh.end, kW1) - 30;
    if (move_lo < move_hi && rng_.Bernoulli(0.17)) {
      const int move = rng_.IntI(move_lo, move_hi);
      int prev_b = bi;
      if (rng_.Bernoulli(0.45)) {
        const int w = bu.wijk;
        int w2;
        do {
          w2 = rng_.IntI(0, 12);
        } while (std::string_view(kWijken[w2].kern) != kWijken[w].kern && !rng_.Bernoulli(0.2));
        const auto& bs = geo_.buurten_of_wijk[static_cast<std::size_t>(w2)];
        prev_b = bs[static_cast<std::size_t>(rng_.Int(0, static_cast<std::int64_t>(bs.size()) - 1))];
      }
      hh.addr.push_back({RandomObject(prev_b), start, move});
      hh.addr.push_back({obj, move, hh.end});
    } else {
      hh.addr.push_back({obj, start, hh.end});
    }
    // Frailty shared by siblings (C6) and a low-income proxy for the jeugdhulp hazard.
    hh.frailty = std::exp(rng_.Normal(0, 0.55) - 0.15);
    double lat = 0;
    int nad = 0;
    int counted = 0;
    for (std::uint32_t m : members) {
      Person& p = pop_.persons[m];
      p.in_day = std::max(hh.start, p.birth);
      if (p.out_day == kFar || p.out_day > hh.end) p.out_day = hh.end;
      if (p.death >= 0) p.out_day = std::min(p.out_day, p.death + 1);
      if (p.in_day >= p.out_day) p.in_day = p.out_day - 1;
      if (p.role != kChild) {
        lat += p.latent;
        ++nad;
      }
      if (p.in_day <= ref && p.out_day > ref) ++counted;
    }
    hh.lowinc = lat / std::max(1, nad) + 1.2 * std::log(ses) - (type == kEenouder ? 0.6 : 0.0) < -0.85;
    const int n_members = static_cast<int>(members.size());
    hh.members = std::move(members);
    return kind == Kind::kPresent ? std::max(1, counted) : n_members;
  }

  std::uint32_t RandomObject(int bi) {
    const auto& objs = geo_.buurten[static_cast<std::size_t>(bi)].objects;
    return objs[static_cast<std::size_t>(rng_.Int(0, static_cast<std::int64_t>(objs.size()) - 1))];
  }

  void Institutions(double f) {
    static constexpr int kInstWijk[] = {1, 6, 8, 12};
    for (int k = 0; k < 4; ++k) {
      const std::uint32_t h = static_cast<std::uint32_t>(pop_.households.size());
      pop_.households.emplace_back();
      Household& hh = pop_.households[h];
      hh.type = kInstitutioneel;
      hh.nr = 100000000 + static_cast<std::int64_t>(h) * 3 + 1;
      const auto& bs = geo_.buurten_of_wijk[static_cast<std::size_t>(kInstWijk[k])];
      hh.buurt = bs[0];
      hh.start = DaysFromCivil(1990, 1, 1);
      hh.addr.push_back({RandomObject(hh.buurt), hh.start, kFar});
      const int present = std::max(2, Round(78229 * f * 0.012 / 4));
      const int deceased = std::max(1, Round(78229 * f * 0.011 / 4));
      hh.inst_size = present;
      const double ses = geo_.buurten[static_cast<std::size_t>(hh.buurt)].ses;
      for (int i = 0; i < present + deceased; ++i) {
        const bool died = i >= present;
        const int ref = died ? rng_.IntI(kW0, kW1 - 1) : kRef;
        const double age = rng_.Uniform(78, 101);
        const std::uint32_t id = NewPerson(h, rng_.Bernoulli(0.3) ? 1 : 2, BirthForAge(age, ref),
                                           rng_.Bernoulli(0.1) ? 1 : 0, 0, kOther, rng_.Normal(), ses);
        Person& p = pop_.persons[id];
        if (p.herkomst != 0) p.gen = 1;
        p.in_day = std::max(DaysFromCivil(2008, 1, 1), ref - Round(rng_.Exponential(2.5) * 365.25));
        if (!died && p.in_day >= kRef) p.in_day = kRef - 30;
        if (died) {
          p.death = ref;
          p.out_day = ref + 1;
        }
        hh.members.push_back(id);
      }
    }
  }

  Rng& rng_;
  const Geo& geo_;
  Population& pop_;
  double mig_norm_ = 1;
};

// ---------------------------------------------------------------- the month-by-month simulation

// Calibration constants (tuned against domain.md §3.4 and §6 with seed 42; see README).
struct Calibration {
  double bij_stock = 0.054;     // initial bijstand share at relative risk 1
  double bij_in = 0.00124;      // monthly inflow hazard at risk 1 and state factor 1
  double re_start = 0.017;     // monthly re-integration start hazard on bijstand
  double jh_start = 0.0043;     // monthly jeugdhulp start hazard at factor 1
  double jb_start = 0.00026;    // monthly jeugdbescherming start hazard
};

constexpr const char* kVoorziening[] = {"sociale_activering", "scholing", "werkervaring_proefplaatsing",
                                        "loonkostensubsidie", "jobcoaching", "beschut_werk", "overig"};
constexpr const char* kHulpvorm[] = {"ambulant_locatie", "ambulant_netwerk", "wijkteam", "daghulp",
                                     "pleegzorg", "overig_verblijf", "gezinsgericht", "gesloten"};
constexpr double kHulpvormShare[] = {56, 16.5, 12, 6, 4.7, 3.1, 1.2, 0.5};
constexpr const char* kVerwijzer[] = {"gemeentelijke_toegang", "huisarts", "medisch_specialist",
                                      "gecertificeerde_instelling", "geen", "jeugdarts", "rechter_om"};
constexpr double kVerwijzerShare[] = {40, 35, 8, 6, 6, 3, 2};

class Simulator {
 public:
  Simulator(Rng& rng, Population& pop, const Geo& geo, const Business& biz)
      : rng_(rng), pop_(pop), geo_(geo), biz_(biz) {}

  void Run() {
    PrepareRisk();
    for (std::uint32_t h = 0; h < pop_.households.size(); ++h) SimHousehold(h);
  }

 private:
  double Ses(const Person& p) const {
    return geo_.buurten[static_cast<std::size_t>(pop_.households[p.hh].buurt)].ses;
  }
  const Household& Hh(const Person& p) const { return pop_.households[p.hh]; }
  static bool NonWestern(const Person& p) { return p.herkomst >= 2; }

  void PrepareRisk() {
    double sum = 0;
    int n = 0;
    for (Person& p : pop_.persons) {
      const bool single_parent = Hh(p).type == kEenouder && p.role == kHead;
      p.r_bij = std::exp(-0.9 * std::log(Ses(p)) + 0.85 * (p.edu == 0) - 0.55 * (p.edu == 2) +
                         0.5 * (p.gen == 1 && NonWestern(p)) + 0.25 * (p.gen == 2 && NonWestern(p)) +
                         0.75 * single_parent + 0.9 * p.disabled - 0.25 * p.motivation);
      const int age = AgeYears(p, kRef);
      if (p.in_day <= kRef && p.out_day > kRef && age >= 18 && age < 67) {
        sum += p.r_bij;
        ++n;
      }
    }
    const double mean = n > 0 ? sum / n : 1.0;
    for (Person& p : pop_.persons) p.r_bij /= mean;
  }

  int DayIn(const Person& p, int d0, int d1) {
    const int lo = std::max(d0, p.in_day);
    const int hi = std::min(d1, p.out_day) - 1;
    return hi <= lo ? lo : rng_.IntI(lo, hi);
  }

  // ---- jobs and positions
  double WageRate(const Person& p, int day) {
    static constexpr double kEduF[] = {0.72, 0.92, 1.38};
    const int age = AgeYears(p, day);
    const double agef = age < 23 ? 0.5 : age < 30 ? 0.8 : age < 45 ? 1.05 : age < 55 ? 1.12 : 1.08;
    return 39500 * Ses(p) * kEduF[p.edu] * agef * std::exp(0.22 * p.latent + rng_.Normal(0, 0.22));
  }

  void StartJob(Person& p, int day, bool entry, bool side) {
    Job j;
    j.be = PickEmployer(rng_, biz_);
    j.ikv = next_ikv_++;
    j.start = day;
    int hours;
    if (side) {
      hours = rng_.IntI(6, 16);
    } else if (p.sex == 2) {
      static constexpr int kH[] = {16, 24, 32, 38};
      hours = kH[rng_.Choice({0.2, 0.35, 0.3, 0.15})];
    } else {
      static constexpr int kH[] = {24, 32, 38};
      hours = kH[rng_.Choice({0.1, 0.15, 0.75})];
    }
    j.hours = hours;
    const double fte = WageRate(p, day);
    j.rate = fte * hours / 38.0;
    if (!side) p.last_wage = j.rate;
    const int age = AgeYears(p, day);
    const bool flex = rng_.Bernoulli(side ? 0.9 : (entry || age < 25) ? 0.6 : 0.25);
    j.contract = flex ? "B" : "O";
    if (side) {
      j.soort = age < 23 && rng_.Bernoulli(0.1) ? "stage" : "oproep";
    } else if (p.disabled && rng_.Bernoulli(0.15)) {
      j.soort = "wsw";
    } else {
      static constexpr const char* kSoort[] = {"regulier", "uitzend", "oproep"};
      j.soort = kSoort[rng_.Choice({flex ? 0.70 : 0.97, flex ? 0.18 : 0.02, flex ? 0.12 : 0.01})];
    }
    if (side) {
      j.end = day + rng_.IntI(60, 500);
    } else {
      p.job = static_cast<int>(p.jobs.size());
      p.pos_open = static_cast<int>(p.pos.size());
      p.pos.push_back({flex ? "werknemer_flex" : "werknemer_vast", biz_.enterprises[j.be].sbi, day});
    }
    p.jobs.push_back(j);
  }

  void EndJobAndPos(Person& p, int day) {
    if (p.job >= 0) p.jobs[static_cast<std::size_t>(p.job)].end = day;
    if (p.pos_open >= 0) p.pos[static_cast<std::size_t>(p.pos_open)].end = day;
    p.job = -1;
    p.pos_open = -1;
  }

  // Closes the running SECM spell at `day` and opens `state` (kSecmNone opens nothing).
  void SetState(Person& p, int state, int day, bool entry_job = false) {
    if (state == p.state && state != kWerknemer) return;
    const int old = p.state;
    if (old == kWerknemer || old == kDga || old == kZelfstandige || old == kOverigActief || old == kStudentInc) {
      EndJobAndPos(p, day);
    }
    if (!p.secm.empty() && p.secm.back().end == kFar) {
      if (p.secm.back().start >= day) {
        p.secm.pop_back();
      } else {
        p.secm.back().end = day;
      }
    }
    p.state = state;
    if (state == kSecmNone) return;
    if (!p.secm.empty() && p.secm.back().state == state && p.secm.back().end == day) {
      p.secm.back().end = kFar;  // merge with an adjacent spell of the same category
    } else {
      p.secm.push_back({state, day});
    }
    switch (state) {
      case kWerknemer:
        StartJob(p, day, entry_job, false);
        break;
      case kStudentInc:
        StartJob(p, day, true, true);
        p.job = static_cast<int>(p.jobs.size()) - 1;
        p.jobs.back().end = kFar;
        break;
      case kDga:
        p.dga_rate = WageRate(p, day) * 1.5;
        p.pos_open = static_cast<int>(p.pos.size());
        p.pos.push_back({"dga", biz_.enterprises[PickEmployer(rng_, biz_)].sbi, day});
        break;
      case kZelfstandige: {
        if (p.zelf_sector < 0) {
          double w[7];
          for (std::size_t s = 0; s < 7; ++s) w[s] = ZzpSectors()[s].share;
          p.zelf_sector = static_cast<int>(rng_.Choice(w, 7));
          p.zelf_sbi = PickCode(rng_, ZzpSectors()[static_cast<std::size_t>(p.zelf_sector)].codes);
          p.zelf_personeel = rng_.Bernoulli(0.17 * (p.sex == 1 ? 1.3 : 0.7) * (p.edu == 2 ? 1.2 : 0.8));
          p.zelf_u = rng_.Normal();
        }
        p.pos_open = static_cast<int>(p.pos.size());
        p.pos.push_back({p.zelf_personeel ? "zelfstandige_met_personeel" : "zzp", p.zelf_sbi, day});
        break;
      }
      case kOverigActief:
        p.pos_open = static_cast<int>(p.pos.size());
        p.pos.push_back({"meewerkend", p.zelf_sbi.empty() ? std::string("4729") : p.zelf_sbi, day});
        break;
      case kWw:
        if (rng_.Bernoulli(0.85)) p.werkzoekend.push_back({day, day + rng_.IntI(60, 330)});
        break;
      default:
        break;
    }
  }

  // ---- the active-age state distribution (redrawn at job/status changes)
  int DrawActive(const Person& p, int day) {
    const int age = AgeYears(p, day);
    const double ses = Ses(p);
    const bool gen1nw = p.gen == 1 && NonWestern(p);
    bool mother_with_kids = false;
    if (p.sex == 2 && p.role != kChild) {
      for (std::uint32_t m : Hh(p).members) {
        const Person& c = pop_.persons[m];
        if (c.role == kChild && (c.ma != kNone && &pop_.persons[c.ma] == &p) && AgeYears(c, day) < 12) {
          mother_with_kids = true;
          break;
        }
      }
    }
    const bool young = age <= 26;
    static constexpr double kE11[] = {0.75, 0.95, 1.05};
    static constexpr double kE13[] = {0.6, 0.9, 1.35};
    const double neet = age <= 26 ? 0.007 * (p.had_jh ? 2.0 : 1.0) * (p.early_leaver ? 2.5 : 1.0) * std::pow(ses, -1.1) : 0;
    const double a13 = age < 25 ? 0.25 : age < 35 ? 0.75 : age < 65 ? 1.25 : 0.8;
    const double w[] = {
        0.70 * kE11[p.edu] * (p.disabled ? 0.35 : 1.0) * (gen1nw ? 0.8 : 1.0),         // 11
        age < 25 ? 0.0 : 0.02 * (p.edu == 2 ? 1.8 : 0.6) * ses,                          // 12
        0.135 * std::pow(ses, 0.3) * a13 * kE13[p.edu] * (p.sex == 1 ? 1.25 : 0.8),       // 13
        0.008,                                                                           // 14
        young ? 0.03 : 0.06,                                                             // 21
        (young ? 0.004 : 0.02) + (p.disabled ? (young ? 0.25 : 0.5) : 0.0) + (age >= 55 ? 0.02 : 0.0),    // 23
        young ? 0.01 : 0.03,                                                             // 24
        age >= 60 ? 0.08 : 0.0,                                                          // 25
        (young ? 0.005 : 0.035) + (mother_with_kids ? 0.05 : 0.0) + (gen1nw ? 0.06 : 0.0) + neet};  // 32
    static constexpr int kStates[] = {kWerknemer, kDga, kZelfstandige, kOverigActief, kWw,
                                      kOtherBenefit, kSick, kPension, kNoIncome};
    return kStates[rng_.Choice(w, 9)];
  }

  // ---- education
  void DecideEducation(Person& p) {
    if (p.edu_end_age >= 0) return;
    switch (p.edu) {
      case 0: p.edu_end_age = 16 + rng_.IntI(0, 2); break;
      case 1: p.edu_end_age = 18 + rng_.IntI(0, 3); break;
      default: p.edu_end_age = 21 + rng_.IntI(0, 3); break;
    }
    static constexpr double kEduQ[] = {3.0, 1.0, 0.2};
    const double q = 0.025 * (p.had_jh ? 2.5 : 1.0) * std::pow(Ses(p), -1.1) * kEduQ[p.edu];
    if (rng_.Bernoulli(std::min(0.8, q))) {
      p.early_leaver = true;
      p.edu_end_age = 16 + rng_.IntI(0, 1);
      p.edu = 0;
    }
    if (p.gen == 1 && p.edu_unknown) p.edu_end_age = std::min(p.edu_end_age, 17);
  }
  static int SchoolYear(int day) {
    const Ymd c = CivilFromDays(day);
    return c.m >= 8 ? c.y : c.y - 1;
  }
  bool Enrolled(const Person& p, int day) const {
    const int age_oct = AgeYears(p, DaysFromCivil(SchoolYear(day), 10, 1));
    if (age_oct < 4) return false;
    if (p.edu_end_age < 0) return age_oct <= 15;
    return age_oct <= p.edu_end_age;
  }

  // ---- bijstand
  const char* Leefvorm(const Person& p, int day) const {
    if (p.partner != kNone) {
      const Person& q = pop_.persons[p.partner];
      if (q.in_day <= day && q.out_day > day) return "gehuwd_samenwonend";
    }
    if (p.role == kHead || p.role == kPartner) {
      for (std::uint32_t m : Hh(p).members) {
        const Person& c = pop_.persons[m];
        if (c.role == kChild && c.in_day <= day && c.out_day > day && AgeYears(c, day) < 18) {
          return "alleenstaande_ouder";
        }
      }
    }
    return "alleenstaand";
  }

  void StartBijstand(std::uint32_t pi, int day, int from_state, int spell_start) {
    Person& p = pop_.persons[pi];
    const char* code = "ALG";
    const int age = AgeYears(p, day);
    if (from_state == kWw && age >= 50 && rng_.Bernoulli(0.3)) code = "IOAW";
    if (from_state == kZelfstandige && rng_.Bernoulli(0.35)) code = age >= 55 ? "IOAZ" : "BBZ";
    BijSpell b;
    b.unit = next_unit_++;
    b.persoon2 = false;
    b.code = code;
    b.start = spell_start;
    b.leefvorm = Leefvorm(p, day);
    b.inkomsten = rng_.Bernoulli(0.12);
    SetState(p, kBijstand, day);
    p.secm.back().start = std::min(p.secm.back().start, spell_start);
    p.bij = static_cast<int>(p.bij_spells.size());
    p.bij_spells.push_back(b);
    p.bij_episode_start = spell_start;
    p.forced_job_day = -1;
    if (b.inkomsten) {
      StartJob(p, std::max(day, spell_start) + rng_.IntI(0, 200), false, true);
    }
    if (rng_.Bernoulli(age < 27 ? 0.6 : age < 50 ? 0.3 : 0.1)) p.werkzoekend.push_back({day, day + rng_.IntI(90, 500)});
    // The partner shares the benefit unit unless working or retired.
    if (std::string_view(b.leefvorm) == "gehuwd_samenwonend") {
      Person& q = pop_.persons[p.partner];
      const int qage = AgeYears(q, day);
      if (q.initialized && !q.closed && qage >= 18 && qage < AowAge(day) && q.bij < 0 &&
          (q.state == kNoIncome || q.state == kWw || q.state == kOtherBenefit || q.state == kSick ||
           q.state == kStudentNoInc) && rng_.Bernoulli(0.8)) {
        JoinUnit(p.partner, pi, day);
      }
    }
  }

  void JoinUnit(std::uint32_t qi, std::uint32_t pi, int day) {
    Person& q = pop_.persons[qi];
    const Person& p = pop_.persons[pi];
    const BijSpell& head = p.bij_spells[static_cast<std::size_t>(p.bij)];
    BijSpell b = head;
    b.persoon2 = true;
    b.inkomsten = false;
    b.start = std::max(head.start, std::min(day, q.in_day > head.start ? q.in_day : head.start));
    SetState(q, kBijstand, day);
    q.secm.back().start = std::min(q.secm.back().start, b.start);
    q.bij = static_cast<int>(q.bij_spells.size());
    q.bij_spells.push_back(b);
    q.bij_episode_start = b.start;
    q.co = pi;
  }

  void EndBijstand(std::uint32_t pi, int day, const char* reason, int next_state) {
    Person& p = pop_.persons[pi];
    if (p.bij < 0) return;
    BijSpell& b = p.bij_spells[static_cast<std::size_t>(p.bij)];
    b.end = day;
    b.reden = reason;
    p.bij = -1;
    p.co = kNone;
    if (next_state != kBijstand) SetState(p, next_state, day, true);
    if (p.partner != kNone) {
      Person& q = pop_.persons[p.partner];
      if (q.co == pi && q.bij >= 0 && !q.closed) {
        BijSpell& qb = q.bij_spells[static_cast<std::size_t>(q.bij)];
        qb.end = day;
        qb.reden = reason;
        q.bij = -1;
        q.co = kNone;
        SetState(q, std::string_view(reason) == "werk" ? kNoIncome : DrawActive(q, day), day, true);
      }
    }
  }

  void MaybeStartProvision(std::uint32_t pi, int d0, int d1, bool on_bijstand) {
    Person& p = pop_.persons[pi];
    if (p.srg_end > d0) return;
    const int age = AgeYears(p, d0);
    double h;
    double dur = 0;
    if (on_bijstand) {
      dur = (d0 - p.bij_episode_start) / 365.25;
      const double agef = age < 27 ? 2.0 : age < 45 ? 1.3 : age < 55 ? 0.8 : 0.4;
      const double durf = dur < 1 ? 1.8 : dur < 2 ? 1.3 : dur < 5 ? 0.9 : 0.5;
      h = cal_.re_start * agef * durf * std::exp(0.45 * p.motivation) * (p.disabled ? 0.5 : 1.0);
    } else {
      h = (p.state == kNoIncome && age >= 18 && age < 60) ? 0.0006 : 0.0;
    }
    if (h <= 0 || !rng_.Bernoulli(h)) return;
    const int day = DayIn(p, d0, d1);
    const double sa = dur >= 5 ? 2.0 : 1.0;
    const std::size_t v = rng_.Choice({30 * sa, 15, 15, 15, 10, 5, 10});
    static constexpr int kLo[] = {6, 3, 2, 12, 6, 24, 3}, kHi[] = {18, 12, 6, 24, 12, 60, 12};
    const int months = rng_.IntI(kLo[v], kHi[v]);
    Provision pr{kVoorziening[v], on_bijstand ? "bijstand" : (rng_.Bernoulli(0.95) ? "nug" : "anw"), day,
                 day + Round(months * 30.44)};
    p.provisions.push_back(pr);
    p.srg_end = pr.end;
    // C5: job entry effect by provision and group; C4 selection already favours the motivated.
    if (on_bijstand) {
      double eff = 0;
      const bool mid_plus = p.edu >= 1;
      if (v == 2 || v == 3) {
        eff = (age < 45 && mid_plus && dur < 5) ? 0.16 : (age >= 55 || dur >= 5) ? 0.02 : 0.06;
      } else if (v == 1 || v == 4) {
        eff = 0.04;
      } else if (v == 5 || v == 6) {
        eff = 0.02;
      }
      if (rng_.Bernoulli(eff)) p.forced_job_day = day + rng_.IntI(30, 330);
    }
    // Most provisions come with a municipal trajectory.
    if (rng_.Bernoulli(0.75)) {
      Traject t;
      t.id = next_traject_++;
      const bool taal = p.gen == 1 && NonWestern(p) && rng_.Bernoulli(0.5);
      if (p.bij >= 0 && std::string_view(p.bij_spells[static_cast<std::size_t>(p.bij)].code) == "BBZ") {
        t.type = "ondernemerschap_bbz";
      } else if (taal || (v == 0 && rng_.Bernoulli(0.2))) {
        t.type = "taaltraject";
      } else if (v == 1 || v == 2) {
        t.type = rng_.Bernoulli(0.6) ? "leerwerkbaan" : "werkfit";
      } else {
        t.type = "werkfit";
      }
      t.aanbieder = rng_.IntI(1, 12);
      t.start = day + rng_.IntI(0, 20);
      t.end = t.start + rng_.IntI(90, 365);
      t.resultaat = nullptr;  // decided once the person's history is known
      static constexpr int kTrede[] = {2, 3, 4, 4, 4, 3, 3};
      t.trede = Clamp(kTrede[v] + rng_.IntI(-1, 1), 1, 6);
      p.trajecten.push_back(t);
    }
  }

  // ---- youth care
  bool ParentOnBijstand(const Person& c) const {
    return (c.pa != kNone && pop_.persons[c.pa].state == kBijstand) ||
           (c.ma != kNone && pop_.persons[c.ma].state == kBijstand);
  }
  double JhFactor(const Person& c, int day) const {
    const int age = AgeYears(c, day);
    if (age >= 23) return 0;
    const double fa = age < 4 ? 0.45 : age < 8 ? 0.95 : age < 12 ? 1.55 : age < 18 ? 1.15 : 0.22;
    double fs = 1;
    if (age >= 4 && age < 12) fs = c.sex == 1 ? 1.3 : 0.77;
    if (age >= 12 && age < 18) fs = c.sex == 2 ? 1.2 : 0.85;
    const Household& h = Hh(c);
    const bool home = c.role == kChild && age < 18;
    return fa * fs * std::pow(Ses(c), -0.5) * (home && ParentOnBijstand(c) ? 2.0 : 1.0) *
           (home && h.type == kEenouder ? 1.7 : 1.0) * (home && h.lowinc ? 1.5 : 1.0) * h.frailty;
  }
  void StartJh(Person& c, int start, const char* verwijzer) {
    const std::size_t hv = rng_.Choice(kHulpvormShare, 8);
    const bool verblijf = hv == 4 || hv == 5 || hv == 7;
    const int dur = std::max(14, Round(rng_.LogNormal(std::log(verblijf ? 400.0 : 270.0), 0.9)));
    JhSpell s{next_jh_++, kHulpvorm[hv], verblijf,
              verwijzer != nullptr ? verwijzer : kVerwijzer[rng_.Choice(kVerwijzerShare, 7)], start, start + dur, nullptr};
    c.jh.push_back(s);
    c.jh_end = std::max(c.jh_end, s.end);
    c.had_jh = true;
    if (rng_.Bernoulli(0.25)) {  // a second, concurrent trajectory
      std::size_t hv2 = rng_.Choice(kHulpvormShare, 8);
      if (hv2 == hv) hv2 = 2;
      const bool v2 = hv2 == 4 || hv2 == 5 || hv2 == 7;
      const int s2 = start + rng_.IntI(0, 60);
      c.jh.push_back({next_jh_++, kHulpvorm[hv2], v2, s.verwijzer, s2,
                      s2 + std::max(14, Round(rng_.LogNormal(std::log(150.0), 0.8))), nullptr});
    }
  }
  void YouthStep(Person& c, int d0, int d1, bool initial) {
    const int age = AgeYears(c, d0);
    if (age >= 23) return;
    const double f = JhFactor(c, d0);
    if (c.jh_end <= d0) {
      if (initial && c.in_day < kW0 + 1) {
        if (rng_.Bernoulli(std::min(0.5, cal_.jh_start * f * 11))) {
          const int start = kW0 - rng_.IntI(1, 330);
          StartJh(c, start, nullptr);
          if (c.jh.back().end <= kW0) c.jh.back().end = kW0 + rng_.IntI(1, 300);
          c.jh_end = std::max(c.jh_end, c.jh.back().end);
        }
      } else if (rng_.Bernoulli(cal_.jh_start * f)) {
        StartJh(c, DayIn(c, d0, d1), nullptr);
      }
    }
    if (age < 18 && c.role == kChild && c.jb_end <= d0) {
      const Household& h = Hh(c);
      const double fb = (ParentOnBijstand(c) ? 3.0 : 1.0) * (h.type == kEenouder ? 2.0 : 1.0) *
                        std::pow(h.frailty, 1.5) * std::pow(Ses(c), -0.5);
      const double hz = cal_.jb_start * fb;
      const bool start_now = initial && c.in_day < kW0 + 1 ? rng_.Bernoulli(std::min(0.3, hz * 20)) : rng_.Bernoulli(hz);
      if (start_now) {
        const int start = initial && c.in_day < kW0 + 1 ? kW0 - rng_.IntI(1, 500) : DayIn(c, d0, d1);
        int end = start + std::max(60, Round(rng_.LogNormal(std::log(540.0), 0.6)));
        end = std::min(end, BirthdayDay(c, 18));
        if (end <= std::max(start, kW0)) end = std::max(start, kW0) + 30;
        static constexpr const char* kM[] = {"OTS", "voorlopige_OTS", "voogdij", "voorlopige_voogdij"};
        c.protect.push_back({kM[rng_.Choice({75, 10, 12, 3})], start, end});
        c.jb_end = end;
        if (c.jh_end <= std::max(start, kW0)) StartJh(c, std::max(start, kW0 - 30), "gecertificeerde_instelling");
      }
    }
  }

  // ---- one person, one month
  void Init(std::uint32_t pi, int day) {
    Person& p = pop_.persons[pi];
    p.initialized = true;
    const bool pre = p.in_day < kW0;
    const int age = AgeYears(p, day);
    const auto back = [&](double mean_years, int floor_day) {
      return pre ? std::max(floor_day, kW0 - Round(rng_.Exponential(mean_years) * 365.25)) : day;
    };
    if (Hh(p).type == kInstitutioneel) {
      SetState(p, kPension, back(6, BirthdayDay(p, 65)));
      return;
    }
    if (age < 15) return;
    if (age >= AowAge(day)) {
      SetState(p, kPension, pre ? std::min(kW0 - 1, BirthdayDay(p, 65) + 90) : day);
      return;
    }
    DecideEducation(p);
    if (Enrolled(p, day)) {
      SetState(p, rng_.Bernoulli(0.45) ? kStudentInc : kStudentNoInc, back(2, BirthdayDay(p, 15)));
      return;
    }
    if (age >= 18 && rng_.Bernoulli(std::min(0.6, cal_.bij_stock * p.r_bij))) {
      // Joins the partner's running unit if there is one.
      if (p.partner != kNone) {
        const Person& q = pop_.persons[p.partner];
        if (q.bij >= 0 && !q.bij_spells[static_cast<std::size_t>(q.bij)].persoon2 &&
            std::string_view(q.bij_spells[static_cast<std::size_t>(q.bij)].leefvorm) == "gehuwd_samenwonend") {
          JoinUnit(pi, p.partner, day);
          return;
        }
      }
      StartBijstand(pi, day, kNoIncome, back(4.5, BirthdayDay(p, 18)));
      return;
    }
    SetState(p, DrawActive(p, day), back(4, BirthdayDay(p, 15)));
  }

  void Step(std::uint32_t pi, int m, int d0, int d1) {
    Person& p = pop_.persons[pi];
    const int age = AgeYears(p, d0);
    if (Hh(p).type == kInstitutioneel) return;
    if (age < 23) YouthStep(p, d0, d1, false);
    // Reaching AOW age ends everything else.
    const int aow = AowAge(d1 - 1);
    if (AgeYears(p, d1 - 1) >= aow && p.state != kPension) {
      const int day = Clamp(BirthdayDay(p, aow), std::max(d0, p.in_day), d1 - 1);
      if (p.bij >= 0) {
        EndBijstand(pi, day, "aow", kPension);
      } else {
        SetState(p, kPension, day);
      }
      return;
    }
    if (p.state == kPension || age < 15) return;
    if (p.state == kSecmNone) {
      DecideEducation(p);
      SetState(p, Enrolled(p, d0) ? (rng_.Bernoulli(0.45) ? kStudentInc : kStudentNoInc) : DrawActive(p, d0),
               DayIn(p, d0, d1));
      return;
    }
    const bool student = p.state == kStudentInc || p.state == kStudentNoInc;
    if (student) {
      if (!Enrolled(p, d0)) {
        const int day = DayIn(p, d0, d1);
        const int next = DrawActive(p, day);
        SetState(p, next, day, true);
        if (next == kNoIncome && age <= 26 && rng_.Bernoulli(0.6)) p.werkzoekend.push_back({day, day + rng_.IntI(60, 400)});
      }
      return;
    }
    if (p.bij >= 0) {
      if (p.co != kNone) {  // persoon2: follows the unit; may still find work through a provision
        MaybeStartProvision(pi, d0, d1, true);
        if (p.forced_job_day >= d0 && p.forced_job_day < d1) {
          BijSpell& b = p.bij_spells[static_cast<std::size_t>(p.bij)];
          b.end = std::max(p.forced_job_day, b.start + 1);
          b.reden = "werk";
          p.bij = -1;
          p.co = kNone;
          SetState(p, kWerknemer, b.end, true);
        }
        return;
      }
      const double dur = (d0 - p.bij_episode_start) / 365.25;
      if (p.forced_job_day >= d0 && p.forced_job_day < d1) {
        EndBijstand(pi, std::max(p.forced_job_day, p.bij_episode_start + 1), "werk", kWerknemer);
        return;
      }
      double yh = dur < 1 ? 0.58 : dur < 2 ? 0.40 : dur < 5 ? 0.23 : 0.10;
      yh *= (age >= 50 ? 0.65 : 1.0) * (p.edu == 0 ? 0.8 : 1.0) * std::exp(0.2 * p.motivation);
      if (rng_.Bernoulli(1 - std::exp(-yh / 12))) {
        const double werk = age >= 55 ? 0.32 : 0.64;
        static constexpr const char* kReason[] = {"werk", "ander_inkomen", "overig", "partner"};
        const std::size_t r = rng_.Choice({werk, 0.19, 0.10, 0.07});
        const int next = r == 0 ? kWerknemer : r == 1 ? (rng_.Bernoulli(0.7) ? kOtherBenefit : kWw) : kNoIncome;
        EndBijstand(pi, std::max(DayIn(p, d0, d1), p.bij_episode_start + 1), kReason[r], next);
        return;
      }
      MaybeStartProvision(pi, d0, d1, true);
      return;
    }
    // Not on bijstand: inflow (C3), then status changes.
    if (age >= 18) {
      double sf;
      switch (p.state) {
        case kWw: sf = 5.0; break;
        case kNoIncome: sf = age < 27 ? 5.0 : 1.5; break;
        case kWerknemer: sf = 0.35; break;
        case kZelfstandige: case kOverigActief: case kSick: sf = 0.5; break;
        case kOtherBenefit: sf = 0.4; break;
        default: sf = 0.05; break;
      }
      const double young_jh = (age < 27 && p.had_jh ? 2.0 : 1.0) * (age < 27 ? 1.6 : 1.0);
      if (rng_.Bernoulli(cal_.bij_in * p.r_bij * sf * young_jh)) {
        const int day = DayIn(p, d0, d1);
        StartBijstand(pi, day, p.state, day);
        return;
      }
    }
    if (p.state == kNoIncome) MaybeStartProvision(pi, d0, d1, false);
    if (m == 63 && p.state == kZelfstandige && rng_.Bernoulli(0.18)) {  // Tozo, April 2020
      BijSpell b{next_unit_++, false, "TOZO", DaysFromCivil(2020, 4, 1) + rng_.IntI(0, 80), kFar,
                 Leefvorm(p, d0), false, nullptr};
      b.end = std::min(b.start + rng_.IntI(60, 540), DaysFromCivil(2021, 10, 1));
      b.reden = rng_.Bernoulli(0.5) ? "ander_inkomen" : "overig";
      p.bij_spells.push_back(b);
    }
    const double lambda = p.state == kWw ? 1.0 / 8 : p.state == kSick ? 1.0 / 5 : 1.0 / 40;
    if (rng_.Bernoulli(lambda)) {
      const int day = DayIn(p, d0, d1);
      const int next = DrawActive(p, day);
      if (next == kWerknemer && p.state == kWerknemer) {
        if (rng_.Bernoulli(0.5)) {  // job change without a change of category
          EndJobAndPos(p, day);
          StartJob(p, day, false, false);
        }
      } else {
        SetState(p, next, day, p.state != kWerknemer);
        if (next == kNoIncome && age <= 26 && rng_.Bernoulli(0.6)) p.werkzoekend.push_back({day, day + rng_.IntI(60, 400)});
      }
    }
  }

  void Close(std::uint32_t pi) {
    Person& p = pop_.persons[pi];
    if (p.closed) return;
    p.closed = true;
    const int day = p.out_day;
    if (p.bij >= 0) {
      BijSpell& b = p.bij_spells[static_cast<std::size_t>(p.bij)];
      b.end = std::max(day, b.start + 1);
      b.reden = p.death >= 0 ? "overig" : "verhuizing";
      p.bij = -1;
      if (p.partner != kNone) {  // a surviving co-recipient continues on their own
        Person& q = pop_.persons[p.partner];
        if (q.co == pi && !q.closed && q.out_day > day) {
          q.co = kNone;
          q.bij_episode_start = q.bij_spells[static_cast<std::size_t>(q.bij)].start;
        }
      }
    }
    if (p.state != kSecmNone) SetState(p, kSecmNone, day);
  }

  void SimHousehold(std::uint32_t h) {
    Household& hh = pop_.households[h];
    // Adults first, so children see their parents' state of the same month.
    std::vector<std::uint32_t> order = hh.members;
    std::stable_sort(order.begin(), order.end(), [&](std::uint32_t a, std::uint32_t b) {
      return (pop_.persons[a].role == kChild) < (pop_.persons[b].role == kChild);
    });
    for (int m = 0; m < kMonths; ++m) {
      const int d0 = MonthStart(m);
      const int d1 = MonthStart(m + 1);
      for (std::uint32_t pi : order) {
        Person& p = pop_.persons[pi];
        if (p.in_day >= d1 || p.out_day <= d0 || p.closed) continue;
        if (!p.initialized) {
          const int day = std::max(d0, p.in_day);
          Init(pi, day);
          if (AgeYears(p, day) < 23) YouthStep(p, d0, d1, true);
        } else {
          Step(pi, m, d0, d1);
        }
        if (p.out_day < d1) Close(pi);
      }
    }
  }

 public:
  Calibration cal_;

 private:
  Rng& rng_;
  Population& pop_;
  const Geo& geo_;
  const Business& biz_;
  std::int64_t next_ikv_ = 300000001;
  std::int64_t next_unit_ = 5000001;
  std::int64_t next_traject_ = 1;
  std::int64_t next_jh_ = 70000001;
};

// ---------------------------------------------------------------- calendar, events, PIN

struct CalDay {
  int day;
  bool feestdag;
  bool vakantie;
  double rain;
  double temp;
};

int EasterSunday(int y) {  // anonymous Gregorian algorithm
  const int a = y % 19, b = y / 100, c = y % 100, d = b / 4, e = b % 4, f = (b + 8) / 25, g = (b - f + 1) / 3;
  const int h = (19 * a + b - d - g + 15) % 30, i = c / 4, k = c % 4, l = (32 + 2 * e + 2 * i - h - k) % 7;
  const int m = (a + 11 * h + 22 * l) / 451;
  const int month = (h + l - 7 * m + 114) / 31, day = ((h + l - 7 * m + 114) % 31) + 1;
  return DaysFromCivil(y, month, day);
}

std::vector<CalDay> MakeCalendar(Rng& rng) {
  std::vector<CalDay> days;
  double anomaly = 0;
  for (int d = kW0; d < kW1; ++d) {
    const Ymd c = CivilFromDays(d);
    const int doy = d - DaysFromCivil(c.y, 1, 1);
    const int easter = EasterSunday(c.y);
    const bool feest = (c.m == 1 && c.d == 1) || d == easter || d == easter + 1 || (c.m == 4 && c.d == 27) ||
                       (c.m == 5 && c.d == 5) || d == easter + 39 || d == easter + 49 || d == easter + 50 ||
                       (c.m == 12 && (c.d == 25 || c.d == 26));
    // School holidays, region Midden [asm]: Christmas, spring (week of 20 Feb), May, summer, autumn.
    auto week_of = [&](int anchor) {
      const int mon = anchor - (Weekday(anchor) - 1);
      return d >= mon && d < mon + 9;
    };
    const bool vak = (c.m == 12 && c.d >= 22) || (c.m == 1 && c.d <= 5) || week_of(DaysFromCivil(c.y, 2, 20)) ||
                     (d >= DaysFromCivil(c.y, 4, 25) && d <= DaysFromCivil(c.y, 5, 5)) ||
                     (d >= DaysFromCivil(c.y, 7, 15) && d <= DaysFromCivil(c.y, 8, 26)) ||
                     week_of(DaysFromCivil(c.y, 10, 19));
    anomaly = 0.7 * anomaly + rng.Normal(0, 1.6);
    const double temp = 10.5 + 7.5 * std::sin(6.283185307179586 * (doy - 105) / 365.25) + anomaly;
    const double p_wet = 0.45 + 0.08 * std::cos(6.283185307179586 * (doy - 330) / 365.25);
    const double rain = rng.Bernoulli(p_wet) ? std::round(rng.Exponential(4.0) * 10) / 10 : 0.0;
    days.push_back({d, feest, vak, rain, std::round(temp * 10) / 10});
  }
  return days;
}

struct Event {
  std::string naam;
  const char* type = "";
  int start = 0;
  int end = 0;  // inclusive
  int area = 0;
  int bezoekers = 0;
  bool buiten = true;
  double horeca = 0, nonfood = 0, adjacent = 0;
  std::string id;
};

bool InLockdown(int d) {
  return (d >= DaysFromCivil(2020, 3, 12) && d <= DaysFromCivil(2020, 6, 30)) ||
         (d >= DaysFromCivil(2020, 10, 1) && d <= DaysFromCivil(2021, 6, 25)) ||
         (d >= DaysFromCivil(2021, 11, 26) && d <= DaysFromCivil(2022, 2, 25));
}

std::vector<Event> MakeEvents(Rng& rng) {
  static constexpr const char* kAreaLabel[] = {"Huygenskwartier", "De Julianabaan", "Damcentrum",
                                               "Mall of the Netherlands", "Prinsenhof", "Stompwijk"};
  std::vector<Event> all;
  auto ev_of = [](const char* naam, const char* type, int start, int end, int area, int bezoekers, bool buiten) {
    Event e;
    e.naam = naam;
    e.type = type;
    e.start = start;
    e.end = end;
    e.area = area;
    e.bezoekers = bezoekers;
    e.buiten = buiten;
    return e;
  };
  auto first_on_or_after = [](int day, int weekday) {
    while (Weekday(day) != weekday) ++day;
    return day;
  };
  auto last_on_or_before = [](int day, int weekday) {
    while (Weekday(day) != weekday) --day;
    return day;
  };
  for (int y = 2015; y <= 2024; ++y) {
    std::vector<Event> ev;
    ev.push_back(ev_of("Erfgoeddag", "erfgoed", first_on_or_after(DaysFromCivil(y, 4, 12), 6), 0, 0, 3000, false));
    ev.push_back(ev_of("Koningsdag", "koningsdag", DaysFromCivil(y, 4, 27), 0, 0, 15000, true));
    const int huygens = last_on_or_before(DaysFromCivil(y, 6, 30), 6);
    ev.push_back(ev_of("Huygensfestival", "festival", huygens, huygens + 1, 0, 8000, true));
    const int jazz = first_on_or_after(DaysFromCivil(y, 7, 8), 6);
    ev.push_back(ev_of("Voorburg Jazz Culinair", "festival", jazz, jazz + 1, 0, 10000, true));
    ev.push_back(ev_of("Seizoensopening De Julianabaan", "festival", last_on_or_before(DaysFromCivil(y, 8, 31), 6), 0, 1,
                  5000, true));
    ev.push_back(ev_of("Wereldreis in Noord", "festival", first_on_or_after(DaysFromCivil(y, 8, 10), 6), 0, 4, 4000, true));
    ev.push_back(ev_of("Huygensville Kerstmarkt", "kerst", DaysFromCivil(y, 12, 21), DaysFromCivil(y, 12, 22), 0, 12000,
                  true));
    const int n = rng.IntI(24, 34);
    while (static_cast<int>(ev.size()) < n) {
      const int area = static_cast<int>(rng.Choice({0.22, 0.16, 0.2, 0.16, 0.14, 0.12}));
      const int day = DaysFromCivil(y, 1, 1) + rng.IntI(30, 340);
      const std::size_t t = rng.Choice({0.55, 0.3, 0.15});
      Event e;
      e.area = area;
      e.buiten = true;
      if (t == 0) {
        static constexpr const char* kMarkt[] = {"Braderie ", "Kunstmarkt ", "Avondmarkt ", "Boekenmarkt "};
        e.naam = std::string(kMarkt[rng.IntI(0, 3)]) + kAreaLabel[area];
        e.type = "markt";
        e.start = first_on_or_after(day, 6);
        e.bezoekers = rng.IntI(800, 5000);
      } else if (t == 1) {
        static constexpr const char* kSport[] = {"Sportdag ", "Vlietloop ", "Wielerronde ", "Straatvoetbal "};
        e.naam = std::string(kSport[rng.IntI(0, 3)]) + kAreaLabel[area];
        e.type = "sport";
        e.start = first_on_or_after(day, 7);
        e.bezoekers = rng.IntI(500, 4000);
      } else {
        e.naam = std::string("Muziekfestival ") + kAreaLabel[area];
        e.type = "festival";
        e.start = first_on_or_after(day, 6);
        e.end = e.start + 1;
        e.bezoekers = rng.IntI(1500, 7000);
      }
      ev.push_back(e);
    }
    for (Event& e : ev) {
      if (e.end < e.start) e.end = e.start;
      if (InLockdown(e.start) || InLockdown(e.end) || e.end >= kW1) continue;
      e.horeca = (0.2 + 0.4 * std::min(1.0, e.bezoekers / 12000.0)) * rng.Uniform(0.75, 1.0);
      e.nonfood = rng.Uniform(-0.05, 0.10);
      e.adjacent = rng.Uniform(0.0, 0.10);
      all.push_back(e);
    }
  }
  std::stable_sort(all.begin(), all.end(), [](const Event& a, const Event& b) { return a.start < b.start; });
  int year = 0, seq = 0;
  for (Event& e : all) {
    const int y = CivilFromDays(e.start).y;
    if (y != year) {
      year = y;
      seq = 0;
    }
    e.id = "EV" + std::to_string(y) + "-" + Pad(++seq, 3);
  }
  return all;
}

// ---------------------------------------------------------------- incomes

struct IncomeParts {
  double wage = 0, zelf = 0, benefit = 0, pension = 0, other = 0;
  int main_secm = kNoIncome;
  double Primary() const { return wage + zelf; }
  double Gross() const { return wage + zelf + benefit + pension + other; }
};

int Overlap(int a0, int a1, int b0, int b1) { return std::max(0, std::min(a1, b1) - std::max(a0, b0)); }

IncomeParts PersonIncome(const Person& p, const Population& pop, const Geo& geo, int year) {
  IncomeParts r;
  const int y0 = DaysFromCivil(year, 1, 1), y1 = DaysFromCivil(year + 1, 1, 1);
  for (const Job& j : p.jobs) r.wage += Overlap(j.start, std::min(j.end, p.out_day), y0, y1) * j.rate / 365.0;
  for (const ZelfYear& z : p.zelf) {
    if (z.year == year) r.zelf += static_cast<double>(z.income);
  }
  const double ses = geo.buurten[static_cast<std::size_t>(pop.households[p.hh].buurt)].ses;
  static constexpr double kPensEdu[] = {0.6, 1.0, 1.6};
  int best = 0;
  for (const StateSpell& s : p.secm) {
    const int days = Overlap(s.start, std::min(s.end, p.out_day), y0, y1);
    if (days <= 0) continue;
    if (days > best) {
      best = days;
      r.main_secm = s.state;
    }
    switch (s.state) {
      case kDga: r.zelf += days * p.dga_rate / 365.0; break;
      case kWw: case kSick: r.benefit += days * 0.7 * std::max(18000.0, p.last_wage) / 365.0; break;
      case kBijstand: r.benefit += days * 15000.0 / 365.0; break;
      case kOtherBenefit: r.benefit += days * 17500.0 / 365.0; break;
      case kPension: r.pension += days * (16500.0 + 11000.0 * ses * kPensEdu[p.edu]) / 365.0; break;
      case kStudentNoInc: r.other += AgeYears(p, s.start) >= 18 ? days * 3600.0 / 365.0 : 0.0; break;
      default: break;
    }
  }
  for (const BijSpell& b : p.bij_spells) {
    if (std::string_view(b.code) == "TOZO") r.benefit += Overlap(b.start, b.end, y0, y1) * 1100.0 * 12 / 365.0;
  }
  return r;
}

int NationalPercentile(double x, double median, double sigma) {
  if (x <= 0) return 1;
  const double z = (std::log(x) - std::log(median)) / sigma;
  const double cdf = 0.5 * std::erfc(-z / std::sqrt(2.0));
  return Clamp(static_cast<int>(std::ceil(cdf * 100)), 1, 100);
}

// Household composition on a day: type, size and each present member's position.
struct Composition {
  const char* typhh = "eenpersoons";
  int size = 0;
  std::vector<std::pair<std::uint32_t, const char*>> members;
};
Composition ComposeAt(const Population& pop, const Household& hh, int day) {
  Composition c;
  int adults = 0, kids = 0;
  bool head = false, partner = false;
  for (std::uint32_t m : hh.members) {
    const Person& p = pop.persons[m];
    if (p.in_day > day || p.out_day <= day) continue;
    ++c.size;
    if (p.role == kChild) {
      ++kids;
    } else {
      ++adults;
      head |= p.role == kHead;
      partner |= p.role == kPartner;
    }
  }
  if (hh.type == kInstitutioneel) {
    c.typhh = "institutioneel";
  } else if (c.size == 1) {
    c.typhh = "eenpersoons";
  } else if (head && partner && adults == 2) {
    c.typhh = kids > 0 ? "paar_met_kind" : "paar_zonder_kind";
  } else if (head && adults == 1 && kids > 0) {
    c.typhh = "eenouder";
  } else {
    c.typhh = "overig";
  }
  for (std::uint32_t m : hh.members) {
    const Person& p = pop.persons[m];
    if (p.in_day > day || p.out_day <= day) continue;
    const char* pl;
    if (hh.type == kInstitutioneel) {
      pl = "overig";
    } else if (p.role == kChild) {
      pl = "kind";
    } else if (c.size == 1) {
      pl = "alleenstaand";
    } else if ((p.role == kHead || p.role == kPartner) && head && partner && adults == 2) {
      pl = "partner";
    } else if (p.role == kHead && kids > 0) {
      pl = "ouder";
    } else {
      pl = "overig";
    }
    c.members.emplace_back(m, pl);
  }
  return c;
}

// ---------------------------------------------------------------- writing

class Writer {
 public:
  Writer(sqlite3* db, Rng& rng, std::uint64_t seed, const GeneratorOptions& options, Population& pop, const Geo& geo,
         Business& biz, double fb)
      : db_(db), rng_(rng), seed_(seed), options_(options), pop_(pop), geo_(geo), biz_(biz), fb_(fb) {}

  absl::Status WriteAll() {
    ENCLAVE_RETURN_IF_ERROR(Meta());
    ENCLAVE_RETURN_IF_ERROR(Reference());
    ENCLAVE_RETURN_IF_ERROR(PersonTables());
    ENCLAVE_RETURN_IF_ERROR(WorkTables());
    ENCLAVE_RETURN_IF_ERROR(IncomeTables());
    ENCLAVE_RETURN_IF_ERROR(SocialTables());
    ENCLAVE_RETURN_IF_ERROR(BusinessTables());
    ENCLAVE_RETURN_IF_ERROR(PinAndCalendar());
    return absl::OkStatus();
  }

 private:
  int Fin(int end, const Person& p) const {
    const int e = std::min(end, p.out_day);
    return e >= kW1 ? kFar : e;
  }

  absl::Status Meta() {
    Inserter ins(db_, "INSERT INTO meta VALUES (?,?)", "meta");
    const std::pair<const char*, std::string> rows[] = {
        {"data_version", DataVersion(options_)},
        {"generator", "enclave-datagen 0.1.0"},
        {"seed", std::to_string(seed_)},
        {"scale", options_.scale},
        {"persons", std::to_string(pop_.persons.size())},
        {"created_utc", "2025-01-01T00:00:00Z"},
        {"window", "2015-2024"},
    };
    for (const auto& [k, v] : rows) ins.Text(k).Text(v).Row();
    return ins.status();
  }

  absl::Status Reference() {
    {
      Inserter ins(db_, "INSERT INTO ref_gebied VALUES (?,?,?,?,?,?,?,?,?)", "ref_gebied");
      for (const Buurt& b : geo_.buurten) {
        const WijkDef& w = kWijken[b.wijk];
        ins.Text(b.code).Text("Buurt " + b.code.substr(6, 2) + "-" + b.code.substr(8, 2)).Text(w.code)
            .Text("Wijk " + Pad(b.wijk + 1, 2)).Text(w.kern).Text("GM1916").Real(std::round(b.ses * 1000) / 1000)
            .Int(b.pop_target).Int(b.dwellings_target).Row();
      }
      ENCLAVE_RETURN_IF_ERROR(ins.status());
    }
    {
      Inserter ins(db_, "INSERT INTO ref_sbi VALUES (?,?,?,?)", "ref_sbi");
      for (const SbiDef& s : kSbi) ins.Text(s.code).Text(s.sectie).Text(s.omschrijving).Text(s.group).Row();
      ENCLAVE_RETURN_IF_ERROR(ins.status());
    }
    Inserter ins(db_, "INSERT INTO vslgwbtab VALUES (?,?,?,?,?)", "vslgwbtab");
    for (const AddressObject& o : geo_.objects) {
      const Buurt& b = geo_.buurten[static_cast<std::size_t>(o.buurt)];
      ins.Text(o.id).Text(o.pc4).Text(b.code).Text(kWijken[b.wijk].code).Text("GM1916").Row();
    }
    return ins.status();
  }

  absl::Status PersonTables() {
    Inserter per(db_, "INSERT INTO gbapersoontab VALUES ('R',?,?,?,?,?,?,?)", "gbapersoontab");
    for (const Person& p : pop_.persons) {
      per.Text(p.rin).Text(p.sex == 1 ? "1" : "2").Int(p.by).Int(p.bm).Text(kHerkomst[p.herkomst])
          .Int(p.herkomst == 0 ? 0 : p.gen);
      if (p.death >= 0) {
        per.Text(DateText(p.death));
      } else {
        per.Null();
      }
      per.Row();
    }
    ENCLAVE_RETURN_IF_ERROR(per.status());
    Inserter adr(db_, "INSERT INTO gbaadresobjectbus VALUES ('R',?,?,?,?)", "gbaadresobjectbus");
    Inserter hhs(db_, "INSERT INTO gbahuishoudensbus VALUES ('R',?,?,?,?,?,?,?)", "gbahuishoudensbus");
    for (const Household& hh : pop_.households) {
      for (std::uint32_t m : hh.members) {
        const Person& p = pop_.persons[m];
        for (const AddrSpell& a : hh.addr) {
          const int s = std::max(a.start, p.in_day), e = std::min(a.end, p.out_day);
          if (s >= e) continue;
          adr.Text(p.rin).Text(geo_.objects[a.obj].id).Text(DateText(s)).Text(EndText(e)).Row();
        }
      }
      const std::string nr = "HH" + Pad(hh.nr, 9);
      if (hh.type == kInstitutioneel) {
        for (std::uint32_t m : hh.members) {
          const Person& p = pop_.persons[m];
          hhs.Text(p.rin).Text(nr).Text(DateText(p.in_day)).Text(EndText(p.out_day)).Text("institutioneel")
              .Text("overig").Int(hh.inst_size).Row();
        }
        continue;
      }
      // Membership spells split wherever the composition changes.
      std::vector<int> cuts;
      for (std::uint32_t m : hh.members) {
        cuts.push_back(pop_.persons[m].in_day);
        cuts.push_back(pop_.persons[m].out_day);
      }
      std::sort(cuts.begin(), cuts.end());
      cuts.erase(std::unique(cuts.begin(), cuts.end()), cuts.end());
      for (std::size_t i = 0; i + 1 < cuts.size(); ++i) {
        const int s = cuts[i], e = cuts[i + 1];
        const Composition c = ComposeAt(pop_, hh, s);
        for (const auto& [m, pl] : c.members) {
          hhs.Text(pop_.persons[m].rin).Text(nr).Text(DateText(s)).Text(EndText(e)).Text(c.typhh).Text(pl)
              .Int(c.size).Row();
        }
      }
    }
    ENCLAVE_RETURN_IF_ERROR(adr.status());
    ENCLAVE_RETURN_IF_ERROR(hhs.status());
    Inserter ko(db_, "INSERT INTO kinderoudertab VALUES ('R',?,?,?)", "kinderoudertab");
    Inserter opl(db_, "INSERT INTO hoogsteopltab VALUES ('R',?,?,1.0)", "hoogsteopltab");
    Inserter ond(db_, "INSERT INTO onderwijsinschrijving VALUES ('R',?,?,?,?)", "onderwijsinschrijving");
    for (const Person& p : pop_.persons) {
      ko.Text(p.rin).TextOrNull(p.pa != kNone ? pop_.persons[p.pa].rin : "")
          .TextOrNull(p.ma != kNone ? pop_.persons[p.ma].rin : "").Row();
      const int last = std::min(p.out_day, kW1) - 1;
      const int age = AgeYears(p, last);
      if (age >= 15) {
        int lvl = p.edu;
        if (age < 18) lvl = 0;
        if (p.edu == 2 && age < 21 && p.edu_end_age >= age) lvl = 1;
        opl.Text(p.rin).Text(p.edu_unknown ? kEdu[3] : kEdu[lvl]).Row();
      }
      // Enrolment on 1 October of each school year in which the person lived in LV (national data).
      for (int sy = 2014; sy <= 2024; ++sy) {
        const int oct1 = DaysFromCivil(sy, 10, 1);
        if (p.in_day >= DaysFromCivil(sy + 1, 8, 1) || p.out_day <= DaysFromCivil(sy, 8, 1)) continue;
        const int a = AgeYears(p, oct1);
        const int end_age = p.edu_end_age >= 0 ? p.edu_end_age : 15;
        if (a < 4 || a > end_age) continue;
        const char* soort;
        std::string niveau;
        if (a <= 11) {
          soort = "po";
          niveau = (Mix(seed_, static_cast<std::uint64_t>(p.birth)) % 100) < 3 ? "sbo" : "bao";
        } else if (a <= (p.edu == 2 ? 17 : 15)) {
          soort = "vo";
          niveau = p.edu == 2 ? (p.latent > 0.8 ? "vwo" : "havo") : "vmbo";
        } else if (p.edu == 2) {
          soort = p.latent > 0.8 ? "wo" : "hbo";
          niveau = a - 17 <= 3 ? "bachelor" : "master";
        } else if (p.gen == 1 && a >= 18 && p.edu_unknown) {
          soort = "vavo";
          niveau = "vavo";
        } else {
          soort = "mbo";
          niveau = p.edu == 0 ? "mbo2" : (p.latent > -0.2 ? "mbo4" : "mbo3");
        }
        ond.Text(p.rin).Int(sy).Text(soort).Text(niveau).Row();
      }
    }
    ENCLAVE_RETURN_IF_ERROR(ko.status());
    ENCLAVE_RETURN_IF_ERROR(opl.status());
    return ond.status();
  }

  absl::Status WorkTables() {
    Inserter sec(db_, "INSERT INTO secmbus VALUES ('R',?,?,?,?)", "secmbus");
    Inserter pos(db_, "INSERT INTO secmposwrkbus VALUES ('R',?,?,?,?,?)", "secmposwrkbus");
    Inserter pol(db_, "INSERT INTO spolisbus VALUES ('R',?,?,?,?,?,?,?,?,?)", "spolisbus");
    Inserter zb(db_, "INSERT INTO zelfstandigenbedragtab VALUES ('R',?,?,?,?,?)", "zelfstandigenbedragtab");
    for (Person& p : pop_.persons) {
      for (const StateSpell& s : p.secm) {
        const int e = Fin(s.end, p);
        if (e <= s.start) continue;
        sec.Text(p.rin).Text(DateText(s.start)).Text(EndText(e)).Int(s.state).Row();
      }
      for (const PosSpell& s : p.pos) {
        const int e = Fin(s.end, p);
        if (e <= s.start) continue;
        pos.Text(p.rin).Text(DateText(s.start)).Text(EndText(e)).Text(s.poswrk).Text(s.sbi).Row();
      }
      for (const Job& j : p.jobs) {
        const int e = std::min({j.end, p.out_day, kW1});
        for (int y = 2015; y <= 2024; ++y) {
          const int y0 = DaysFromCivil(y, 1, 1), y1 = DaysFromCivil(y + 1, 1, 1);
          const int s = std::max({j.start, y0, p.in_day}), ee = std::min(e, y1);
          if (ee <= s) continue;
          const double frac = (ee - s) / 365.0;
          pol.Text(p.rin).Text("IKV" + Pad(j.ikv, 9)).Text(biz_.enterprises[j.be].be_id).Text(DateText(s))
              .Text(DateText(ee - 1)).Int(Round64(j.rate * frac)).Int(Round64(j.hours * 52.0 * frac))
              .Text(j.contract).Text(j.soort).Row();
        }
      }
      // Income as zelfstandige (C2): log-normal by sector, persistent per person, ~10% losses.
      if (p.zelf_sector >= 0) {
        const ZzpSector& sec_def = ZzpSectors()[static_cast<std::size_t>(p.zelf_sector)];
        const double ses = geo_.buurten[static_cast<std::size_t>(pop_.households[p.hh].buurt)].ses;
        static constexpr double kEduF[] = {0.8, 1.0, 1.15};
        for (int y = 2015; y <= 2024; ++y) {
          const int y0 = DaysFromCivil(y, 1, 1), y1 = DaysFromCivil(y + 1, 1, 1);
          int days = 0;
          for (const StateSpell& s : p.secm) {
            if (s.state == kZelfstandige) days += Overlap(s.start, Fin(s.end, p), y0, y1);
          }
          if (days <= 0) continue;
          double income;
          if (rng_.Bernoulli(0.10)) {
            income = -rng_.LogNormal(std::log(4000.0), 1.1);
          } else {
            income = 1.3 * sec_def.median * std::pow(ses, 0.3) * (p.zelf_personeel ? 1.7 : 1.0) * kEduF[p.edu] *
                     std::exp(0.8 * p.zelf_u + 0.45 * rng_.Normal()) * std::min(1.0, 0.25 + days / 365.0);
          }
          const std::int64_t v = Round64(income);
          p.zelf.push_back({y, v});
          zb.Text(p.rin).Int(y).Int(v).Int(p.zelf_personeel ? 1 : 0).Text(p.zelf_sbi).Row();
        }
      }
    }
    ENCLAVE_RETURN_IF_ERROR(sec.status());
    ENCLAVE_RETURN_IF_ERROR(pos.status());
    ENCLAVE_RETURN_IF_ERROR(pol.status());
    return zb.status();
  }

  absl::Status IncomeTables() {
    Inserter inpa(db_, "INSERT INTO inpatab VALUES ('R',?,?,?,?,?,?,?,?)", "inpatab");
    Inserter inha(db_, "INSERT INTO inhatab VALUES ('R',?,?,?,?,?,?,?)", "inhatab");
    Inserter kop(db_, "INSERT INTO koppelpersoonhuishouden VALUES ('R',?,?,?)", "koppelpersoonhuishouden");
    for (const Household& hh : pop_.households) {
      for (int y = 2015; y <= 2024; ++y) {
        const int ye = YearEnd(y);
        const Composition c = ComposeAt(pop_, hh, ye);
        if (c.size == 0) continue;
        double best = -1e18;
        std::uint32_t hkw = kNone;
        double arbeid = 0, onderneming = 0, uitkering = 0, pensioen = 0, overig = 0, net = 0;
        int adults = 0, kids = 0;
        for (const auto& [m, pl] : c.members) {
          const Person& p = pop_.persons[m];
          const int age = AgeYears(p, ye);
          (age >= 18 ? adults : kids) += 1;
          if (age < 15) continue;
          const IncomeParts inc = PersonIncome(p, pop_, geo_, y);
          const double gross = inc.Gross();
          if (gross == 0 && inc.zelf == 0) continue;
          inpa.Text(p.rin).Int(y).Int(Round64(gross)).Int(Round64(inc.Primary())).Int(Round64(gross))
              .Int(NationalPercentile(gross, 30000, 0.9)).Int(inc.main_secm).Text(pl).Row();
          if (gross > best) {
            best = gross;
            hkw = m;
          }
          arbeid += inc.wage;
          onderneming += inc.zelf;
          uitkering += inc.benefit;
          pensioen += inc.pension;
          overig += inc.other;
          const double rate = 0.08 + 0.24 * std::min(1.0, std::max(0.0, gross) / 150000.0);
          net += gross > 0 ? gross * (1 - rate) : gross;
        }
        if (hh.type == kInstitutioneel || hkw == kNone) continue;
        net += 1300.0 * kids;
        const double eq = 1.0 + 0.37 * std::max(0, adults - 1) + 0.21 * kids;
        const double gest = net / eq;
        const char* source = "overig";
        const double parts[] = {arbeid, onderneming, uitkering, pensioen, overig};
        static constexpr const char* kSource[] = {"arbeid", "eigen_onderneming", "uitkering", "pensioen", "overig"};
        double mx = 0;
        for (int k = 0; k < 5; ++k) {
          if (parts[k] > mx) {
            mx = parts[k];
            source = kSource[k];
          }
        }
        const std::string& hkw_rin = pop_.persons[hkw].rin;
        inha.Text(hkw_rin).Int(y).Int(Round64(net)).Int(Round64(gest)).Int(NationalPercentile(gest, 30500, 0.45))
            .Int(std::max(0, Round(gest / 15500.0 * 100))).Text(source).Row();
        for (const auto& [m, pl] : c.members) kop.Text(pop_.persons[m].rin).Int(y).Text(hkw_rin).Row();
      }
    }
    ENCLAVE_RETURN_IF_ERROR(inpa.status());
    ENCLAVE_RETURN_IF_ERROR(inha.status());
    return kop.status();
  }

  absl::Status SocialTables() {
    Inserter bij(db_, "INSERT INTO bijstandpersoonbus VALUES ('R',?,?,?,?,?,?,?,?,?)", "bijstandpersoonbus");
    Inserter srg(db_, "INSERT INTO srg_reintegratie VALUES ('R',?,?,?,?,?)", "srg_reintegratie");
    Inserter trj(db_, "INSERT INTO gem_reintegratietraject VALUES ('R',?,?,?,?,?,?,?,?)", "gem_reintegratietraject");
    Inserter jh(db_, "INSERT INTO jgdhulpbus VALUES ('R',?,?,?,?,?,?,?,?,'GM1916')", "jgdhulpbus");
    Inserter jb(db_, "INSERT INTO jgdbeschermbus VALUES ('R',?,?,?,?)", "jgdbeschermbus");
    Inserter wz(db_, "INSERT INTO uwv_werkzoekend VALUES ('R',?,?,?)", "uwv_werkzoekend");
    for (const Person& p : pop_.persons) {
      for (const BijSpell& b : p.bij_spells) {
        const int e = Fin(b.end, p);
        if (e <= b.start) continue;
        bij.Text(p.rin).Text("UK" + Pad(b.unit, 8)).Text(b.persoon2 ? "persoon2" : "persoon1").Text(b.code)
            .Text(DateText(b.start)).Text(EndText(e)).Text(b.leefvorm).Int(b.inkomsten ? 1 : 0);
        if (e >= kFar) {
          bij.Null();
        } else {
          bij.Text(b.reden != nullptr ? b.reden : (p.death >= 0 ? "overig" : "verhuizing"));
        }
        bij.Row();
      }
      for (const Provision& v : p.provisions) {
        const int e = Fin(v.end, p);
        if (e <= v.start) continue;
        srg.Text(p.rin).Text(v.voorziening).Text(v.doelgroep).Text(DateText(v.start)).Text(EndText(e)).Row();
      }
      for (const Traject& t : p.trajecten) {
        int e = Fin(t.end, p);
        if (e <= t.start) continue;
        bool work = false;
        for (const StateSpell& s : p.secm) {
          if (s.state == kWerknemer && s.start >= t.start && s.start < std::min(e, kW1)) work = true;
        }
        const char* res;
        if (work) {
          res = "werk";
        } else if (e >= kFar) {
          res = "lopend";
        } else {
          static constexpr const char* kRes[] = {"scholing", "afgebroken_ziekte", "afgebroken_overig"};
          res = kRes[rng_.Choice({0.2, 0.25, 0.55})];
        }
        if (work && e >= kFar) e = std::min(t.end, kW1 - 1);
        trj.Text(p.rin).Text("RT" + Pad(t.id, 7)).Text(t.type).Text(base::Hex64(Mix(seed_ ^ 0xAB1ULL, static_cast<std::uint64_t>(t.aanbieder))))
            .Text(DateText(t.start)).Text(EndText(e)).Text(res).Int(work ? std::max(t.trede, 5) : t.trede)
            .Row();
      }
      for (const JhSpell& s : p.jh) {
        const int e = Fin(s.end, p);
        if (e <= s.start || s.start >= kW1) continue;
        jh.Text(p.rin).Text("JH" + Pad(s.id, 8)).Text(s.hulpvorm).Int(s.verblijf ? 1 : 0).Text(s.verwijzer)
            .Text(DateText(s.start)).Text(EndText(e));
        if (e >= kFar) {
          jh.Null();
        } else if (e == p.out_day && s.end > p.out_day) {
          jh.Text(p.death >= 0 ? "overig" : "verhuizing");
        } else {
          static constexpr const char* kReden[] = {"volgens_plan", "voortijdig_client", "voortijdig_aanbieder", "overig"};
          jh.Text(kReden[(Mix(seed_, static_cast<std::uint64_t>(s.id)) % 100) < 65 ? 0
                         : (Mix(seed_, static_cast<std::uint64_t>(s.id)) % 100) < 78 ? 1
                         : (Mix(seed_, static_cast<std::uint64_t>(s.id)) % 100) < 86 ? 2 : 3]);
        }
        jh.Row();
      }
      for (const Protect& s : p.protect) {
        const int e = Fin(s.end, p);
        if (e <= s.start) continue;
        jb.Text(p.rin).Text(s.maatregel).Text(DateText(s.start)).Text(EndText(e)).Row();
      }
      for (const Span& s : p.werkzoekend) {
        const int e = Fin(s.end, p);
        if (e <= s.start || s.start >= kW1) continue;
        wz.Text(p.rin).Text(DateText(s.start)).Text(EndText(e)).Row();
      }
    }
    for (Inserter* i : {&bij, &srg, &trj, &jh, &jb, &wz}) ENCLAVE_RETURN_IF_ERROR(i->status());
    return absl::OkStatus();
  }

  absl::Status BusinessTables() {
    Inserter be(db_, "INSERT INTO abr_be VALUES (?,?,?,?,?,?,?)", "abr_be");
    for (const Enterprise& e : biz_.enterprises) {
      be.Text(e.be_id).Text(e.kvk_hash).Text(e.sbi).Text(Grootteklasse(e.werkzame)).Text(e.rechtsvorm)
          .Text(DateText(e.aanvang)).Text(EndText(e.einde)).Row();
    }
    ENCLAVE_RETURN_IF_ERROR(be.status());
    Inserter ves(db_, "INSERT INTO vestiging VALUES (?,?,?,?,?,?)", "vestiging");
    for (const Vestiging& v : biz_.vestigingen) {
      ves.Text(v.id).Text(biz_.enterprises[v.be].be_id).Text(geo_.buurten[static_cast<std::size_t>(v.buurt)].code)
          .Text(kAreas[v.area]).Text(v.sbi).Int(v.werkzame).Row();
    }
    return ves.status();
  }

  absl::Status PinAndCalendar() {
    const std::vector<CalDay> cal = MakeCalendar(rng_);
    {
      Inserter k(db_, "INSERT INTO kalender VALUES (?,?,?,?,?,?)", "kalender");
      for (const CalDay& c : cal) {
        k.Text(DateText(c.day)).Int(Weekday(c.day)).Int(c.feestdag ? 1 : 0).Int(c.vakantie ? 1 : 0).Real(c.rain)
            .Real(c.temp).Row();
      }
      ENCLAVE_RETURN_IF_ERROR(k.status());
    }
    const std::vector<Event> events = MakeEvents(rng_);
    {
      Inserter ev(db_, "INSERT INTO evenement VALUES (?,?,?,?,?,?,?,?)", "evenement");
      for (const Event& e : events) {
        ev.Text(e.id).Text(e.naam).Text(e.type).Text(DateText(e.start)).Text(DateText(e.end)).Text(kAreas[e.area])
            .Int(e.bezoekers).Int(e.buiten ? 1 : 0).Row();
      }
      ENCLAVE_RETURN_IF_ERROR(ev.status());
    }
    std::vector<std::vector<const Event*>> on_day(static_cast<std::size_t>(kW1 - kPinFrom));
    for (const Event& e : events) {
      for (int d = std::max(e.start, kPinFrom); d <= e.end; ++d) on_day[static_cast<std::size_t>(d - kPinFrom)].push_back(&e);
    }
    static constexpr int kFootball[][3] = {{2021, 6, 13}, {2021, 6, 17}, {2021, 6, 21}, {2021, 6, 27}, {2022, 11, 21},
                                           {2022, 11, 25}, {2022, 11, 29}, {2022, 12, 3}, {2022, 12, 9}, {2024, 6, 16},
                                           {2024, 6, 21}, {2024, 6, 25}, {2024, 7, 2}, {2024, 7, 6}, {2024, 7, 10}};
    static constexpr double kWeekday[4][7] = {{0.95, 0.9, 0.95, 1.0, 1.2, 1.4, 0.8},
                                              {0.85, 0.85, 0.95, 1.0, 1.1, 1.4, 0.8},
                                              {0.7, 0.75, 0.85, 0.95, 1.3, 1.45, 1.1},
                                              {0.7, 0.75, 0.85, 1.0, 1.35, 1.5, 1.05}};
    auto between = [](int d, int y0, int m0, int d0, int y1, int m1, int d1) {
      return d >= DaysFromCivil(y0, m0, d0) && d <= DaysFromCivil(y1, m1, d1);
    };
    // Scale bases so that LV merchants take ~EUR 1.9m a day (domain.md §3.5 after C8).
    double total = 0;
    for (const Vestiging& v : biz_.vestigingen) total += v.group >= 0 ? v.base : 0.0;
    const double scale = total > 0 ? 1900000.0 * fb_ / total : 1.0;
    Inserter pin(db_, "INSERT INTO pin_dag VALUES (?,?,?,?,?)", "pin_dag");
    for (const Vestiging& v : biz_.vestigingen) {
      if (v.group < 0) continue;
      const bool horeca = v.group >= kHorecaRestaurant;
      const int terminals = std::min(6, 1 + v.werkzame / 8);
      for (int d = std::max(kPinFrom, v.open_from); d < kW1; ++d) {
        const CalDay& c = cal[static_cast<std::size_t>(d - kW0)];
        const Ymd ymd = CivilFromDays(d);
        const int wd = Weekday(d);
        if (v.sunday_closed && wd == 7) continue;
        const bool closed_day = (ymd.m == 1 && ymd.d == 1) || (ymd.m == 12 && ymd.d == 25) || d == EasterSunday(ymd.y);
        if (closed_day && !horeca) continue;
        double mult = (1 + 0.03 * (ymd.y - 2020)) * kWeekday[v.group][wd - 1];
        if (ymd.m == 12 && ymd.d <= 24) mult *= v.group == kRetailNonfood ? (ymd.d >= 18 ? 1.45 : 1.3) : 1.15;
        if (c.vakantie && (ymd.m == 7 || ymd.m == 8)) mult *= 0.9;
        if (horeca && c.rain >= 1) mult *= 1 - std::min(0.2, 0.02 * c.rain);
        if (c.feestdag) mult *= horeca ? (closed_day ? 0.8 : 1.1) : 0.7;
        if (horeca && (between(d, 2020, 3, 15, 2020, 5, 31) || between(d, 2020, 10, 14, 2021, 6, 4) ||
                       between(d, 2021, 12, 19, 2022, 1, 25))) {
          mult *= 0.3;
        }
        if (v.group == kRetailNonfood) {
          if (between(d, 2020, 12, 15, 2021, 3, 2)) mult *= 0.1;
          else if (between(d, 2021, 3, 3, 2021, 4, 27)) mult *= 0.4;
          else if (between(d, 2021, 12, 19, 2022, 1, 14)) mult *= 0.15;
          else if (between(d, 2020, 3, 15, 2020, 5, 31)) mult *= 0.7;
        }
        if (v.group == kRetailFood && between(d, 2020, 3, 15, 2020, 5, 31)) mult *= 1.1;
        for (const auto& f : kFootball) {
          if (DaysFromCivil(f[0], f[1], f[2]) == d) mult *= v.group == kHorecaCafe ? 1.3 : v.group == kHorecaRestaurant ? 0.65 : 1.0;
        }
        for (const Event* e : on_day[static_cast<std::size_t>(d - kPinFrom)]) {
          if (e->area == v.area) {
            mult *= horeca ? 1 + e->horeca : v.group == kRetailNonfood ? 1 + e->nonfood : 1.0;
          } else if (horeca && Adjacent(e->area, v.area)) {
            mult *= 1 + e->adjacent;
          }
        }
        const double omzet = v.base * scale * mult * rng_.LogNormal(0, 0.12);
        const double ticket = v.ticket * rng_.Uniform(0.95, 1.05);
        pin.Text(v.id).Text(DateText(d)).Int(std::max<std::int64_t>(1, Round64(omzet / ticket)))
            .Int(Round64(omzet * 100)).Int(terminals).Row();
      }
    }
    return pin.status();
  }

  sqlite3* db_;
  Rng& rng_;
  std::uint64_t seed_;
  const GeneratorOptions& options_;
  Population& pop_;
  const Geo& geo_;
  Business& biz_;
  double fb_;
};

// ---------------------------------------------------------------- truth file

absl::StatusOr<std::int64_t> Count(sqlite3* db, const std::string& sql) {
  sqlite3_stmt* st = nullptr;
  if (sqlite3_prepare_v2(db, sql.c_str(), -1, &st, nullptr) != SQLITE_OK) {
    return absl::InternalError("truth query failed to prepare");
  }
  std::int64_t v = 0;
  if (sqlite3_step(st) == SQLITE_ROW) v = sqlite3_column_int64(st, 0);
  sqlite3_finalize(st);
  return v;
}

absl::StatusOr<std::string> TruthText(sqlite3* db) {
  std::vector<std::pair<std::string, std::string>> q = {
      {"persons_ever", "SELECT count(*) FROM gbapersoontab"},
      {"residents_20240101",
       "SELECT count(DISTINCT rinpersoon) FROM gbaadresobjectbus WHERE gbadatumaanvangadreshouding <= '20240101' "
       "AND gbadatumeindeadreshouding >= '20240101'"},
      {"households_20240101",
       "SELECT count(DISTINCT huishoudnr) FROM gbahuishoudensbus WHERE datumaanvanghh <= '20240101' AND "
       "datumeindehh >= '20240101' AND typhh <> 'institutioneel'"},
      {"bijstand_alg_persons_20231231",
       "SELECT count(DISTINCT rinpersoon) FROM bijstandpersoonbus WHERE statistiekcode = 'ALG' AND aanvang <= "
       "'20231231' AND einde >= '20231231'"},
      {"bijstand_spells_started_2023",
       "SELECT count(*) FROM bijstandpersoonbus WHERE statistiekcode = 'ALG' AND aanvang BETWEEN '20230101' AND "
       "'20231231'"},
      {"bijstand_spells_ended_2023",
       "SELECT count(*) FROM bijstandpersoonbus WHERE statistiekcode = 'ALG' AND einde BETWEEN '20230101' AND "
       "'20231231'"},
      {"zzp_20231231",
       "SELECT count(DISTINCT s.rinpersoon) FROM secmbus s JOIN secmposwrkbus w ON w.rinpersoon = s.rinpersoon "
       "WHERE s.secm = 13 AND s.aanvsecm <= '20231231' AND s.eindsecm >= '20231231' AND w.poswrk = 'zzp' AND "
       "w.aanvang <= '20231231' AND w.einde >= '20231231'"},
      {"zelfstandigenbedrag_rows_2023", "SELECT count(*) FROM zelfstandigenbedragtab WHERE jaar = 2023"},
      {"jeugdhulp_persons_2023",
       "SELECT count(DISTINCT rinpersoon) FROM jgdhulpbus WHERE begin <= '20231231' AND einde >= '20230101'"},
      {"jeugdbescherming_open_20231231",
       "SELECT count(*) FROM jgdbeschermbus WHERE begin <= '20231231' AND einde >= '20231231'"},
      {"srg_starts_2023", "SELECT count(*) FROM srg_reintegratie WHERE aanvang BETWEEN '20230101' AND '20231231'"},
      {"gem_trajecten", "SELECT count(*) FROM gem_reintegratietraject"},
      {"uwv_werkzoekend_20231231",
       "SELECT count(DISTINCT rinpersoon) FROM uwv_werkzoekend WHERE aanvang <= '20231231' AND einde >= '20231231'"},
      {"vestigingen", "SELECT count(*) FROM vestiging"},
      {"vestigingen_pin", "SELECT count(DISTINCT vestiging_id) FROM pin_dag"},
      {"pin_dag_rows", "SELECT count(*) FROM pin_dag"},
      {"evenementen", "SELECT count(*) FROM evenement"},
  };
  for (const WijkDef& w : kWijken) {
    q.emplace_back(std::string("bijstand_alg_persons_20231231_") + w.code,
                   std::string("SELECT count(DISTINCT b.rinpersoon) FROM bijstandpersoonbus b JOIN gbaadresobjectbus a "
                               "ON a.rinpersoon = b.rinpersoon JOIN vslgwbtab v ON v.rinobjectnummer = "
                               "a.rinobjectnummer WHERE b.statistiekcode = 'ALG' AND b.aanvang <= '20231231' AND "
                               "b.einde >= '20231231' AND a.gbadatumaanvangadreshouding <= '20231231' AND "
                               "a.gbadatumeindeadreshouding >= '20231231' AND v.wijk_code = '") +
                       w.code + "'");
  }
  std::string out;
  for (const auto& [key, sql] : q) {
    ENCLAVE_ASSIGN_OR_RETURN(const std::int64_t v, Count(db, sql));
    out += key + " " + std::to_string(v) + "\n";
  }
  return out;
}

absl::Status WriteTextFile(const std::string& path, const std::string& text) {
  if (!base::WriteFileAtomically(path, text, base::DefaultFileMode()).ok()) {
    return absl::UnavailableError("cannot write the truth file");
  }
  return absl::OkStatus();
}

// ---------------------------------------------------------------- driver

absl::Status Build(sqlite3* db, const GeneratorOptions& options, std::int64_t persons) {
  const double f = static_cast<double>(persons) / 100000.0;
  const std::uint64_t seed = options.seed;
  Rng geo_rng(Mix(seed, 1));
  Rng biz_rng(Mix(seed, 2));
  Rng pop_rng(Mix(seed, 3));
  Rng sim_rng(Mix(seed, 4));
  Rng out_rng(Mix(seed, 5));
  const Geo geo = MakeGeography(geo_rng, f);
  Business biz = MakeBusinesses(biz_rng, geo, std::max(f, 0.02), seed);
  Population pop;
  PopulationBuilder(pop_rng, geo, pop).Build(f);
  // Pseudonyms in person order (tests recompute them from BsnSource).
  ENCLAVE_ASSIGN_OR_RETURN(std::unique_ptr<crypto::Pseudonymiser> pseudonymiser,
                           crypto::Pseudonymiser::FromKey(SyntheticKeyFromSeed(seed)));
  BsnSource bsns(seed);
  for (Person& p : pop.persons) p.rin = pseudonymiser->Pseudonym(bsns.Next());
  Simulator sim(sim_rng, pop, geo, biz);
  sim.Run();
  ENCLAVE_RETURN_IF_ERROR(Exec(db, "BEGIN", "begin transaction"));
  Writer writer(db, out_rng, seed, options, pop, geo, biz, std::max(f, 0.02));
  ENCLAVE_RETURN_IF_ERROR(writer.WriteAll());
  ENCLAVE_RETURN_IF_ERROR(Exec(db, "COMMIT", "commit"));
  base::LogInfo("datagen_tables_written", {{"persons", base::RowCount{static_cast<std::int64_t>(pop.persons.size())}},
                                           {"households", base::RowCount{static_cast<std::int64_t>(pop.households.size())}}});
  return absl::OkStatus();
}

}  // namespace

std::string DataVersion(const GeneratorOptions& options) {
  std::string v = "synthetic-" + options.scale + "-s" + std::to_string(options.seed);
  if (options.persons > 0) v += "-p" + std::to_string(options.persons);
  return v + "-v1";
}

absl::Status Generate(const GeneratorOptions& options) {
  if (options.out_path.empty()) return absl::InvalidArgumentError("out_path is required");
  if (options.scale != "lv" && options.scale != "nl") {
    return absl::InvalidArgumentError("scale must be lv or nl");
  }
  if (options.persons < 0 || options.persons > 50000000) {
    return absl::InvalidArgumentError("persons must be between 0 (scale default) and 50000000");
  }
  if (options.persons > 0 && options.persons < 500) {
    return absl::InvalidArgumentError("persons must be at least 500 (or 0 for the scale default)");
  }
  const std::int64_t persons = options.persons > 0 ? options.persons : 100000;
  if (options.scale == "nl") {
    base::LogWarning("datagen_scale_nl_partial", {{"note", base::Word("gm1916_only_sized_by_persons")}});
  }
  std::string tmp = options.out_path + ".tmp-XXXXXX";
  const int fd = mkstemp(tmp.data());
  if (fd < 0) return absl::UnavailableError("cannot create a temporary file next to the output path");
  close(fd);
  sqlite3* db = nullptr;
  absl::Status status;
  if (sqlite3_open_v2(tmp.c_str(), &db, SQLITE_OPEN_READWRITE, nullptr) != SQLITE_OK) {
    status = absl::UnavailableError("cannot open the temporary database");
  }
  if (status.ok()) status = Exec(db, "PRAGMA journal_mode=OFF; PRAGMA synchronous=OFF; PRAGMA cache_size=-200000;", "pragmas");
  if (status.ok()) status = Exec(db, internal::kSchemaSql, "create schema");
  if (status.ok()) status = Build(db, options, persons);
  if (status.ok()) status = Exec(db, internal::kIndexesSql, "create indexes");
  if (status.ok()) status = Exec(db, internal::kDerivedSql, "create derived layer");
  std::string truth;
  if (status.ok() && !options.truth_out.empty()) {
    absl::StatusOr<std::string> t = TruthText(db);
    if (t.ok()) {
      truth = *std::move(t);
    } else {
      status = t.status();
    }
  }
  if (db != nullptr && sqlite3_close(db) != SQLITE_OK && status.ok()) {
    status = absl::InternalError("closing the database failed");
  }
  if (status.ok() && options.fail_before_rename_for_test) status = absl::InternalError("injected failure before rename");
  if (status.ok() && !base::ReplaceFile(tmp, options.out_path).ok()) {
    status = absl::UnavailableError("cannot rename the database into place");
  }
  if (status.ok() && !options.truth_out.empty()) status = WriteTextFile(options.truth_out, truth);
  if (!status.ok()) {
    std::remove(tmp.c_str());
    std::remove((tmp + "-journal").c_str());
    base::LogError("datagen_failed", {{"code", status.code()}});
  }
  return status;
}

}  // namespace enclave::datagen
