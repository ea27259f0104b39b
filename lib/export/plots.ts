// Small bar charts for the dataset card, drawn into an RGB buffer with a built-in 5x7 bitmap font
// and encoded with the project's PNG codec: no canvas or font libraries needed.
import { createRgbImage, encodePng, type RgbImage } from '../png.js';
import { rowAgeInterval } from './filters.js';
import type { OpenMindRow } from './table.js';

type Rgb = [number, number, number];

export interface Bar {
  label: string;
  value: number;
}
export interface BarChart {
  title: string;
  xLabel?: string;
  bars: Bar[];
}

const WHITE: Rgb = [255, 255, 255];
const BLACK: Rgb = [0, 0, 0];
const GRID: Rgb = [225, 225, 225];
export const BAR_COLOUR: Rgb = [70, 130, 180];

// ---------------------------------------------------------------------------------------------
// 5x7 bitmap font: one number per row, bit 4 = leftmost pixel. Lower case draws as upper case.

const GLYPH_WIDTH = 5;
const GLYPH_HEIGHT = 7;
const GLYPH_ADVANCE = 6;

/** The font's characters, then each one's seven rows as two hex digits a row, in the same order. */
const FONT_CHARS = '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ -+.:<>/()_?';
const FONT_ROWS = '0e11131519110e 040c040404040e 0e11010204081f 1f02040201110e 02060a121f0202 1f101e0101110e 0608101e11110e 1f010204080808 0e11110e11110e 0e11110f01020c 0e11111f111111 1e11111e11111e 0e11101010110e 1c12111111121c 1f10101e10101f 1f10101e101010 0e11101711110f 1111111f111111 0e04040404040e 0702020202120c 11121418141211 1010101010101f 111b1515111111 11111915131111 0e11111111110e 1e11111e101010 0e11111115120d 1e11111e141211 0f10100e01011e 1f040404040404 1111111111110e 11111111110a04 1111111515150a 11110a040a1111 1111110a040404 1f01020408101f 00000000000000 0000001f000000 0004041f040400 00000000000c0c 000c0c000c0c00 02040810080402 08040201020408 00010204081000 02040808080402 08040202020408 0000000000001f 0e110102040004';

const FONT: Record<string, number[]> = Object.fromEntries(
  FONT_ROWS.split(' ').map((hex, i) => [FONT_CHARS[i], Array.from({ length: GLYPH_HEIGHT }, (_, r) => parseInt(hex.slice(2 * r, 2 * r + 2), 16))]),
);

function glyph(ch: string): number[] {
  return FONT[ch.toUpperCase()] ?? FONT['?'];
}

/** Width in pixels of text drawn at a scale (no trailing gap). */
export function textWidth(text: string, scale: number): number {
  return text.length ? (text.length * GLYPH_ADVANCE - 1) * scale : 0;
}

function setPixel(img: RgbImage, x: number, y: number, c: Rgb): void {
  if (x < 0 || y < 0 || x >= img.width || y >= img.height) return;
  img.pixels.set(c, (y * img.width + x) * 3);
}

function fillRect(img: RgbImage, x: number, y: number, w: number, h: number, c: Rgb): void {
  for (let yy = Math.round(y); yy < Math.round(y + h); yy++) for (let xx = Math.round(x); xx < Math.round(x + w); xx++) setPixel(img, xx, yy, c);
}

/** Draw text with its top-left corner at (x, y). */
export function drawText(img: RgbImage, text: string, x: number, y: number, scale: number, c: Rgb = BLACK): void {
  [...text].forEach((ch, i) => {
    const rows = glyph(ch);
    for (let gy = 0; gy < GLYPH_HEIGHT; gy++) {
      for (let gx = 0; gx < GLYPH_WIDTH; gx++) {
        if (rows[gy] & (1 << (GLYPH_WIDTH - 1 - gx))) fillRect(img, x + (i * GLYPH_ADVANCE + gx) * scale, y + gy * scale, scale, scale, c);
      }
    }
  });
}

/** The largest scale (up to maxScale) at which every text fits maxWidth; at least 1. */
function fittingScale(texts: string[], maxWidth: number, maxScale: number): number {
  let s = maxScale;
  while (s > 1 && texts.some((t) => textWidth(t, s) > maxWidth)) s--;
  return s;
}

/** Text centred on x at a scale, cut (ending in '.') when it does not fit maxWidth. */
function drawCentred(img: RgbImage, text: string, cx: number, y: number, maxWidth: number, scale: number): void {
  let t = text;
  while (t.length > 1 && textWidth(t, scale) > maxWidth) t = t.slice(0, -2) + '.';
  drawText(img, t, Math.round(cx - textWidth(t, scale) / 2), y, scale);
}

// ---------------------------------------------------------------------------------------------
// Bar chart

/** A step of 1, 2 or 5 times a power of ten giving about `ticks` intervals up to max. */
export function niceStep(max: number, ticks = 5): number {
  const raw = Math.max(max, 1) / ticks;
  const power = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 5, 10].map((m) => m * power).find((s) => s >= raw) ?? 10 * power;
  return Math.max(1, step);
}

/** Render a bar chart: title, y axis with ticks and grid, one labelled bar per category with its count. */
export function renderBarChart(chart: BarChart, width = 800, height = 450): RgbImage {
  const img = createRgbImage(width, height, WHITE);
  const scale = 2;
  const maxValue = Math.max(0, ...chart.bars.map((b) => b.value));
  const step = niceStep(maxValue);
  const top = Math.max(step, Math.ceil(maxValue / step) * step);
  const tickLabels: number[] = [];
  for (let v = 0; v <= top; v += step) tickLabels.push(v);

  const left = 16 + Math.max(...tickLabels.map((v) => textWidth(String(v), scale)));
  const right = width - 16;
  const plotTop = 56;
  const plotBottom = height - (chart.xLabel ? 64 : 40);
  const yOf = (v: number) => plotBottom - ((plotBottom - plotTop) * v) / top;

  drawCentred(img, chart.title, width / 2, 14, width - 20, fittingScale([chart.title], width - 20, scale));
  for (const v of tickLabels) {
    const y = Math.round(yOf(v));
    if (v > 0) fillRect(img, left + 1, y, right - left - 1, 1, GRID);
    fillRect(img, left - 5, y, 5, 1, BLACK);
    drawText(img, String(v), left - 8 - textWidth(String(v), scale), y - (GLYPH_HEIGHT * scale) / 2, scale);
  }

  const slot = (right - left) / Math.max(1, chart.bars.length);
  // One scale for all bar labels (and one for all counts), so neighbouring labels look alike.
  const labelScale = fittingScale(chart.bars.map((b) => b.label), slot - 2, scale);
  const valueScale = fittingScale(chart.bars.map((b) => String(b.value)), slot - 2, scale);
  chart.bars.forEach((bar, i) => {
    const x0 = left + i * slot + slot * 0.15;
    const barWidth = Math.max(1, slot * 0.7);
    const y = yOf(bar.value);
    fillRect(img, x0, y, barWidth, plotBottom - y, BAR_COLOUR);
    drawCentred(img, String(bar.value), x0 + barWidth / 2, Math.round(y) - 4 - GLYPH_HEIGHT * valueScale, slot - 2, valueScale);
    drawCentred(img, bar.label, x0 + barWidth / 2, plotBottom + 8, slot - 2, labelScale);
  });

  // Axes last, so bars never cover them.
  fillRect(img, left, plotTop - 8, 1, plotBottom - plotTop + 9, BLACK);
  fillRect(img, left, plotBottom, right - left, 1, BLACK);
  if (chart.xLabel) drawCentred(img, chart.xLabel, (left + right) / 2, height - 26, right - left, fittingScale([chart.xLabel], right - left, scale));
  return img;
}

// ---------------------------------------------------------------------------------------------
// The card's two charts: one count per participant (dataset + subject)

/** Participant key `<dataset>/<subject>` from an image path; null when the path has no subject part. */
export function participantKey(row: OpenMindRow): string | null {
  const parts = String(row.image_path ?? '').split('/');
  return parts.length >= 3 && parts[1] ? `${parts[0]}/${parts[1]}` : null;
}

/** Per participant, the first row of theirs that has the value (so one count per person). */
function firstValuePerParticipant(rows: OpenMindRow[], read: (r: OpenMindRow) => string | number | null): (string | number | null)[] {
  const byParticipant = new Map<string, string | number | null>();
  for (const r of rows) {
    const key = participantKey(r);
    if (key === null) continue;
    const value = read(r);
    if (!byParticipant.has(key) || (byParticipant.get(key) === null && value !== null)) byParticipant.set(key, value);
  }
  return [...byParticipant.values()];
}

/** One age in years for a row: its age, else its age range's midpoint, or an open range's bound. */
function representativeAge(row: OpenMindRow): number | null {
  const a = rowAgeInterval(row);
  if (!a) return null;
  if (Number.isFinite(a[0]) && Number.isFinite(a[1])) return (a[0] + a[1]) / 2;
  return Number.isFinite(a[0]) ? a[0] : Number.isFinite(a[1]) ? a[1] : null;
}

const AGE_BIN = 10;
const AGE_TOP_BIN = 90;

/** Participants per decade of age ("0-9", ..., "90+"), plus "N/A" when some ages are unknown. */
export function ageHistogram(rows: OpenMindRow[]): BarChart {
  const ages = firstValuePerParticipant(rows, (r) => representativeAge(r));
  const known = ages.filter((a): a is number => typeof a === 'number');
  const binOf = (a: number) => Math.min(AGE_TOP_BIN, Math.max(0, Math.floor(a / AGE_BIN) * AGE_BIN));
  const bars: Bar[] = [];
  if (known.length) {
    const first = Math.min(...known.map(binOf));
    const last = Math.max(...known.map(binOf));
    for (let b = first; b <= last; b += AGE_BIN) {
      bars.push({ label: b === AGE_TOP_BIN ? `${b}+` : `${b}-${b + AGE_BIN - 1}`, value: known.filter((a) => binOf(a) === b).length });
    }
  }
  const unknown = ages.length - known.length;
  if (unknown > 0 || bars.length === 0) bars.push({ label: 'N/A', value: unknown });
  return { title: 'PARTICIPANTS BY AGE', xLabel: 'AGE (YEARS)', bars };
}

/** Participants per sex: female, male, then other values alphabetically, then unknown. */
export function sexHistogram(rows: OpenMindRow[]): BarChart {
  const values = firstValuePerParticipant(rows, (r) => {
    const s = String(r.sex ?? '').trim().toLowerCase();
    return s === '' ? null : s;
  });
  const counts = new Map<string, number>();
  for (const v of values) counts.set(v === null ? 'unknown' : String(v), (counts.get(v === null ? 'unknown' : String(v)) ?? 0) + 1);
  const rank = (s: string) => (s === 'female' ? 0 : s === 'male' ? 1 : s === 'unknown' ? 3 : 2);
  const labels = [...counts.keys()].sort((a, b) => rank(a) - rank(b) || (a < b ? -1 : a > b ? 1 : 0));
  const bars = labels.map((label) => ({ label, value: counts.get(label)! }));
  return { title: 'PARTICIPANTS BY SEX', xLabel: 'SEX', bars: bars.length ? bars : [{ label: 'unknown', value: 0 }] };
}

/** Render a chart and encode it as PNG bytes. */
export function chartPng(chart: BarChart, width?: number, height?: number): Buffer {
  return encodePng(renderBarChart(chart, width, height));
}
