// The month-by-month life course (model.h; calibration: README.md).
#include "enclave/datagen/model.h"

namespace enclave::datagen::internal {
namespace {

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


}  // namespace

void Simulate(Rng& rng, Population& pop, const Geo& geo, const Business& biz) {
  Simulator sim(rng, pop, geo, biz);
  sim.Run();
}

}  // namespace enclave::datagen::internal
