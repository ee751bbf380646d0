-- Schema of the enclave's microdata database (synthetic or delivered). See docs/domain.md §3.
-- Names follow the CBS SSB files. Dates are TEXT YYYYMMDD, open end '20991231'; money INTEGER
-- euros (PIN in cents); income sentinel 9999999999 = not applicable; flags INTEGER 0/1.
-- Simplifications against CBS (documented in enclave/datagen/README.md): vslgwbtab is long, not wide
-- (geography is fixed over the window); spolisbus holds one row per job and calendar year.
-- This file is the contract between the generator, the delivery loader and the templates.

CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
-- keys: data_version, generator, seed, scale, created_utc (reproducible: from seed, not clock)

CREATE TABLE ref_gebied (          -- one row per buurt
  buurt_code TEXT PRIMARY KEY,     -- BU1916wwbb
  buurt_naam TEXT NOT NULL,
  wijk_code TEXT NOT NULL,         -- WK191601..WK191613
  wijk_naam TEXT NOT NULL,
  kern TEXT NOT NULL,              -- wijkcluster: Voorburg | Leidschendam | Stompwijk
  gem_code TEXT NOT NULL,          -- GM1916
  ses REAL NOT NULL,
  pop_target INTEGER NOT NULL,
  dwellings_target INTEGER NOT NULL
);

CREATE TABLE ref_sbi (
  sbi_code TEXT PRIMARY KEY,       -- e.g. '5610'
  sectie TEXT NOT NULL,            -- A..U
  omschrijving TEXT NOT NULL,
  sector_group TEXT NOT NULL       -- retail_food|retail_nonfood|horeca_restaurant|horeca_cafe|other
);

CREATE TABLE gbapersoontab (
  rinpersoons TEXT NOT NULL,       -- 'R'
  rinpersoon TEXT PRIMARY KEY,     -- 32 lowercase hex, HMAC of the synthetic BSN
  gbageslacht TEXT NOT NULL,       -- '1' man, '2' vrouw
  gbageboortejaar INTEGER NOT NULL,
  gbageboortemaand INTEGER NOT NULL,
  herkomst TEXT NOT NULL,          -- nederland|europa|turkije_marokko|suriname_caribisch_indonesie|overig_buiten_europa
  generatie INTEGER NOT NULL,      -- 0 (no migration background), 1, 2
  gbadatumoverlijden TEXT          -- NULL if alive
);

CREATE TABLE vslgwbtab (           -- address object → geography
  rinobjectnummer TEXT PRIMARY KEY,
  pc4 TEXT NOT NULL,
  buurt_code TEXT NOT NULL,
  wijk_code TEXT NOT NULL,
  gem_code TEXT NOT NULL
);

CREATE TABLE gbaadresobjectbus (   -- address spells; a person outside GM1916 has no spell then
  rinpersoons TEXT NOT NULL,
  rinpersoon TEXT NOT NULL,
  rinobjectnummer TEXT NOT NULL,
  gbadatumaanvangadreshouding TEXT NOT NULL,
  gbadatumeindeadreshouding TEXT NOT NULL
);

CREATE TABLE gbahuishoudensbus (
  rinpersoons TEXT NOT NULL,
  rinpersoon TEXT NOT NULL,
  huishoudnr TEXT NOT NULL,
  datumaanvanghh TEXT NOT NULL,
  datumeindehh TEXT NOT NULL,
  typhh TEXT NOT NULL,             -- eenpersoons|paar_zonder_kind|paar_met_kind|eenouder|overig|institutioneel
  plhh TEXT NOT NULL,              -- kind|alleenstaand|partner|ouder|overig
  aantalpershh INTEGER NOT NULL
);

CREATE TABLE kinderoudertab (
  rinpersoons TEXT NOT NULL,
  rinpersoon TEXT PRIMARY KEY,
  rinpersoonpa TEXT,
  rinpersoonma TEXT
);

CREATE TABLE hoogsteopltab (       -- persons 15+
  rinpersoons TEXT NOT NULL,
  rinpersoon TEXT PRIMARY KEY,
  opl_niveau3 TEXT NOT NULL,       -- laag|middelbaar|hoog|onbekend
  opl_gewicht REAL NOT NULL
);

CREATE TABLE secmbus (             -- socio-economic category spells
  rinpersoons TEXT NOT NULL,
  rinpersoon TEXT NOT NULL,
  aanvsecm TEXT NOT NULL,
  eindsecm TEXT NOT NULL,
  secm INTEGER NOT NULL            -- 11 werknemer, 12 DGA, 13 zelfstandige, 14 overig actief,
                                   -- 21 WW, 22 bijstand, 23 other benefit, 24 sickness, 25 pension,
                                   -- 26/31 student with/without income, 32 other without income
);

CREATE TABLE secmposwrkbus (       -- position of the employed
  rinpersoons TEXT NOT NULL,
  rinpersoon TEXT NOT NULL,
  aanvang TEXT NOT NULL,
  einde TEXT NOT NULL,
  poswrk TEXT NOT NULL,            -- werknemer_vast|werknemer_flex|zzp|zelfstandige_met_personeel|dga|meewerkend
  sbi_code TEXT NOT NULL
);

CREATE TABLE spolisbus (           -- one row per job and calendar year
  rinpersoons TEXT NOT NULL,
  rinpersoon TEXT NOT NULL,
  ikvid TEXT NOT NULL,
  be_id TEXT NOT NULL,
  sdatumaanvangiko TEXT NOT NULL,
  sdatumeindeiko TEXT NOT NULL,
  sbasisloon INTEGER NOT NULL,     -- euros in the spell
  sbasisuren INTEGER NOT NULL,
  scontractsoort TEXT NOT NULL,    -- O|B|N
  ssoortbaan TEXT NOT NULL         -- regulier|uitzend|oproep|stage|wsw
);

CREATE TABLE zelfstandigenbedragtab (
  rinpersoons TEXT NOT NULL,
  rinpersoon TEXT NOT NULL,
  jaar INTEGER NOT NULL,
  inkomen_zelfstandige INTEGER NOT NULL,  -- euros, may be negative
  heeft_personeel INTEGER NOT NULL,       -- 0/1
  sbi_code TEXT NOT NULL,
  PRIMARY KEY (rinpersoon, jaar)
);

CREATE TABLE inpatab (             -- personal income, persons with income, per year
  rinpersoons TEXT NOT NULL,
  rinpersoon TEXT NOT NULL,
  jaar INTEGER NOT NULL,
  inpbeli INTEGER NOT NULL,        -- gross
  inppersprim INTEGER NOT NULL,    -- primary
  inppink INTEGER NOT NULL,        -- personal
  inpp100pbrut INTEGER NOT NULL,   -- national percentile 1..100
  inpsecj INTEGER NOT NULL,        -- main SECM of the year
  inpposhhk TEXT NOT NULL,         -- position in household
  PRIMARY KEY (rinpersoon, jaar)
);

CREATE TABLE inhatab (             -- household income, per main earner and year
  rinpersoonshkw TEXT NOT NULL,
  rinpersoonhkw TEXT NOT NULL,
  jaar INTEGER NOT NULL,
  inhbestinkh INTEGER NOT NULL,    -- disposable
  inhgestinkh INTEGER NOT NULL,    -- standardised
  inhp100hgest INTEGER NOT NULL,   -- national percentile 1..100
  inharmsoc INTEGER NOT NULL,      -- % of social minimum
  inhbbihj TEXT NOT NULL,          -- arbeid|eigen_onderneming|uitkering|pensioen|overig
  PRIMARY KEY (rinpersoonhkw, jaar)
);

CREATE TABLE koppelpersoonhuishouden (
  rinpersoons TEXT NOT NULL,
  rinpersoon TEXT NOT NULL,
  jaar INTEGER NOT NULL,
  rinpersoonhkw TEXT NOT NULL,
  PRIMARY KEY (rinpersoon, jaar)
);

CREATE TABLE bijstandpersoonbus (
  rinpersoons TEXT NOT NULL,
  rinpersoon TEXT NOT NULL,
  uitkering_id TEXT NOT NULL,
  rol TEXT NOT NULL,               -- persoon1|persoon2
  statistiekcode TEXT NOT NULL,    -- ALG|IOAW|IOAZ|BBZ|TOZO
  aanvang TEXT NOT NULL,
  einde TEXT NOT NULL,
  leefvorm TEXT NOT NULL,          -- alleenstaand|alleenstaande_ouder|gehuwd_samenwonend
  inkomsten_naast_uitkering INTEGER NOT NULL,
  uitstroomreden TEXT              -- werk|ander_inkomen|verhuizing|partner|aow|overig; NULL while running
);

CREATE TABLE srg_reintegratie (
  rinpersoons TEXT NOT NULL,
  rinpersoon TEXT NOT NULL,
  voorziening TEXT NOT NULL,       -- loonkostensubsidie|beschut_werk|jobcoaching|werkervaring_proefplaatsing|scholing|sociale_activering|overig
  doelgroep TEXT NOT NULL,         -- bijstand|nug|anw
  aanvang TEXT NOT NULL,
  einde TEXT NOT NULL
);

CREATE TABLE gem_reintegratietraject (
  rinpersoons TEXT NOT NULL,
  rinpersoon TEXT NOT NULL,
  traject_id TEXT PRIMARY KEY,
  traject_type TEXT NOT NULL,      -- werkfit|taaltraject|leerwerkbaan|ondernemerschap_bbz
  aanbieder TEXT NOT NULL,         -- hashed
  start TEXT NOT NULL,
  eind TEXT NOT NULL,
  resultaat TEXT NOT NULL,         -- werk|scholing|afgebroken_ziekte|afgebroken_overig|lopend
  trede INTEGER NOT NULL           -- 1..6
);

CREATE TABLE jgdhulpbus (
  rinpersoons TEXT NOT NULL,
  rinpersoon TEXT NOT NULL,
  traject_id TEXT PRIMARY KEY,
  hulpvorm TEXT NOT NULL,          -- ambulant_locatie|ambulant_netwerk|wijkteam|daghulp|pleegzorg|gezinsgericht|gesloten|overig_verblijf
  verblijf INTEGER NOT NULL,       -- 0/1
  verwijzer TEXT NOT NULL,         -- gemeentelijke_toegang|huisarts|jeugdarts|medisch_specialist|gecertificeerde_instelling|rechter_om|geen
  begin TEXT NOT NULL,
  einde TEXT NOT NULL,
  reden_einde TEXT,                -- volgens_plan|voortijdig_client|voortijdig_aanbieder|verhuizing|overig; NULL while running
  gemeente_wpb TEXT NOT NULL
);

CREATE TABLE jgdbeschermbus (
  rinpersoons TEXT NOT NULL,
  rinpersoon TEXT NOT NULL,
  maatregel TEXT NOT NULL,         -- OTS|voorlopige_OTS|voogdij|voorlopige_voogdij
  begin TEXT NOT NULL,
  einde TEXT NOT NULL
);

CREATE TABLE onderwijsinschrijving (   -- enrolment on 1 October of school year (schooljaar = start year)
  rinpersoons TEXT NOT NULL,
  rinpersoon TEXT NOT NULL,
  schooljaar INTEGER NOT NULL,
  soort TEXT NOT NULL,             -- po|vo|mbo|hbo|wo|vavo
  niveau TEXT NOT NULL
);

CREATE TABLE uwv_werkzoekend (
  rinpersoons TEXT NOT NULL,
  rinpersoon TEXT NOT NULL,
  aanvang TEXT NOT NULL,
  einde TEXT NOT NULL
);

CREATE TABLE abr_be (
  be_id TEXT PRIMARY KEY,
  kvk_hash TEXT NOT NULL,
  sbi_code TEXT NOT NULL,
  grootteklasse TEXT NOT NULL,     -- 0|1|2-4|5-9|10-19|20-49|50+
  rechtsvorm TEXT NOT NULL,
  aanvang TEXT NOT NULL,
  einde TEXT NOT NULL
);

CREATE TABLE vestiging (
  vestiging_id TEXT PRIMARY KEY,
  be_id TEXT NOT NULL,
  buurt_code TEXT NOT NULL,
  winkelgebied TEXT NOT NULL,      -- huygenskwartier|julianabaan|damcentrum|mall_leidsenhage|prinsenhof|stompwijk|verspreid
  sbi_code TEXT NOT NULL,
  werkzame_personen INTEGER NOT NULL
);

CREATE TABLE pin_dag (             -- retail and horeca establishments only
  vestiging_id TEXT NOT NULL,
  datum TEXT NOT NULL,
  n_transacties INTEGER NOT NULL,
  omzet_cent INTEGER NOT NULL,
  n_terminals INTEGER NOT NULL,
  PRIMARY KEY (vestiging_id, datum)
) WITHOUT ROWID;

CREATE TABLE evenement (
  event_id TEXT PRIMARY KEY,       -- e.g. 'EV2023-014'
  naam TEXT NOT NULL,
  type TEXT NOT NULL,              -- festival|markt|sport|erfgoed|kerst|koningsdag
  start TEXT NOT NULL,
  eind TEXT NOT NULL,
  winkelgebied TEXT NOT NULL,
  verwachte_bezoekers INTEGER NOT NULL,
  buiten INTEGER NOT NULL
);

CREATE TABLE kalender (
  datum TEXT PRIMARY KEY,
  weekdag INTEGER NOT NULL,        -- 1 Monday .. 7 Sunday
  feestdag INTEGER NOT NULL,
  schoolvakantie INTEGER NOT NULL,
  neerslag_mm REAL NOT NULL,
  temp_c REAL NOT NULL
);
