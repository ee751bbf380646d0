// A schematic tile map of the 13 wijken of Leidschendam-Voorburg (GM1916) and their 3
// wijkclusters. No geometry is downloaded or shipped: each wijk is a tile on a grid whose layout
// follows the towns' real relative positions (docs/web-page.md says what is real and what is
// schematic). Confidential areas are hatched and labelled, so colour is never the only carrier.
import { h, uid } from './dom.mjs';
import { t, formatNumber } from './i18n.mjs';
import { hatchDefs } from './charts.mjs';

// Grid cells (column, row; north is up). What is real: each wijk's kern (policies/codelists/
// geografie.textproto) and the kernen's relative positions: Voorburg (08-13) in the south-west,
// next to The Hague; Leidschendam (01-03, 05-07) in the middle; Stompwijk (04), the large rural
// area (1,880 of 3,261 ha, docs/domain.md section 2), in the north-east, drawn as a 2x2 tile.
// Within a kern the order is schematic; it keeps the adjacencies docs/domain.md assumes for the
// shopping areas (09-10, 06-01-02, 04-06).
export const TILES = [
  { code: 'WK191601', cluster: 'Leidschendam', col: 2, row: 2 },
  { code: 'WK191602', cluster: 'Leidschendam', col: 2, row: 3 },
  { code: 'WK191603', cluster: 'Leidschendam', col: 2, row: 1 },
  { code: 'WK191604', cluster: 'Stompwijk', col: 3, row: 0, w: 2, h: 2 },
  { code: 'WK191605', cluster: 'Leidschendam', col: 4, row: 2 },
  { code: 'WK191606', cluster: 'Leidschendam', col: 3, row: 2 },
  { code: 'WK191607', cluster: 'Leidschendam', col: 3, row: 3 },
  { code: 'WK191608', cluster: 'Voorburg', col: 1, row: 2 },
  { code: 'WK191609', cluster: 'Voorburg', col: 1, row: 3 },
  { code: 'WK191610', cluster: 'Voorburg', col: 0, row: 3 },
  { code: 'WK191611', cluster: 'Voorburg', col: 1, row: 4 },
  { code: 'WK191612', cluster: 'Voorburg', col: 0, row: 4 },
  { code: 'WK191613', cluster: 'Voorburg', col: 2, row: 4 },
];
export const CLUSTERS = ['Voorburg', 'Leidschendam', 'Stompwijk'];
// The tile that carries a cluster's label and value.
const CLUSTER_ANCHOR = { Voorburg: 'WK191609', Leidschendam: 'WK191606', Stompwijk: 'WK191604' };

const RAMP = ['ramp-0', 'ramp-1', 'ramp-2', 'ramp-3', 'ramp-4'];
const TILE = 92;
const GAP = 4;
const LEFT = 110;
const TOP = 10;

function classOf(value, min, max) {
  if (max === min) return 2;
  return Math.min(4, Math.floor(((value - min) / (max - min)) * 5));
}

// level: 'wijk' | 'wijkcluster'; values: Map code -> {label, value|null}; title: accessible name.
export function tileMap(level, values, title) {
  const titleId = uid('map-title');
  const descId = uid('map-desc');
  const hatchId = uid('map-hatch');
  const released = [...values.values()].filter((v) => v.value !== null).map((v) => v.value);
  const min = released.length ? Math.min(...released) : 0;
  const max = released.length ? Math.max(...released) : 0;
  const width = LEFT + 5 * (TILE + GAP) + 10;
  const height = TOP + 5 * (TILE + GAP) + 70;
  const svg = h('svg', {
    class: 'chart tile-map', viewBox: `0 0 ${width} ${height}`, role: 'img',
    'aria-labelledby': titleId, 'aria-describedby': descId, 'data-level': level,
  }, h('title', { id: titleId }, title), h('desc', { id: descId }, `${t('map.schematic')} ${t('map.alt')}`),
  hatchDefs(hatchId));
  // The Hague lies to the west and south-west of Voorburg: an arrow, not an area.
  svg.append(h('text', { x: 8, y: TOP + 3.5 * (TILE + GAP), class: 'map-context' }, `← ${t('map.hague')}`));

  const areaCodes = level === 'wijk' ? TILES.map((tile) => tile.code) : CLUSTERS;
  for (const areaCode of areaCodes) {
    const tiles = level === 'wijk' ? TILES.filter((tile) => tile.code === areaCode)
      : TILES.filter((tile) => tile.cluster === areaCode);
    const entry = values.get(areaCode) || { label: areaCode, value: null };
    const confidential = entry.value === null;
    const cls = confidential ? 'area-confidential' : RAMP[classOf(entry.value, min, max)];
    const g = h('g', {
      class: `area ${cls}`, 'data-area': areaCode, 'data-confidential': confidential ? 'true' : 'false',
    }, h('title', {}, `${entry.label}: ${confidential ? `. ${t('bar.gap')}` : formatNumber(entry.value)}`));
    for (const tile of tiles) {
      const x = LEFT + tile.col * (TILE + GAP);
      const y = TOP + tile.row * (TILE + GAP);
      const w = (tile.w || 1) * TILE + ((tile.w || 1) - 1) * GAP;
      const hgt = (tile.h || 1) * TILE + ((tile.h || 1) - 1) * GAP;
      g.append(h('rect', { x, y, width: w, height: hgt, rx: 3, class: 'tile', fill: confidential ? `url(#${hatchId})` : null }));
      if (level === 'wijk') {
        g.append(h('text', { x: x + 6, y: y + 18, class: 'tile-code' }, tile.code.slice(-2)));
      }
    }
    // Label in the wijk's tile; for a cluster, in its anchor tile.
    const anchor = level === 'wijk' ? tiles[0] : tiles.find((tile) => tile.code === CLUSTER_ANCHOR[areaCode]) || tiles[0];
    const ax = LEFT + anchor.col * (TILE + GAP) + ((anchor.w || 1) * TILE) / 2;
    const ay = TOP + anchor.row * (TILE + GAP) + ((anchor.h || 1) * TILE) / 2;
    if (level === 'wijkcluster') g.append(h('text', { x: ax, y: ay - 6, 'text-anchor': 'middle', class: 'tile-name' }, areaCode));
    if (confidential) {
      g.append(h('text', { x: ax, y: ay + 12, 'text-anchor': 'middle', class: 'tile-value tile-confidential' }, '.'));
      g.append(h('text', { x: ax, y: ay + 28, 'text-anchor': 'middle', class: 'tile-confidential tile-confidential-word' }, t('bar.gap')));
    } else {
      g.append(h('text', { x: ax, y: ay + 14, 'text-anchor': 'middle', class: 'tile-value' }, formatNumber(entry.value)));
    }
    svg.append(g);
  }

  // Legend: the five classes and the hatch.
  const ly = TOP + 5 * (TILE + GAP) + 10;
  svg.append(h('text', { x: LEFT, y: ly + 12, class: 'legend-title' }, `${t('map.legend')}:`));
  if (released.length && max === min) {
    svg.append(h('rect', { x: LEFT + 80, y: ly, width: 16, height: 16, class: `legend-swatch ${RAMP[2]}` }));
    svg.append(h('text', { x: LEFT + 100, y: ly + 12, class: 'legend-text' }, formatNumber(min)));
  } else if (released.length) {
    RAMP.forEach((cls, i) => {
      const lo = Math.round(min + ((max - min) * i) / 5);
      const x = LEFT + 80 + i * 62;
      svg.append(h('rect', { x, y: ly, width: 16, height: 16, class: `legend-swatch ${cls}` }));
      svg.append(h('text', { x: x + 20, y: ly + 12, class: 'legend-text' }, `≥ ${formatNumber(lo)}`));
    });
  }
  svg.append(h('rect', { x: LEFT, y: ly + 26, width: 16, height: 16, class: 'legend-swatch', fill: `url(#${hatchId})` }));
  svg.append(h('text', { x: LEFT + 22, y: ly + 38, class: 'legend-text' }, t('map.confidential')));
  return svg;
}
