// Writing the tables: persons, work, incomes, social services, businesses, calendar, events and PIN turnover (model.h).
#include "enclave/datagen/model.h"

#include "enclave/base/hex.h"
#include "enclave/base/status_macros.h"

namespace enclave::datagen::internal {
namespace {

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


}  // namespace

absl::Status WriteTables(sqlite3* db, Rng& rng, std::uint64_t seed, const GeneratorOptions& options,
                         Population& pop, const Geo& geo, Business& biz, double fb) {
  Writer writer(db, rng, seed, options, pop, geo, biz, fb);
  return writer.WriteAll();
}

}  // namespace enclave::datagen::internal
