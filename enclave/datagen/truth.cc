// The truth file: exact counts for tests, never in the database (model.h).
#include "enclave/datagen/model.h"

#include "enclave/base/file.h"
#include "enclave/base/status_macros.h"

namespace enclave::datagen::internal {

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


}  // namespace enclave::datagen::internal
