-- Derived layer of the microdata database (as CBS derives its SSB files): tables computed once
-- after the raw tables of schema.sql are loaded and indexes.sql has run, so that templates scan
-- residents by reference date instead of re-deriving residence and status per query.
--
-- * A pure function of the raw tables: it reads nothing else (no clock, no randomness, no
--   insertion order: person numbers are assigned in rinpersoon order). Running it on the same raw
--   tables gives the same derived tables. enclave-datagen runs it whole after indexes.sql
--   (embedded at build time, like schema.sql); enclave-steward runs the same steps after a load
--   or rollback, only those the delivered datasets feed.
-- * Steps: the dependency map. Each table is made by one step that starts at a line
--   `-- @derive [temp] TABLE cost N reads T1 T2 ...` (continued on lines starting `--   `) and
--   ends at the next such line or at `-- @end`. `reads` names every table the step reads: raw
--   tables of schema.sql or tables of earlier steps. `temp` marks a helper table (dropped in the
--   @end section; the steward drops it itself). `cost` is the step's rough share (percent) of a
--   whole rebuild at the municipality's scale, used only for the steward's time estimate. After a
--   delivery the steward rebuilds exactly the tables whose steps read a delivered dataset,
--   directly or through other steps (helper steps run when a table being rebuilt reads them),
--   and it refuses to load if a step's SQL mentions a table its `reads` does not name
--   (enclave/steward/derived_layer.h; tests/steward). A column named like a table counts as a
--   mention (d_ingezetene.uwv_werkzoekend): name the table; at worst it costs a rebuild.
-- * Every derived table starts with d_. They are documented in enclave/datagen/README.md
--   ("Derived layer"). Changing a definition here changes what templates count: bump the version
--   of every template that reads the changed column.
-- * Reference dates (d_peildatum) are exactly those the templates use: 31 March, 30 June,
--   30 September and 31 December of 2018-2024 (T3 quarter ends; T7 half-years; T8 and T9 year ends) and
--   1 January 2019-2025 (T1/T2: residents on 1 January after the reference year).
-- * Residence follows the templates: a person is a resident on date D when an address spell with
--   aanvang <= D <= einde points at an address object with gem_code GM1916, the person is in
--   gbapersoontab and has not died on or before D. A person with two such spells has two rows
--   (told apart by volgnr, the spell's rank among the person's spells), exactly as the templates'
--   joins did.
-- * Ages are completed years at month precision: jaar(D) - geboortejaar - (geboortemaand > maand(D)).

-- @derive d_persoon cost 2 reads gbapersoontab hoogsteopltab jgdhulpbus
-- Static person attributes, one row per gbapersoontab person; pnr is the person's rank in
-- rinpersoon order and serves as the unit in derived tables (shorter than the 32-hex pseudonym).
CREATE TABLE d_persoon (
  pnr INTEGER PRIMARY KEY,
  rinpersoon TEXT NOT NULL UNIQUE,
  geslacht TEXT NOT NULL,              -- man|vrouw
  geboortejaar INTEGER NOT NULL,
  geboortemaand INTEGER NOT NULL,
  herkomst TEXT NOT NULL,              -- the 5 codes of code list herkomst
  opleidingsniveau TEXT NOT NULL,      -- laag|middelbaar|hoog|onbekend (onbekend: no hoogsteopltab row)
  overlijdensdatum TEXT,               -- NULL if alive
  eerste_jeugdhulp TEXT                -- earliest jgdhulpbus.begin; NULL: never youth care
);
INSERT INTO d_persoon
SELECT row_number() OVER (ORDER BY p.rinpersoon), p.rinpersoon,
       CASE p.gbageslacht WHEN '1' THEN 'man' ELSE 'vrouw' END,
       p.gbageboortejaar, p.gbageboortemaand,
       CASE p.herkomst WHEN 'nederland' THEN 'nederland' WHEN 'europa' THEN 'europa'
         WHEN 'turkije_marokko' THEN 'turkije_marokko'
         WHEN 'suriname_caribisch_indonesie' THEN 'suriname_caribisch_indonesie'
         ELSE 'overig_buiten_europa' END,
       COALESCE((SELECT CASE o.opl_niveau3 WHEN 'laag' THEN 'laag' WHEN 'middelbaar' THEN 'middelbaar'
                          WHEN 'hoog' THEN 'hoog' ELSE 'onbekend' END
                 FROM hoogsteopltab o WHERE o.rinpersoon = p.rinpersoon), 'onbekend'),
       p.gbadatumoverlijden,
       (SELECT min(j.begin) FROM jgdhulpbus j WHERE j.rinpersoon = p.rinpersoon)
FROM gbapersoontab p
ORDER BY p.rinpersoon;
ANALYZE d_persoon;

-- @derive d_peildatum cost 0
-- Reference dates. verslagjaar: the year whose 31 December is the date or the day before it
-- (set for 31 December and 1 January dates only); year statuses in d_ingezetene refer to it.
CREATE TABLE d_peildatum (
  peildatum TEXT PRIMARY KEY,
  jaar INTEGER NOT NULL,
  maand INTEGER NOT NULL,
  verslagjaar INTEGER
) WITHOUT ROWID;
WITH RECURSIVE y(jaar) AS (SELECT 2018 UNION ALL SELECT jaar + 1 FROM y WHERE jaar < 2024)
INSERT INTO d_peildatum
SELECT jaar || '0331', jaar, 3, NULL FROM y
UNION ALL SELECT jaar || '0630', jaar, 6, NULL FROM y
UNION ALL SELECT jaar || '0930', jaar, 9, NULL FROM y
UNION ALL SELECT jaar || '1231', jaar, 12, jaar FROM y
UNION ALL SELECT (jaar + 1) || '0101', jaar + 1, 1, jaar FROM y;
ANALYZE d_peildatum;

-- @derive temp d_tmp_peil cost 2 reads d_peildatum gbahuishoudensbus bijstandpersoonbus d_persoon
-- Helper tables (temporary), keyed by person number.
-- Per reference date: institutional household, and the running ALG bijstand spell with the
-- earliest start.
CREATE TEMP TABLE d_tmp_peil (peildatum TEXT, pnr INTEGER, institutioneel INTEGER NOT NULL,
                              bijstand_aanvang TEXT, bijstand_leefvorm TEXT,
                              PRIMARY KEY (peildatum, pnr)) WITHOUT ROWID;
INSERT INTO d_tmp_peil
SELECT peildatum, pnr, max(institutioneel), NULL, NULL FROM (
  SELECT d.peildatum AS peildatum, p.pnr AS pnr, 1 AS institutioneel
  FROM d_peildatum d
  JOIN gbahuishoudensbus h ON h.typhh = 'institutioneel' AND h.datumaanvanghh <= d.peildatum
                          AND h.datumeindehh >= d.peildatum
  JOIN d_persoon p ON p.rinpersoon = h.rinpersoon
  UNION ALL
  SELECT d.peildatum, p.pnr, 0
  FROM d_peildatum d
  JOIN bijstandpersoonbus b ON b.statistiekcode = 'ALG' AND b.aanvang <= d.peildatum
                           AND b.einde >= d.peildatum
  JOIN d_persoon p ON p.rinpersoon = b.rinpersoon)
GROUP BY peildatum, pnr;
UPDATE d_tmp_peil SET (bijstand_aanvang, bijstand_leefvorm) = (
  SELECT b.aanvang, b.leefvorm FROM bijstandpersoonbus b JOIN d_persoon p ON p.rinpersoon = b.rinpersoon
  WHERE p.pnr = d_tmp_peil.pnr AND b.statistiekcode = 'ALG' AND b.aanvang <= d_tmp_peil.peildatum
    AND b.einde >= d_tmp_peil.peildatum
  ORDER BY b.aanvang LIMIT 1);

-- @derive temp d_tmp_jaar cost 9 reads d_peildatum secmbus zelfstandigenbedragtab
--   onderwijsinschrijving uwv_werkzoekend d_persoon
-- Per year 2018-2024: SECM on 31 December (of the spells running that day, the one that started
-- last), personnel in zelfstandigenbedragtab, enrolment in the school year starting in the year,
-- UWV job-seeker spell running on 31 December. Only person-years with any of these have a row.
CREATE TEMP TABLE d_tmp_jaar (jaar INTEGER, pnr INTEGER, secm INTEGER, personeel INTEGER NOT NULL,
                              ingeschreven INTEGER NOT NULL, uwv INTEGER NOT NULL,
                              PRIMARY KEY (jaar, pnr)) WITHOUT ROWID;
INSERT INTO d_tmp_jaar
SELECT jaar, pnr, NULL, max(personeel), max(ingeschreven), max(uwv) FROM (
  SELECT d.verslagjaar AS jaar, p.pnr AS pnr, 0 AS personeel, 0 AS ingeschreven, 0 AS uwv
  FROM d_peildatum d
  JOIN secmbus s ON s.aanvsecm <= d.peildatum AND s.eindsecm >= d.peildatum
  JOIN d_persoon p ON p.rinpersoon = s.rinpersoon
  WHERE d.maand = 12
  UNION ALL
  SELECT z.jaar, p.pnr, z.heeft_personeel <> 0, 0, 0
  FROM zelfstandigenbedragtab z JOIN d_persoon p ON p.rinpersoon = z.rinpersoon
  WHERE z.jaar BETWEEN 2018 AND 2024
  UNION ALL
  SELECT o.schooljaar, p.pnr, 0, 1, 0
  FROM onderwijsinschrijving o JOIN d_persoon p ON p.rinpersoon = o.rinpersoon
  WHERE o.schooljaar BETWEEN 2018 AND 2024
  UNION ALL
  SELECT d.verslagjaar, p.pnr, 0, 0, 1
  FROM d_peildatum d
  JOIN uwv_werkzoekend u ON u.aanvang <= d.peildatum AND u.einde >= d.peildatum
  JOIN d_persoon p ON p.rinpersoon = u.rinpersoon
  WHERE d.maand = 12)
GROUP BY jaar, pnr;
UPDATE d_tmp_jaar SET secm = (
  SELECT s.secm FROM secmbus s JOIN d_persoon p ON p.rinpersoon = s.rinpersoon
  WHERE p.pnr = d_tmp_jaar.pnr AND s.aanvsecm <= d_tmp_jaar.jaar || '1231'
    AND s.eindsecm >= d_tmp_jaar.jaar || '1231'
  ORDER BY s.aanvsecm DESC LIMIT 1);

-- @derive temp d_tmp_adres cost 2 reads gbaadresobjectbus d_persoon
-- Address spells with the person number and the spell's rank among the person's spells.
CREATE TEMP TABLE d_tmp_adres (pnr INTEGER NOT NULL, adresvolgnr INTEGER NOT NULL,
                               rinobjectnummer TEXT NOT NULL, aanvang TEXT NOT NULL, einde TEXT NOT NULL);
INSERT INTO d_tmp_adres
SELECT p.pnr, row_number() OVER (PARTITION BY p.pnr ORDER BY a.gbadatumaanvangadreshouding,
                                 a.gbadatumeindeadreshouding, a.rinobjectnummer),
       a.rinobjectnummer, a.gbadatumaanvangadreshouding, a.gbadatumeindeadreshouding
FROM gbaadresobjectbus a JOIN d_persoon p ON p.rinpersoon = a.rinpersoon;

-- @derive d_ingezetene cost 68 reads d_peildatum d_tmp_adres vslgwbtab ref_gebied d_persoon
--   d_tmp_peil d_tmp_jaar uwv_werkzoekend
-- Residents of GM1916 per reference date with geography, person attributes and statuses.
-- Primary key order (peildatum, leeftijd, ...) makes an age range on one date a contiguous scan.
CREATE TABLE d_ingezetene (
  peildatum TEXT NOT NULL,
  leeftijd INTEGER NOT NULL,           -- completed years on peildatum (month precision)
  pnr INTEGER NOT NULL,
  volgnr INTEGER NOT NULL,             -- rank of the address spell among the person's spells (by
                                       -- start, end, object): two rows if two spells run on the date
  buurt_code TEXT NOT NULL,
  wijk_code TEXT NOT NULL,             -- from vslgwbtab
  kern TEXT NOT NULL,                  -- wijkcluster, from ref_gebied
  geslacht TEXT NOT NULL,              -- man|vrouw
  geboortejaar INTEGER NOT NULL,
  herkomst TEXT NOT NULL,
  opleidingsniveau TEXT NOT NULL,
  institutioneel INTEGER NOT NULL,     -- 1: in an institutional household on peildatum
  bijstand_leefvorm TEXT,              -- ALG bijstand running on peildatum: alleenstaand|
                                       -- alleenstaande_ouder|gehuwd_samenwonend; NULL: none
  bijstand_duurklasse TEXT,            -- 0-1|1-2|2-5|5-plus (months between start and peildatum
                                       -- < 12, < 24, < 60, else); NULL: no bijstand
  eerder_jeugdhulp INTEGER NOT NULL,   -- 1: a jeugdhulp trajectory began on or before peildatum
  -- Year statuses, for 31 December and 1 January dates (NULL on other dates), about verslagjaar:
  secm_ultimo INTEGER,                 -- SECM on 31 December of verslagjaar; NULL: none that day
  zzp INTEGER,                         -- 1: secm_ultimo = 13 and no personnel in verslagjaar
  ingeschreven INTEGER,                -- 1: enrolled in the school year starting in verslagjaar
  uwv_werkzoekend INTEGER,             -- 1: UWV job-seeker spell running on 31 December
  PRIMARY KEY (peildatum, leeftijd, pnr, volgnr)
) WITHOUT ROWID;
INSERT INTO d_ingezetene
SELECT r.peildatum, r.leeftijd, r.pnr, r.volgnr, r.buurt_code, r.wijk_code, r.kern, r.geslacht,
       r.geboortejaar, r.herkomst, r.opleidingsniveau,
       COALESCE(t.institutioneel, 0),
       CASE WHEN t.bijstand_leefvorm IS NULL THEN NULL
            WHEN t.bijstand_leefvorm IN ('alleenstaand', 'alleenstaande_ouder', 'gehuwd_samenwonend')
              THEN t.bijstand_leefvorm
            ELSE 'alleenstaand' END,
       CASE WHEN t.bijstand_aanvang IS NULL THEN NULL
            WHEN r.maanden - (CAST(substr(t.bijstand_aanvang, 1, 4) AS INTEGER) * 12
                              + CAST(substr(t.bijstand_aanvang, 5, 2) AS INTEGER)) < 12 THEN '0-1'
            WHEN r.maanden - (CAST(substr(t.bijstand_aanvang, 1, 4) AS INTEGER) * 12
                              + CAST(substr(t.bijstand_aanvang, 5, 2) AS INTEGER)) < 24 THEN '1-2'
            WHEN r.maanden - (CAST(substr(t.bijstand_aanvang, 1, 4) AS INTEGER) * 12
                              + CAST(substr(t.bijstand_aanvang, 5, 2) AS INTEGER)) < 60 THEN '2-5'
            ELSE '5-plus' END,
       COALESCE(r.eerste_jeugdhulp <= r.peildatum, 0),
       CASE WHEN r.verslagjaar IS NOT NULL THEN j.secm END,
       CASE WHEN r.verslagjaar IS NOT NULL THEN COALESCE(j.secm = 13 AND j.personeel = 0, 0) END,
       CASE WHEN r.verslagjaar IS NOT NULL THEN COALESCE(j.ingeschreven, 0) END,
       CASE WHEN r.verslagjaar IS NOT NULL THEN COALESCE(j.uwv, 0) END
FROM (
  SELECT d.peildatum AS peildatum, d.verslagjaar AS verslagjaar, d.jaar * 12 + d.maand AS maanden,
         d.jaar - p.geboortejaar - (p.geboortemaand > d.maand) AS leeftijd, p.pnr AS pnr,
         a.adresvolgnr AS volgnr,
         v.buurt_code AS buurt_code, v.wijk_code AS wijk_code, g.kern AS kern,
         p.geslacht AS geslacht, p.geboortejaar AS geboortejaar, p.herkomst AS herkomst,
         p.opleidingsniveau AS opleidingsniveau, p.eerste_jeugdhulp AS eerste_jeugdhulp
  -- CROSS JOIN (an inner join whose left side SQLite keeps as the outer loop): dates in order,
  -- so the ORDER BY can sort one date at a time instead of 2.7M rows at once (same rows: the
  -- steward_datagen tests compare the tables with a whole rebuild).
  FROM d_peildatum d
  CROSS JOIN d_tmp_adres a ON a.aanvang <= d.peildatum AND a.einde >= d.peildatum
  JOIN vslgwbtab v ON v.rinobjectnummer = a.rinobjectnummer AND v.gem_code = 'GM1916'
  JOIN ref_gebied g ON g.buurt_code = v.buurt_code
  JOIN d_persoon p ON p.pnr = a.pnr
  WHERE p.overlijdensdatum IS NULL OR p.overlijdensdatum > d.peildatum
) r
LEFT JOIN d_tmp_peil t ON t.peildatum = r.peildatum AND t.pnr = r.pnr
LEFT JOIN d_tmp_jaar j ON j.jaar = r.verslagjaar AND j.pnr = r.pnr
ORDER BY r.peildatum, r.leeftijd, r.pnr, r.volgnr;
ANALYZE d_ingezetene;

-- @derive d_zzp_jaar cost 7 reads d_tmp_jaar d_persoon zelfstandigenbedragtab ref_sbi inpatab
--   koppelpersoonhuishouden inhatab
-- zzp'ers per reference year (2018-2024): SECM 13 on 31 December and no personnel that year,
-- with the incomes T2 offers (NULL: none, or the not-applicable sentinel).
CREATE TABLE d_zzp_jaar (
  jaar INTEGER NOT NULL,
  pnr INTEGER NOT NULL,
  sbi_sectie TEXT NOT NULL,                    -- ref_sbi.sectie of the zelfstandigenbedragtab row; onbekend
  inkomen_zelfstandige INTEGER,                -- zelfstandigenbedragtab.inkomen_zelfstandige
  persoonlijk_inkomen INTEGER,                 -- inpatab.inppink
  gestandaardiseerd_huishoudensinkomen INTEGER, -- inhatab.inhgestinkh of the household's main earner
  PRIMARY KEY (jaar, pnr)
) WITHOUT ROWID;
INSERT INTO d_zzp_jaar
SELECT s.jaar, s.pnr,
       COALESCE((SELECT r.sectie FROM ref_sbi r WHERE r.sbi_code = z.sbi_code), 'onbekend'),
       z.inkomen_zelfstandige,
       (SELECT NULLIF(i.inppink, 9999999999) FROM inpatab i
        WHERE i.rinpersoon = p.rinpersoon AND i.jaar = s.jaar),
       (SELECT NULLIF(h.inhgestinkh, 9999999999) FROM koppelpersoonhuishouden k
        JOIN inhatab h ON h.rinpersoonhkw = k.rinpersoonhkw AND h.jaar = k.jaar
        WHERE k.rinpersoon = p.rinpersoon AND k.jaar = s.jaar)
FROM d_tmp_jaar s
JOIN d_persoon p ON p.pnr = s.pnr
LEFT JOIN zelfstandigenbedragtab z ON z.rinpersoon = p.rinpersoon AND z.jaar = s.jaar
WHERE s.secm = 13 AND s.personeel = 0
ORDER BY s.jaar, s.pnr;
ANALYZE d_zzp_jaar;

-- @derive d_jeugdhulp_periode cost 10 reads d_peildatum d_ingezetene d_persoon jgdhulpbus
-- Youth care per period (year 'YYYY', half-years 'YYYYH1' and 'YYYYH2', 2018-2024): residents aged
-- 0-22 at the end of the period, one row per trajectory running in the period (begin <= end of
-- period, einde >= start of period), or one row with trajectnr 0 and NULL trajectory columns.
CREATE TABLE d_jeugdhulp_periode (
  periode TEXT NOT NULL,
  pnr INTEGER NOT NULL,
  volgnr INTEGER NOT NULL,             -- as in d_ingezetene
  trajectnr INTEGER NOT NULL,          -- 0: no trajectory; else rank by traject_id
  wijk_code TEXT NOT NULL,
  kern TEXT NOT NULL,
  leeftijd INTEGER NOT NULL,           -- on the last day of the period
  geslacht TEXT NOT NULL,
  traject_id TEXT,
  hulpvorm TEXT,
  verblijf INTEGER,
  verwijzer TEXT,
  PRIMARY KEY (periode, pnr, volgnr, trajectnr)
) WITHOUT ROWID;
INSERT INTO d_jeugdhulp_periode
SELECT q.periode, i.pnr, i.volgnr,
       CASE WHEN j.traject_id IS NULL THEN 0
            ELSE row_number() OVER (PARTITION BY q.periode, i.pnr, i.volgnr ORDER BY j.traject_id) END,
       i.wijk_code, i.kern, i.leeftijd, i.geslacht, j.traject_id, j.hulpvorm, j.verblijf, j.verwijzer
FROM (SELECT jaar || '' AS periode, jaar || '0101' AS van, jaar || '1231' AS peil
      FROM d_peildatum WHERE maand = 12
      UNION ALL SELECT jaar || 'H1', jaar || '0101', jaar || '0630' FROM d_peildatum WHERE maand = 12
      UNION ALL SELECT jaar || 'H2', jaar || '0701', jaar || '1231' FROM d_peildatum WHERE maand = 12) q
JOIN d_ingezetene i ON i.peildatum = q.peil AND i.leeftijd BETWEEN 0 AND 22
JOIN d_persoon p ON p.pnr = i.pnr
LEFT JOIN jgdhulpbus j ON j.rinpersoon = p.rinpersoon AND j.begin <= q.peil AND j.einde >= q.van
ORDER BY 1, 2, 3, 4;
ANALYZE d_jeugdhulp_periode;

-- @derive d_gezinscontext cost 2 reads d_peildatum d_ingezetene d_persoon kinderoudertab
--   bijstandpersoonbus gbahuishoudensbus koppelpersoonhuishouden inhatab
-- Family context of children (T8): residents aged 0-17 on 31 December of each year 2018-2024,
-- one row per child and year (a child with two address spells that day has one row here).
--   ouder_bijstand    1: a parent (kinderoudertab, father or mother, resident or not) had an ALG
--                     bijstand spell running on some day of the year
--   eenouder          1: the child's household on 31 December is a one-parent household (typhh)
--   inkomenskwintiel  national quintile of the household's standardised income (inhatab
--                     inhp100hgest of the child's household in the year: 1-20 -> 1 .. 81-100 -> 5);
--                     onbekend: no household income that year
--   ouder_opleiding   the highest education of the parents (d_persoon); onbekend: neither known
CREATE TABLE d_gezinscontext (
  jaar INTEGER NOT NULL,
  pnr INTEGER NOT NULL,
  ouder_bijstand INTEGER NOT NULL,
  eenouder INTEGER NOT NULL,
  inkomenskwintiel TEXT NOT NULL,      -- 1|2|3|4|5|onbekend
  ouder_opleiding TEXT NOT NULL,       -- laag|middelbaar|hoog|onbekend
  PRIMARY KEY (jaar, pnr)
) WITHOUT ROWID;
INSERT INTO d_gezinscontext
SELECT k.jaar, k.pnr,
       CASE WHEN EXISTS (SELECT 1 FROM bijstandpersoonbus b
                         WHERE b.rinpersoon IN (k.pa, k.ma) AND b.statistiekcode = 'ALG'
                           AND b.aanvang <= k.jaar || '1231' AND b.einde >= k.jaar || '0101')
            THEN 1 ELSE 0 END,
       CASE WHEN EXISTS (SELECT 1 FROM gbahuishoudensbus h
                         WHERE h.rinpersoon = k.rinpersoon AND h.typhh = 'eenouder'
                           AND h.datumaanvanghh <= k.jaar || '1231'
                           AND h.datumeindehh >= k.jaar || '1231')
            THEN 1 ELSE 0 END,
       COALESCE((SELECT CASE WHEN i.inhp100hgest BETWEEN 1 AND 20 THEN '1'
                             WHEN i.inhp100hgest BETWEEN 21 AND 40 THEN '2'
                             WHEN i.inhp100hgest BETWEEN 41 AND 60 THEN '3'
                             WHEN i.inhp100hgest BETWEEN 61 AND 80 THEN '4'
                             WHEN i.inhp100hgest BETWEEN 81 AND 100 THEN '5' END
                 FROM koppelpersoonhuishouden c
                 JOIN inhatab i ON i.rinpersoonhkw = c.rinpersoonhkw AND i.jaar = c.jaar
                 WHERE c.rinpersoon = k.rinpersoon AND c.jaar = k.jaar), 'onbekend'),
       COALESCE((SELECT CASE max(CASE o.opleidingsniveau WHEN 'hoog' THEN 3 WHEN 'middelbaar' THEN 2
                                                         WHEN 'laag' THEN 1 ELSE 0 END)
                          WHEN 3 THEN 'hoog' WHEN 2 THEN 'middelbaar' WHEN 1 THEN 'laag' END
                 FROM d_persoon o WHERE o.rinpersoon IN (k.pa, k.ma)), 'onbekend')
FROM (SELECT DISTINCT d.verslagjaar AS jaar, i.pnr AS pnr, p.rinpersoon AS rinpersoon,
             ko.rinpersoonpa AS pa, ko.rinpersoonma AS ma
      FROM d_peildatum d
      JOIN d_ingezetene i ON i.peildatum = d.peildatum AND i.leeftijd BETWEEN 0 AND 17
      JOIN d_persoon p ON p.pnr = i.pnr
      LEFT JOIN kinderoudertab ko ON ko.rinpersoon = p.rinpersoon
      WHERE d.maand = 12) k
ORDER BY k.jaar, k.pnr;
ANALYZE d_gezinscontext;

-- @derive temp d_tmp_reint_voorziening cost 0 reads srg_reintegratie gem_reintegratietraject
--   d_persoon
-- Re-integration (T6): every SRG provision and municipal trajectory with the person number.
CREATE TEMP TABLE d_tmp_reint_voorziening (pnr INTEGER NOT NULL, aanvang TEXT NOT NULL,
                                           einde TEXT NOT NULL, soort TEXT NOT NULL,
                                           PRIMARY KEY (pnr, aanvang, einde, soort)) WITHOUT ROWID;
INSERT INTO d_tmp_reint_voorziening
SELECT p.pnr, s.aanvang, s.einde, s.voorziening
FROM srg_reintegratie s JOIN d_persoon p ON p.rinpersoon = s.rinpersoon
UNION
SELECT p.pnr, t.start, t.eind, t.traject_type
FROM gem_reintegratietraject t JOIN d_persoon p ON p.rinpersoon = t.rinpersoon;

-- @derive temp d_tmp_reint_alg cost 0 reads bijstandpersoonbus d_persoon
-- ALG bijstand spells per calendar month they touch in 2019-2022 (maand = year * 12 + month - 1),
-- keyed by the static parts of the T6 stratum, so that the stock of one day in one stratum is an
-- index range.
CREATE TEMP TABLE d_tmp_reint_alg (maand INTEGER NOT NULL, geslacht TEXT NOT NULL,
                                   opleidingsniveau TEXT NOT NULL, pnr INTEGER NOT NULL,
                                   aanvang TEXT NOT NULL, einde TEXT NOT NULL,
                                   PRIMARY KEY (maand, geslacht, opleidingsniveau, pnr, aanvang, einde))
  WITHOUT ROWID;
WITH RECURSIVE m(maand) AS (SELECT 2019 * 12 UNION ALL SELECT maand + 1 FROM m WHERE maand < 2022 * 12 + 11)
INSERT INTO d_tmp_reint_alg
SELECT DISTINCT m.maand, p.geslacht, p.opleidingsniveau, p.pnr, b.aanvang, b.einde
FROM (SELECT rinpersoon, aanvang, einde,
             CAST(substr(aanvang, 1, 4) AS INTEGER) * 12 + CAST(substr(aanvang, 5, 2) AS INTEGER) - 1 AS van,
             CAST(substr(einde, 1, 4) AS INTEGER) * 12 + CAST(substr(einde, 5, 2) AS INTEGER) - 1 AS tot
      FROM bijstandpersoonbus
      WHERE statistiekcode = 'ALG' AND aanvang <= '20221231' AND einde >= '20190101') b
JOIN m ON m.maand BETWEEN b.van AND b.tot
JOIN d_persoon p ON p.rinpersoon = b.rinpersoon;

-- @derive temp d_tmp_reint_deeln cost 1 reads d_tmp_reint_voorziening d_tmp_reint_alg d_persoon
--   gbaadresobjectbus vslgwbtab ref_gebied gbahuishoudensbus
-- T6 participants: a start of a provision or trajectory in 2019-2022 with none running in the
-- year before (the episode's start, day s), on ALG bijstand on s, alive, resident in GM1916 and not
-- in an institutional household on s; the stratum on s: age group (completed years at month
-- precision), sex, education, duration class (months since the start of the earliest running ALG
-- spell: < 12, < 24, < 60, else, as d_ingezetene), wijkcluster (the first running address spell).
CREATE TEMP TABLE d_tmp_reint_deeln (datum TEXT NOT NULL, pnr INTEGER NOT NULL,
                                     leeftijdsgroep TEXT NOT NULL, geslacht TEXT NOT NULL,
                                     opleidingsniveau TEXT NOT NULL, duurklasse TEXT NOT NULL,
                                     kern TEXT NOT NULL, PRIMARY KEY (datum, pnr)) WITHOUT ROWID;
INSERT INTO d_tmp_reint_deeln
SELECT datum, pnr, leeftijdsgroep, geslacht, opleidingsniveau,
       CASE WHEN maanden < 12 THEN '0-1' WHEN maanden < 24 THEN '1-2' WHEN maanden < 60 THEN '2-5'
            ELSE '5-plus' END,
       kern
FROM (
  SELECT e.datum AS datum, e.pnr AS pnr,
         CASE WHEN CAST(substr(e.datum, 1, 4) AS INTEGER) - p.geboortejaar
                   - (p.geboortemaand > CAST(substr(e.datum, 5, 2) AS INTEGER)) < 27 THEN 'tot-27'
              WHEN CAST(substr(e.datum, 1, 4) AS INTEGER) - p.geboortejaar
                   - (p.geboortemaand > CAST(substr(e.datum, 5, 2) AS INTEGER)) < 45 THEN '27-44'
              ELSE '45-plus' END AS leeftijdsgroep,
         p.geslacht AS geslacht, p.opleidingsniveau AS opleidingsniveau,
         CAST(substr(e.datum, 1, 4) AS INTEGER) * 12 + CAST(substr(e.datum, 5, 2) AS INTEGER)
           - (SELECT CAST(substr(min(a.aanvang), 1, 4) AS INTEGER) * 12
                     + CAST(substr(min(a.aanvang), 5, 2) AS INTEGER)
              FROM d_tmp_reint_alg a
              WHERE a.maand = CAST(substr(e.datum, 1, 4) AS INTEGER) * 12
                              + CAST(substr(e.datum, 5, 2) AS INTEGER) - 1
                AND a.geslacht = p.geslacht AND a.opleidingsniveau = p.opleidingsniveau
                AND a.pnr = p.pnr AND a.aanvang <= e.datum AND a.einde >= e.datum) AS maanden,
         (SELECT g.kern FROM gbaadresobjectbus ad
          JOIN vslgwbtab v ON v.rinobjectnummer = ad.rinobjectnummer AND v.gem_code = 'GM1916'
          JOIN ref_gebied g ON g.buurt_code = v.buurt_code
          WHERE ad.rinpersoon = p.rinpersoon AND ad.gbadatumaanvangadreshouding <= e.datum
            AND ad.gbadatumeindeadreshouding >= e.datum
          ORDER BY ad.gbadatumaanvangadreshouding, ad.gbadatumeindeadreshouding, ad.rinobjectnummer
          LIMIT 1) AS kern
  FROM (SELECT DISTINCT v.pnr AS pnr, v.aanvang AS datum
        FROM d_tmp_reint_voorziening v
        WHERE v.aanvang BETWEEN '20190101' AND '20221231'
          AND NOT EXISTS (SELECT 1 FROM d_tmp_reint_voorziening w
                          WHERE w.pnr = v.pnr AND w.aanvang < v.aanvang
                            AND w.einde >= CAST(CAST(substr(v.aanvang, 1, 4) AS INTEGER) - 1 AS TEXT)
                                           || substr(v.aanvang, 5, 4))) e
  JOIN d_persoon p ON p.pnr = e.pnr
  WHERE (p.overlijdensdatum IS NULL OR p.overlijdensdatum > e.datum)
    AND NOT EXISTS (SELECT 1 FROM gbahuishoudensbus h
                    WHERE h.rinpersoon = p.rinpersoon AND h.typhh = 'institutioneel'
                      AND h.datumaanvanghh <= e.datum AND h.datumeindehh >= e.datum)
) x
WHERE maanden IS NOT NULL AND kern IS NOT NULL;

-- @derive temp d_tmp_reint_kand cost 1 reads d_tmp_reint_deeln d_tmp_reint_alg
--   d_tmp_reint_voorziening d_persoon gbaadresobjectbus vslgwbtab ref_gebied gbahuishoudensbus
-- T6 control candidates: on a participant's start date s, on ALG bijstand, alive, resident in
-- GM1916, not in an institutional household, with no provision or trajectory running on s or in
-- the year before, in the stratum of a participant of that day (described as the participants).
-- Whether they start one later does not matter (intention to treat: nothing after s is looked at).
CREATE TEMP TABLE d_tmp_reint_kand (datum TEXT NOT NULL, pnr INTEGER NOT NULL,
                                    leeftijdsgroep TEXT NOT NULL, geslacht TEXT NOT NULL,
                                    opleidingsniveau TEXT NOT NULL, duurklasse TEXT NOT NULL,
                                    kern TEXT NOT NULL, PRIMARY KEY (datum, pnr)) WITHOUT ROWID;
INSERT INTO d_tmp_reint_kand
SELECT datum, pnr, leeftijdsgroep, geslacht, opleidingsniveau, duurklasse, kern
FROM (
  SELECT y.datum AS datum, y.pnr AS pnr, y.leeftijdsgroep AS leeftijdsgroep, y.geslacht AS geslacht,
         y.opleidingsniveau AS opleidingsniveau, y.duurklasse AS duurklasse,
         (SELECT g.kern FROM gbaadresobjectbus ad
          JOIN vslgwbtab v ON v.rinobjectnummer = ad.rinobjectnummer AND v.gem_code = 'GM1916'
          JOIN ref_gebied g ON g.buurt_code = v.buurt_code
          WHERE ad.rinpersoon = y.rinpersoon AND ad.gbadatumaanvangadreshouding <= y.datum
            AND ad.gbadatumeindeadreshouding >= y.datum
          ORDER BY ad.gbadatumaanvangadreshouding, ad.gbadatumeindeadreshouding, ad.rinobjectnummer
          LIMIT 1) AS kern
  FROM (
    SELECT DISTINCT d.datum AS datum, a.pnr AS pnr, p.rinpersoon AS rinpersoon,
           d.leeftijdsgroep AS leeftijdsgroep, d.geslacht AS geslacht,
           d.opleidingsniveau AS opleidingsniveau, d.duurklasse AS duurklasse
    FROM d_tmp_reint_deeln d
    JOIN d_tmp_reint_alg a ON a.maand = CAST(substr(d.datum, 1, 4) AS INTEGER) * 12
                                        + CAST(substr(d.datum, 5, 2) AS INTEGER) - 1
                          AND a.geslacht = d.geslacht AND a.opleidingsniveau = d.opleidingsniveau
                          AND a.aanvang <= d.datum AND a.einde >= d.datum
    JOIN d_persoon p ON p.pnr = a.pnr
    WHERE CASE WHEN CAST(substr(d.datum, 1, 4) AS INTEGER) - p.geboortejaar
                    - (p.geboortemaand > CAST(substr(d.datum, 5, 2) AS INTEGER)) < 27 THEN 'tot-27'
               WHEN CAST(substr(d.datum, 1, 4) AS INTEGER) - p.geboortejaar
                    - (p.geboortemaand > CAST(substr(d.datum, 5, 2) AS INTEGER)) < 45 THEN '27-44'
               ELSE '45-plus' END = d.leeftijdsgroep
      AND (SELECT CASE WHEN m < 12 THEN '0-1' WHEN m < 24 THEN '1-2' WHEN m < 60 THEN '2-5'
                       ELSE '5-plus' END
           FROM (SELECT CAST(substr(d.datum, 1, 4) AS INTEGER) * 12 + CAST(substr(d.datum, 5, 2) AS INTEGER)
                        - CAST(substr(min(b.aanvang), 1, 4) AS INTEGER) * 12
                        - CAST(substr(min(b.aanvang), 5, 2) AS INTEGER) AS m
                 FROM d_tmp_reint_alg b
                 WHERE b.maand = a.maand AND b.geslacht = a.geslacht
                   AND b.opleidingsniveau = a.opleidingsniveau AND b.pnr = a.pnr
                   AND b.aanvang <= d.datum AND b.einde >= d.datum) mm) = d.duurklasse
      AND (p.overlijdensdatum IS NULL OR p.overlijdensdatum > d.datum)
      AND NOT EXISTS (SELECT 1 FROM d_tmp_reint_voorziening w
                      WHERE w.pnr = a.pnr AND w.aanvang <= d.datum
                        AND w.einde >= CAST(CAST(substr(d.datum, 1, 4) AS INTEGER) - 1 AS TEXT)
                                       || substr(d.datum, 5, 4))
      AND NOT EXISTS (SELECT 1 FROM gbahuishoudensbus h
                      WHERE h.rinpersoon = p.rinpersoon AND h.typhh = 'institutioneel'
                        AND h.datumaanvanghh <= d.datum AND h.datumeindehh >= d.datum)
  ) y
) z
WHERE kern IS NOT NULL;

-- @derive d_reintegratie_koppel cost 1 reads d_tmp_reint_deeln d_tmp_reint_kand d_persoon
--   bijstandpersoonbus secmbus
-- T6 (reintegratie_vergelijking_gematcht): per participant's start (an event, volgnr), the
-- participant (rang 0) and up to 6 candidate controls of the same day and stratum (rang 1..6, in
-- a fixed pseudo-random order); only events with at least 3 candidates. The template draws 3
-- controls per selected event from these without replacement (docs/researcher.md, "T6").
--   volgnr        events in start order, ties in a fixed pseudo-random order of the participant
--   leeftijdsgroep, geslacht, opleidingsniveau, duurklasse: the stratum on startdatum (the
--                 participant's); herkomst: the person's own
--   had_baan      ja: an ALG spell running on startdatum has earnings beside the benefit
--   baan_H        1: the SECM on startdatum + H months (of the spells running that day, the one
--                 that started last) is 11-14 (employed); H = 6, 12, 18
--   bijstand_H    1: a bijstand spell (any statistiekcode) runs on startdatum + H months
CREATE TABLE d_reintegratie_koppel (
  volgnr INTEGER NOT NULL,
  rang INTEGER NOT NULL,
  startdatum TEXT NOT NULL,
  pnr INTEGER NOT NULL,
  leeftijdsgroep TEXT NOT NULL,        -- tot-27|27-44|45-plus
  geslacht TEXT NOT NULL,
  opleidingsniveau TEXT NOT NULL,
  herkomst TEXT NOT NULL,
  duurklasse TEXT NOT NULL,            -- 0-1|1-2|2-5|5-plus
  had_baan TEXT NOT NULL,              -- ja|nee
  baan_6 INTEGER NOT NULL,
  baan_12 INTEGER NOT NULL,
  baan_18 INTEGER NOT NULL,
  bijstand_6 INTEGER NOT NULL,
  bijstand_12 INTEGER NOT NULL,
  bijstand_18 INTEGER NOT NULL,
  PRIMARY KEY (volgnr, rang)
) WITHOUT ROWID;
WITH ev AS (
  SELECT d.datum AS datum, d.pnr AS pnr, d.leeftijdsgroep AS leeftijdsgroep, d.geslacht AS geslacht,
         d.opleidingsniveau AS opleidingsniveau, d.duurklasse AS duurklasse, d.kern AS kern,
         ROW_NUMBER() OVER (ORDER BY d.datum, (d.pnr * 2654435761) % 4294967291, d.pnr) AS volgnr
  FROM d_tmp_reint_deeln d
),
paar AS (
  SELECT e.volgnr AS volgnr, k.pnr AS pnr,
         ROW_NUMBER() OVER (PARTITION BY e.volgnr
                            ORDER BY (k.pnr * 2654435761 + e.pnr * 40503) % 4294967291, k.pnr) AS rang,
         COUNT(*) OVER (PARTITION BY e.volgnr) AS n
  FROM ev e
  JOIN d_tmp_reint_kand k ON k.datum = e.datum AND k.geslacht = e.geslacht
                         AND k.opleidingsniveau = e.opleidingsniveau
                         AND k.leeftijdsgroep = e.leeftijdsgroep AND k.duurklasse = e.duurklasse
                         AND k.kern = e.kern
),
rij AS (
  SELECT e.volgnr AS volgnr, 0 AS rang, e.pnr AS pnr FROM ev e
  WHERE e.volgnr IN (SELECT volgnr FROM paar WHERE n >= 3)
  UNION ALL
  SELECT volgnr, rang, pnr FROM paar WHERE n >= 3 AND rang <= 6
),
meet AS (
  SELECT r.volgnr AS volgnr, r.rang AS rang, e.datum AS datum, r.pnr AS pnr, p.rinpersoon AS rinpersoon,
         e.leeftijdsgroep AS leeftijdsgroep, e.geslacht AS geslacht,
         e.opleidingsniveau AS opleidingsniveau, p.herkomst AS herkomst, e.duurklasse AS duurklasse,
         CAST((CAST(substr(e.datum, 1, 4) AS INTEGER) * 12 + CAST(substr(e.datum, 5, 2) AS INTEGER) + 5) / 12 AS TEXT)
           || CASE WHEN (CAST(substr(e.datum, 5, 2) AS INTEGER) + 5) % 12 + 1 < 10 THEN '0' ELSE '' END
           || CAST((CAST(substr(e.datum, 5, 2) AS INTEGER) + 5) % 12 + 1 AS TEXT) || substr(e.datum, 7, 2) AS m6,
         CAST(CAST(substr(e.datum, 1, 4) AS INTEGER) + 1 AS TEXT) || substr(e.datum, 5, 4) AS m12,
         CAST((CAST(substr(e.datum, 1, 4) AS INTEGER) * 12 + CAST(substr(e.datum, 5, 2) AS INTEGER) + 17) / 12 AS TEXT)
           || CASE WHEN (CAST(substr(e.datum, 5, 2) AS INTEGER) + 17) % 12 + 1 < 10 THEN '0' ELSE '' END
           || CAST((CAST(substr(e.datum, 5, 2) AS INTEGER) + 17) % 12 + 1 AS TEXT) || substr(e.datum, 7, 2) AS m18
  FROM rij r
  JOIN ev e ON e.volgnr = r.volgnr
  JOIN d_persoon p ON p.pnr = r.pnr
)
INSERT INTO d_reintegratie_koppel
SELECT m.volgnr, m.rang, m.datum, m.pnr, m.leeftijdsgroep, m.geslacht, m.opleidingsniveau, m.herkomst,
       m.duurklasse,
       CASE WHEN EXISTS (SELECT 1 FROM bijstandpersoonbus b
                         WHERE b.rinpersoon = m.rinpersoon AND b.statistiekcode = 'ALG'
                           AND b.aanvang <= m.datum AND b.einde >= m.datum
                           AND b.inkomsten_naast_uitkering = 1) THEN 'ja' ELSE 'nee' END,
       CASE WHEN (SELECT s.secm FROM secmbus s WHERE s.rinpersoon = m.rinpersoon
                    AND s.aanvsecm <= m.m6 AND s.eindsecm >= m.m6
                  ORDER BY s.aanvsecm DESC LIMIT 1) BETWEEN 11 AND 14 THEN 1 ELSE 0 END,
       CASE WHEN (SELECT s.secm FROM secmbus s WHERE s.rinpersoon = m.rinpersoon
                    AND s.aanvsecm <= m.m12 AND s.eindsecm >= m.m12
                  ORDER BY s.aanvsecm DESC LIMIT 1) BETWEEN 11 AND 14 THEN 1 ELSE 0 END,
       CASE WHEN (SELECT s.secm FROM secmbus s WHERE s.rinpersoon = m.rinpersoon
                    AND s.aanvsecm <= m.m18 AND s.eindsecm >= m.m18
                  ORDER BY s.aanvsecm DESC LIMIT 1) BETWEEN 11 AND 14 THEN 1 ELSE 0 END,
       CASE WHEN EXISTS (SELECT 1 FROM bijstandpersoonbus b WHERE b.rinpersoon = m.rinpersoon
                           AND b.aanvang <= m.m6 AND b.einde >= m.m6) THEN 1 ELSE 0 END,
       CASE WHEN EXISTS (SELECT 1 FROM bijstandpersoonbus b WHERE b.rinpersoon = m.rinpersoon
                           AND b.aanvang <= m.m12 AND b.einde >= m.m12) THEN 1 ELSE 0 END,
       CASE WHEN EXISTS (SELECT 1 FROM bijstandpersoonbus b WHERE b.rinpersoon = m.rinpersoon
                           AND b.aanvang <= m.m18 AND b.einde >= m.m18) THEN 1 ELSE 0 END
FROM meet m
ORDER BY m.volgnr, m.rang;
ANALYZE d_reintegratie_koppel;

-- @derive d_reintegratie_start cost 0 reads d_reintegratie_koppel d_tmp_reint_voorziening
-- T6: the kinds of each event of d_reintegratie_koppel: every provision (voorziening) and
-- trajectory (traject_type) the participant starts on startdatum or in the month after it (a
-- trajectory usually starts a few days after the provision it comes with).
CREATE TABLE d_reintegratie_start (
  soort TEXT NOT NULL,
  startdatum TEXT NOT NULL,
  volgnr INTEGER NOT NULL,
  PRIMARY KEY (soort, startdatum, volgnr)
) WITHOUT ROWID;
INSERT INTO d_reintegratie_start
SELECT DISTINCT v.soort, k.startdatum, k.volgnr
FROM d_reintegratie_koppel k
JOIN d_tmp_reint_voorziening v
  ON v.pnr = k.pnr AND v.aanvang >= k.startdatum
 AND v.aanvang <= CAST((CAST(substr(k.startdatum, 1, 4) AS INTEGER) * 12
                        + CAST(substr(k.startdatum, 5, 2) AS INTEGER)) / 12 AS TEXT)
                  || CASE WHEN CAST(substr(k.startdatum, 5, 2) AS INTEGER) % 12 + 1 < 10 THEN '0' ELSE '' END
                  || CAST(CAST(substr(k.startdatum, 5, 2) AS INTEGER) % 12 + 1 AS TEXT)
                  || substr(k.startdatum, 7, 2)
WHERE k.rang = 0;
ANALYZE d_reintegratie_start;

-- @derive d_dag cost 1 reads pin_dag evenement
-- Days as integers, so that templates do date arithmetic with + and - only (portable SQL, no
-- SQLite date functions in a template): every day from 371 days before the first PIN day or event
-- (a window starts at most 6 days before its event, and T10's year-earlier baseline lies 364 days
-- before its window) to 14 days after the last (T10's week after an event).
CREATE TABLE d_dag (
  datum TEXT PRIMARY KEY,              -- YYYYMMDD
  dagnr INTEGER NOT NULL UNIQUE,       -- days since 1970-01-01: consecutive days differ by 1
  weekdag INTEGER NOT NULL             -- 1 Monday .. 7 Sunday (as kalender.weekdag)
) WITHOUT ROWID;
WITH RECURSIVE
grens(van, tot) AS (
  SELECT date(substr(lo, 1, 4) || '-' || substr(lo, 5, 2) || '-' || substr(lo, 7, 2), '-371 days'),
         date(substr(hi, 1, 4) || '-' || substr(hi, 5, 2) || '-' || substr(hi, 7, 2), '+14 days')
  FROM (SELECT min(lo) AS lo, max(hi) AS hi
        FROM (SELECT min(datum) AS lo, max(datum) AS hi FROM pin_dag
              UNION ALL SELECT min(start), max(eind) FROM evenement))
),
dag(d) AS (
  SELECT van FROM grens WHERE van IS NOT NULL
  UNION ALL
  SELECT date(dag.d, '+1 day') FROM dag, grens WHERE dag.d < grens.tot
)
INSERT INTO d_dag
SELECT replace(d, '-', ''), CAST(julianday(d) - julianday('1970-01-01') AS INTEGER),
       (CAST(strftime('%w', d) AS INTEGER) + 6) % 7 + 1
FROM dag;
ANALYZE d_dag;

-- @end: the helper tables are dropped (enclave-steward drops those it made itself).
DROP TABLE d_tmp_adres;
DROP TABLE d_tmp_peil;
DROP TABLE d_tmp_jaar;
DROP TABLE d_tmp_reint_voorziening;
DROP TABLE d_tmp_reint_alg;
DROP TABLE d_tmp_reint_deeln;
DROP TABLE d_tmp_reint_kand;
