// The released table (POST /api/run's JSON, client/format.cc FormatJson) as rows, and the CSV
// files built from it. No DOM here.
import { pick, formatNumber } from './i18n.mjs';

// Every combination of the dimensions' code indices, the last dimension varying fastest
// (the order of the CLI's table).
export function combinations(dimensions) {
  let out = [[]];
  for (const d of dimensions) {
    const next = [];
    for (const prefix of out) for (let i = 0; i < d.codes.length; i += 1) next.push([...prefix, i]);
    out = next;
  }
  return dimensions.length === 0 ? [[]] : out;
}

// (coordinates, statistic name) -> value or null (confidential). A key with no cell, or with
// any withheld entry, is confidential, as in the CLI.
export function lookup(result) {
  const map = new Map();
  for (const cell of result.cells || []) {
    const key = `${cell.coordinates.join(',')}|${cell.statistic}`;
    const value = cell.status === 'released' && cell.value !== null ? cell.value : null;
    if (!map.has(key)) map.set(key, value);
    else if (value === null) map.set(key, null);
  }
  return (coordinates, statistic) => {
    const key = `${coordinates.join(',')}|${statistic}`;
    return map.has(key) ? map.get(key) : null;
  };
}

export function rows(result) {
  const find = lookup(result);
  return combinations(result.dimensions || []).map((combination) => ({
    combination,
    codes: combination.map((c, d) => result.dimensions[d].codes[c]),
    isInner: combination.every((c, d) => !result.dimensions[d].codes[c].is_total),
    values: (result.statistics || []).map((s) => find(combination, s.name)),
  }));
}

export function rowLabel(row) {
  return row.codes.map((c) => pick(c.label) || c.code).join(' × ');
}

function csvField(text, separator) {
  const s = String(text);
  return /["\r\n]/.test(s) || s.includes(separator) ? `"${s.replace(/"/g, '""')}"` : s;
}

// kind 'excel-nl': ';' separator, decimal comma, UTF-8 BOM, labels in the header (Dutch Excel
// opens it as columns with numbers). kind 'plain': ',' separator, decimal point, the names of
// dimensions and statistics in the header (as enclavectl run --format csv).
// Confidential cells are '.' in both. Values carry no thousands separator.
export function toCsv(result, kind) {
  const excel = kind === 'excel-nl';
  const sep = excel ? ';' : ',';
  const header = [
    ...(result.dimensions || []).map((d) => (excel ? pick(d.label) || d.name : d.name)),
    ...(result.statistics || []).map((s) => (excel ? pick(s.label) || s.name : s.name)),
  ];
  const lines = [header.map((f) => csvField(f, sep)).join(sep)];
  for (const row of rows(result)) {
    const fields = row.codes.map((c) => pick(c.label) || c.code);
    for (const v of row.values) {
      if (v === null) fields.push('.');
      else fields.push(excel ? String(v).replace('.', ',') : String(v));
    }
    lines.push(fields.map((f) => csvField(f, sep)).join(sep));
  }
  const text = `${lines.join('\r\n')}\r\n`;
  return excel ? `\uFEFF${text}` : text;
}

export function displayValue(value) {
  return value === null ? '.' : formatNumber(value);
}
