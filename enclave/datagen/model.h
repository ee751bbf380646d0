// The synthetic population's model, shared by the generator's parts (internal to enclave/datagen):
// the window and its constants, the SQLite insert helper, the geography, the businesses and the
// persons and households. Each part has its file:
//   geography.cc    the wijken, buurten and address objects
//   businesses.cc   enterprises, establishments and the employer draw
//   population.cc   the persons and households at the start of the window
//   simulation.cc   the month-by-month life course
//   writer.cc       the tables, calendar, events, PIN turnover and incomes written to SQLite
//   truth.cc        the exact counts for tests (--truth-out)
//   generator.cc    the driver: seeds, order of the parts, the atomic database file
#pragma once

#include <sqlite3.h>

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "enclave/datagen/calendar.h"
#include "enclave/datagen/generator.h"
#include "enclave/datagen/rng.h"

namespace enclave::datagen::internal {

inline constexpr std::uint32_t kNone = 0xFFFFFFFFU;
inline constexpr int kW0 = DaysFromCivil(2015, 1, 1);      // window start
inline constexpr int kW1 = DaysFromCivil(2025, 1, 1);      // window end (exclusive)
inline constexpr int kRef = DaysFromCivil(2024, 1, 1);     // reference date of the resident targets
inline constexpr int kOpenDay = DaysFromCivil(2099, 12, 31);
inline constexpr int kFar = kOpenDay + 1;                  // exclusive end of an open spell
inline constexpr int kMonths = 120;
inline constexpr int kYears = 10;                          // 2015..2024
inline constexpr int kPinFrom = DaysFromCivil(2020, 1, 1);

inline int MonthStart(int m) { return DaysFromCivil(2015 + m / 12, m % 12 + 1, 1); }
inline int YearEnd(int y) { return DaysFromCivil(y, 12, 31); }
inline int Round(double x) { return static_cast<int>(std::lround(x)); }
inline std::int64_t Round64(double x) { return static_cast<std::int64_t>(std::llround(x)); }
inline std::string EndText(int end_excl) { return end_excl >= kFar ? "20991231" : DateText(end_excl - 1); }
inline std::string Pad(std::int64_t v, int width) {
  std::string s = std::to_string(v);
  if (static_cast<int>(s.size()) < width) s.insert(0, static_cast<std::size_t>(width) - s.size(), '0');
  return s;
}
template <typename T>
inline T Clamp(T v, T lo, T hi) {
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

inline absl::Status Exec(sqlite3* db, const char* sql, const char* what) {
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
inline constexpr WijkDef kWijken[13] = {
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

Geo MakeGeography(Rng& rng, double f);

// ---------------------------------------------------------------- SBI and businesses

struct SbiDef {
  const char* code;
  const char* sectie;
  const char* omschrijving;
  const char* group;
};
inline constexpr SbiDef kSbi[] = {
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
inline const std::vector<ZzpSector>& ZzpSectors() {
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
inline constexpr const char* kAreas[] = {"huygenskwartier", "julianabaan", "damcentrum", "mall_leidsenhage",
                                  "prinsenhof", "stompwijk", "verspreid"};
inline constexpr int kAreaWijk[] = {8, 9, 5, 0, 1, 3, -1};  // wijk index per winkelgebied
inline constexpr double kAreaShare[] = {0.15, 0.08, 0.12, 0.30, 0.08, 0.025, 0.245};
inline bool Adjacent(int a, int b) {
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

inline std::string Grootteklasse(int n) {
  if (n <= 0) return "0";
  if (n == 1) return "1";
  if (n <= 4) return "2-4";
  if (n <= 9) return "5-9";
  if (n <= 19) return "10-19";
  if (n <= 49) return "20-49";
  return "50+";
}

inline const char* PickCode(Rng& rng, const std::vector<const char*>& codes) {
  return codes[static_cast<std::size_t>(rng.Int(0, static_cast<std::int64_t>(codes.size()) - 1))];
}

Business MakeBusinesses(Rng& rng, const Geo& geo, double fb, std::uint64_t seed);
std::uint32_t PickEmployer(Rng& rng, const Business& b);

// ---------------------------------------------------------------- persons and households

enum Role : std::int8_t { kHead = 0, kPartner = 1, kChild = 2, kOther = 3 };
enum HhType : std::int8_t { kEenpersoons = 0, kPaarZonder = 1, kPaarMet = 2, kEenouder = 3, kOverig = 4, kInstitutioneel = 5 };
inline constexpr const char* kHerkomst[] = {"nederland", "europa", "turkije_marokko", "suriname_caribisch_indonesie",
                                     "overig_buiten_europa"};
inline constexpr const char* kEdu[] = {"laag", "middelbaar", "hoog", "onbekend"};

// SECM codes.
inline constexpr int kSecmNone = 0, kWerknemer = 11, kDga = 12, kZelfstandige = 13, kOverigActief = 14, kWw = 21,
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

inline int AgeYears(const Person& p, int day) {
  const Ymd c = CivilFromDays(day);
  const Ymd b = CivilFromDays(p.birth);
  return c.y - b.y - ((c.m < b.m || (c.m == b.m && c.d < b.d)) ? 1 : 0);
}
inline int BirthdayDay(const Person& p, int age) {
  const Ymd b = CivilFromDays(p.birth);
  return DaysFromCivil(b.y + age, b.m, std::min(b.d, 28));
}
inline int AowAge(int day) { return day >= kRef ? 67 : 66; }

// The persons and households at the start of the window (population.cc).
void BuildPopulation(Rng& rng, const Geo& geo, Population& pop, double f);

// ---------------------------------------------------------------- the month-by-month simulation

// Calibration constants (tuned against domain.md §3.4 and §6 with seed 42; see README).
struct Calibration {
  double bij_stock = 0.054;     // initial bijstand share at relative risk 1
  double bij_in = 0.00124;      // monthly inflow hazard at risk 1 and state factor 1
  double re_start = 0.017;     // monthly re-integration start hazard on bijstand
  double jh_start = 0.0043;     // monthly jeugdhulp start hazard at factor 1
  double jb_start = 0.00026;    // monthly jeugdbescherming start hazard
};

inline constexpr const char* kVoorziening[] = {"sociale_activering", "scholing", "werkervaring_proefplaatsing",
                                        "loonkostensubsidie", "jobcoaching", "beschut_werk", "overig"};
inline constexpr const char* kHulpvorm[] = {"ambulant_locatie", "ambulant_netwerk", "wijkteam", "daghulp",
                                     "pleegzorg", "overig_verblijf", "gezinsgericht", "gesloten"};
inline constexpr double kHulpvormShare[] = {56, 16.5, 12, 6, 4.7, 3.1, 1.2, 0.5};
inline constexpr const char* kVerwijzer[] = {"gemeentelijke_toegang", "huisarts", "medisch_specialist",
                                      "gecertificeerde_instelling", "geen", "jeugdarts", "rechter_om"};
inline constexpr double kVerwijzerShare[] = {40, 35, 8, 6, 6, 3, 2};

// The month-by-month life course of every household (simulation.cc).
void Simulate(Rng& rng, Population& pop, const Geo& geo, const Business& biz);

// Every table of the database, inside the caller's transaction (writer.cc).
absl::Status WriteTables(sqlite3* db, Rng& rng, std::uint64_t seed, const GeneratorOptions& options,
                         Population& pop, const Geo& geo, Business& biz, double fb);

// The truth file (truth.cc).
absl::StatusOr<std::int64_t> Count(sqlite3* db, const std::string& sql);
absl::StatusOr<std::string> TruthText(sqlite3* db);
absl::Status WriteTextFile(const std::string& path, const std::string& text);

}  // namespace enclave::datagen::internal
