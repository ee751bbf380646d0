// The geography: wijken, buurten and address objects (model.h).
#include "enclave/datagen/model.h"

namespace enclave::datagen::internal {

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


}  // namespace enclave::datagen::internal
