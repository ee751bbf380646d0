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
