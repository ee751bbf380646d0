// Enterprises and establishments, and the employer draw (model.h).
#include "enclave/datagen/model.h"

#include "enclave/base/hex.h"

namespace enclave::datagen::internal {

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


}  // namespace enclave::datagen::internal
