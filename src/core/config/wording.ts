/** How problems say things: lists, short previews of values, "did you mean" suggestions. */
import { isObject, type JsonValue } from './jsonTree';

export function orList(items: readonly string[]): string {
  if (items.length <= 1) return items[0] ?? '';
  return `${items.slice(0, -1).join(', ')} or ${items[items.length - 1]}`;
}

export function andList(items: readonly string[]): string {
  if (items.length <= 1) return items[0] ?? '';
  return `${items.slice(0, -1).join(', ')} and ${items[items.length - 1]}`;
}

/** A short rendering of a value for "got ..." suffixes; long strings and big containers are cut. */
export function preview(value: JsonValue, depth = 0): string {
  const MAX_ITEMS = 6;
  if (Array.isArray(value)) {
    if (depth > 1) return '[…]';
    const items = value.slice(0, MAX_ITEMS).map((v) => preview(v, depth + 1));
    if (value.length > MAX_ITEMS) items.push('…');
    return `[${items.join(', ')}]`;
  }
  if (isObject(value)) {
    if (depth > 1) return '{…}';
    const entries = Object.entries(value);
    const items = entries.slice(0, MAX_ITEMS).map(([k, v]) => `${JSON.stringify(k)}: ${preview(v, depth + 1)}`);
    if (entries.length > MAX_ITEMS) items.push('…');
    return items.length === 0 ? '{}' : `{ ${items.join(', ')} }`;
  }
  const text = JSON.stringify(value);
  return text.length > 60 ? `${text.slice(0, 56)}…${text.endsWith('"') ? '"' : ''}` : text;
}

/**
 * Optimal string alignment distance (Levenshtein plus transpositions), case-insensitive, for "did you
 * mean" suggestions.
 */
function editDistance(a: string, b: string): number {
  const s = a.toLowerCase();
  const t = b.toLowerCase();
  const rows: number[][] = [];
  for (let i = 0; i <= s.length; i++) {
    const row: number[] = [i];
    for (let j = 1; j <= t.length; j++) {
      if (i === 0) {
        row.push(j);
        continue;
      }
      const prev = rows[i - 1] ?? [];
      const cost = s[i - 1] === t[j - 1] ? 0 : 1;
      let d = Math.min((prev[j] ?? 0) + 1, (row[j - 1] ?? 0) + 1, (prev[j - 1] ?? 0) + cost);
      if (i > 1 && j > 1 && s[i - 1] === t[j - 2] && s[i - 2] === t[j - 1]) {
        d = Math.min(d, (rows[i - 2]?.[j - 2] ?? 0) + 1);
      }
      row.push(d);
    }
    rows.push(row);
  }
  return rows[s.length]?.[t.length] ?? Math.max(s.length, t.length);
}

/** The closest candidate to a misspelled `word`, if one is close enough to be a likely typo. */
export function suggest(word: string, candidates: Iterable<string>): string | undefined {
  if (word.length > 100) return undefined;
  const limit = Math.max(1, Math.floor(word.length / 3));
  let best: string | undefined;
  let bestDistance = Infinity;
  for (const c of candidates) {
    const d = editDistance(word, c);
    if (d <= limit && d < bestDistance) {
      best = c;
      bestDistance = d;
    }
  }
  return best;
}

/** `; did you mean "x"?` to append to a message when a candidate is close to `word`, else ``. */
export function didYouMean(word: string, candidates: Iterable<string>): string {
  const s = suggest(word, candidates);
  return s === undefined ? '' : `; did you mean "${s}"?`;
}
