#!/usr/bin/env python3
"""Checks an export's metadata table with the tools data people use (duckdb and pyarrow, from PyPI).

Usage: python3 check_table_types.py <export-dir>

  1. duckdb: `avg(age)` over openneuro_metadata.parquet works (age is a number);
  2. duckdb and pyarrow: each column's type in the Parquet file equals the type each tool infers from the
     CSV's values (columns the CSV leaves entirely empty carry no type there and are skipped);
  3. every cell: the CSV's text, read as the Parquet column's type, equals the Parquet value ('' = null).
Prints a JSON summary (rows, the Parquet columns and types, avg(age)), each problem, then 'types: ok' or
'types: <n> problems' (exit 1)."""
import csv, json, math, sys
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

FAMILY = {  # duckdb / pyarrow type names -> one family
    'DOUBLE': 'double', 'FLOAT': 'double', 'BIGINT': 'integer', 'INTEGER': 'integer', 'BOOLEAN': 'boolean', 'VARCHAR': 'string',
    'double': 'double', 'float': 'double', 'int64': 'integer', 'bool': 'boolean', 'string': 'string', 'large_string': 'string', 'null': 'null',
}


def family(t):
    return FAMILY.get(str(t), str(t))


def main(export):
    root = Path(export)
    csv_path, pq_path = str(root / 'openneuro_metadata.csv'), str(root / 'openneuro_metadata.parquet')
    problems = []
    con = duckdb.connect()

    avg_age = con.execute('SELECT avg(age) FROM read_parquet(?)', [pq_path]).fetchone()[0]
    pq_types = {name: family(t) for name, t, *_ in con.execute('DESCRIBE SELECT * FROM read_parquet(?)', [pq_path]).fetchall()}
    csv_types = {name: family(t) for name, t, *_ in con.execute('DESCRIBE SELECT * FROM read_csv(?)', [csv_path]).fetchall()}
    with open(csv_path, newline='') as f:
        text_rows = list(csv.DictReader(f))
    columns = list(text_rows[0].keys()) if text_rows else list(csv_types)
    if list(pq_types) != columns:
        problems.append(f'column order differs: parquet {list(pq_types)} vs csv {columns}')
    has_values = {c: any(r[c] != '' for r in text_rows) for c in columns}

    arrow_pq = pq.read_schema(pq_path)
    arrow_csv = pacsv.read_csv(csv_path).schema
    for c in columns:
        if not has_values[c]:
            continue
        if csv_types.get(c) != pq_types.get(c):
            problems.append(f'duckdb: {c} is {pq_types.get(c)} in parquet, {csv_types.get(c)} in the csv')
        a, b = family(arrow_pq.field(c).type), family(arrow_csv.field(c).type)
        if a != b:
            problems.append(f'pyarrow: {c} is {a} in parquet, {b} in the csv')

    pq_rows = pq.read_table(pq_path).to_pylist()
    if len(pq_rows) != len(text_rows):
        problems.append(f'{len(pq_rows)} parquet rows, {len(text_rows)} csv rows')
    for i, (t, p) in enumerate(zip(text_rows, pq_rows)):
        for c in columns:
            s, v, kind = t[c], p.get(c), pq_types.get(c)
            if s == '':
                ok = v is None
            elif kind == 'double':
                ok = v is not None and math.isclose(float(s), v, rel_tol=1e-12, abs_tol=0)
            elif kind == 'boolean':
                ok = s in ('True', 'False') and v == (s == 'True')
            else:
                ok = v == s
            if not ok:
                problems.append(f'row {i} ({t.get("unique_id")}): {c} is {s!r} in the csv, {v!r} in parquet')

    print(json.dumps({'rows': len(pq_rows), 'avg_age': avg_age, 'parquet': {f.name: str(f.type) for f in arrow_pq},
                      'duckdb_parquet': pq_types, 'duckdb_csv': {c: csv_types[c] for c in columns if has_values[c]}}))
    for p in problems[:50]:
        print(p)
    print('types: ok' if not problems else f'types: {len(problems)} problems')
    return 1 if problems else 0


if __name__ == '__main__':
    sys.exit(main(sys.argv[1]))
