// Civil-date arithmetic for the generator: days since 1970-01-01 <-> YYYYMMDD.
#pragma once

#include <string>

namespace enclave::datagen {

struct Ymd {
  int y;
  int m;
  int d;
};

// Howard Hinnant's days_from_civil / civil_from_days (proleptic Gregorian).
constexpr int DaysFromCivil(int y, int m, int d) {
  y -= m <= 2 ? 1 : 0;
  const int era = (y >= 0 ? y : y - 399) / 400;
  const int yoe = y - era * 400;
  const int doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
  const int doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + doe - 719468;
}

constexpr Ymd CivilFromDays(int z) {
  z += 719468;
  const int era = (z >= 0 ? z : z - 146096) / 146097;
  const int doe = z - era * 146097;
  const int yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  const int y = yoe + era * 400;
  const int doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  const int mp = (5 * doy + 2) / 153;
  const int d = doy - (153 * mp + 2) / 5 + 1;
  const int m = mp + (mp < 10 ? 3 : -9);
  return Ymd{y + (m <= 2 ? 1 : 0), m, d};
}

// 1 Monday .. 7 Sunday (1970-01-01 was a Thursday).
constexpr int Weekday(int day) { return ((day % 7 + 7 + 3) % 7) + 1; }

constexpr int DaysInMonth(int y, int m) {
  return DaysFromCivil(m == 12 ? y + 1 : y, m == 12 ? 1 : m + 1, 1) - DaysFromCivil(y, m, 1);
}

inline std::string DateText(int day) {
  const Ymd c = CivilFromDays(day);
  std::string s(8, '0');
  int v = c.y * 10000 + c.m * 100 + c.d;
  for (int i = 7; i >= 0; --i) {
    s[static_cast<std::size_t>(i)] = static_cast<char>('0' + v % 10);
    v /= 10;
  }
  return s;
}

}  // namespace enclave::datagen
