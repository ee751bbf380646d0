// The persons and households at the start of the window (model.h).
#include "enclave/datagen/model.h"

namespace enclave::datagen::internal {
namespace {

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


}  // namespace

void BuildPopulation(Rng& rng, const Geo& geo, Population& pop, double f) {
  PopulationBuilder(rng, geo, pop).Build(f);
}

}  // namespace enclave::datagen::internal
