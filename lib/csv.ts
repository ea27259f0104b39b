// RFC 4180 CSV, the one codec of the project (the export table and the ratings export): fields
// with commas, quotes or line breaks are quoted, quotes doubled.

export interface CsvFormat {
  /** Line ending (default '\n'). */
  eol?: '\n' | '\r\n';
  /** Also quote fields with leading or trailing white space, so readers that trim keep it. */
  quoteEdgeSpaces?: boolean;
}

export function csvField(value: string, quoteEdgeSpaces = false): string {
  return /[",\r\n]/.test(value) || (quoteEdgeSpaces && /^\s|\s$/.test(value)) ? `"${value.replace(/"/g, '""')}"` : value;
}

/** Rows (the header first) as CSV text, each line ended by `eol`. */
export function formatCsv(rows: string[][], opts: CsvFormat = {}): string {
  const eol = opts.eol ?? '\n';
  return rows.map((r) => r.map((f) => csvField(f, opts.quoteEdgeSpaces)).join(',')).join(eol) + eol;
}

/** Parse CSV text into rows of fields (quoted fields may span lines; a leading BOM and blank lines are skipped). */
export function parseCsvRows(text: string): string[][] {
  const rows: string[][] = [];
  let row: string[] = [];
  let field = '';
  let quoted = false;
  let i = text.charCodeAt(0) === 0xfeff ? 1 : 0;
  for (; i < text.length; i++) {
    const c = text[i];
    if (quoted) {
      if (c === '"' && text[i + 1] === '"') {
        field += '"';
        i++;
      } else if (c === '"') quoted = false;
      else field += c;
    } else if (c === '"' && field === '') quoted = true;
    else if (c === ',') {
      row.push(field);
      field = '';
    } else if (c === '\n' || c === '\r') {
      if (c === '\r' && text[i + 1] === '\n') i++;
      row.push(field);
      rows.push(row);
      row = [];
      field = '';
    } else field += c;
  }
  if (field !== '' || row.length) {
    row.push(field);
    rows.push(row);
  }
  return rows.filter((r) => !(r.length === 1 && r[0] === ''));
}

/** CSV with a header line as objects keyed by the header. */
export function parseCsv(text: string): Record<string, string>[] {
  const [header, ...rows] = parseCsvRows(text);
  if (!header) return [];
  return rows.map((r) => Object.fromEntries(header.map((h, i) => [h.trim(), r[i] ?? ''])));
}
