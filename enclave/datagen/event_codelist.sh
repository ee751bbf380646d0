#!/usr/bin/env bash
# Prints the code list `evenement` (policies/codelists/economie.textproto) for a microdata database:
# the events from the first PIN day on (T10 can answer nothing about an earlier event), in id
# order, each labelled with its name, dates and shopping area. The shipped list is this script's
# output for the demo data (municipality scale, seed 42); with real data it is the municipality's
# public event calendar over the period of the PIN delivery.
#
#   enclave/datagen/event_codelist.sh /tmp/lv.db
set -euo pipefail
db="${1:?usage: event_codelist.sh MICRODATA_DB}"
sqlite3 -batch -noheader "file:$db?mode=ro" <<'SQL'
WITH gebied(code, label) AS (VALUES
  ('huygenskwartier', 'Huygenskwartier'), ('julianabaan', 'De Julianabaan'),
  ('damcentrum', 'Damcentrum'), ('mall_leidsenhage', 'Mall of the Netherlands'),
  ('prinsenhof', 'Prinsenhof'), ('stompwijk', 'Stompwijk'),
  ('verspreid', 'buiten de winkelgebieden'))
SELECT '  code { code: "' || e.event_id || '" label { nl: "' || e.naam || ', '
       || substr(e.start, 7, 2) || '-' || substr(e.start, 5, 2) || '-' || substr(e.start, 1, 4)
       || CASE WHEN e.eind <> e.start THEN ' t/m ' || substr(e.eind, 7, 2) || '-'
               || substr(e.eind, 5, 2) || '-' || substr(e.eind, 1, 4) ELSE '' END
       || ' (' || g.label || ')" en: "' || e.naam || ', '
       || substr(e.start, 1, 4) || '-' || substr(e.start, 5, 2) || '-' || substr(e.start, 7, 2)
       || CASE WHEN e.eind <> e.start THEN ' to ' || substr(e.eind, 1, 4) || '-'
               || substr(e.eind, 5, 2) || '-' || substr(e.eind, 7, 2) ELSE '' END
       || ' (' || g.label || ')" } }'
FROM evenement e
JOIN gebied g ON g.code = e.winkelgebied
WHERE e.start >= (SELECT min(datum) FROM pin_dag)
ORDER BY e.event_id;
SQL
