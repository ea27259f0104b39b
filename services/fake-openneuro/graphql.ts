// A small GraphQL executor for the fake OpenNeuro: parses queries (operations, variables,
// aliases, fragments, directives ignored) and resolves them against plain objects whose
// fields are values or `(args) => value` functions. Enough for OpenNeuro clients; no schema.

export type Value = string | number | boolean | null | Value[] | { [k: string]: Value } | { $var: string } | { $enum: string };

export interface Field {
  kind: 'field';
  alias: string;
  name: string;
  args: Record<string, Value>;
  selections: Selection[] | null;
}
export type Selection = Field | { kind: 'spread'; name: string } | { kind: 'inline'; selections: Selection[] };

interface Operation {
  name: string | null;
  type: 'query' | 'mutation' | 'subscription';
  variableDefaults: Record<string, Value>;
  selections: Selection[];
}

export interface Document {
  operations: Operation[];
  fragments: Map<string, Selection[]>;
}

export class GraphQLSyntaxError extends Error {}

type Token = { t: 'punct' | 'name' | 'int' | 'float' | 'string' | 'spread'; v: string };

function tokenize(src: string): Token[] {
  const out: Token[] = [];
  let i = 0;
  while (i < src.length) {
    const c = src[i];
    if (c === ' ' || c === '\t' || c === '\n' || c === '\r' || c === ',' || c === '\uFEFF') i++;
    else if (c === '#') while (i < src.length && src[i] !== '\n') i++;
    else if (src.startsWith('...', i)) {
      out.push({ t: 'spread', v: '...' });
      i += 3;
    } else if ('!$():=@[]{}|&'.includes(c)) {
      out.push({ t: 'punct', v: c });
      i++;
    } else if (/[A-Za-z_]/.test(c)) {
      const m = /^[A-Za-z_][A-Za-z0-9_]*/.exec(src.slice(i))!;
      out.push({ t: 'name', v: m[0] });
      i += m[0].length;
    } else if (/[-0-9]/.test(c)) {
      const m = /^-?\d+(\.\d+)?([eE][+-]?\d+)?/.exec(src.slice(i));
      if (!m) throw new GraphQLSyntaxError(`unexpected "${c}" at ${i}`);
      out.push({ t: m[1] || m[2] ? 'float' : 'int', v: m[0] });
      i += m[0].length;
    } else if (src.startsWith('"""', i)) {
      const end = src.indexOf('"""', i + 3);
      if (end < 0) throw new GraphQLSyntaxError('unterminated block string');
      out.push({ t: 'string', v: src.slice(i + 3, end) });
      i = end + 3;
    } else if (c === '"') {
      let j = i + 1;
      let s = '';
      while (j < src.length && src[j] !== '"') {
        if (src[j] === '\\') {
          const e = src[j + 1];
          if (e === 'u') {
            s += String.fromCharCode(parseInt(src.slice(j + 2, j + 6), 16));
            j += 6;
            continue;
          }
          s += ({ n: '\n', t: '\t', r: '\r', b: '\b', f: '\f' } as Record<string, string>)[e] ?? e;
          j += 2;
        } else s += src[j++];
      }
      if (j >= src.length) throw new GraphQLSyntaxError('unterminated string');
      out.push({ t: 'string', v: s });
      i = j + 1;
    } else throw new GraphQLSyntaxError(`unexpected "${c}" at ${i}`);
  }
  return out;
}

class Parser {
  private i = 0;
  constructor(private readonly tokens: Token[]) {}

  private peek(): Token | undefined {
    return this.tokens[this.i];
  }
  private next(): Token {
    const t = this.tokens[this.i++];
    if (!t) throw new GraphQLSyntaxError('unexpected end of query');
    return t;
  }
  private isPunct(v: string): boolean {
    const t = this.peek();
    return !!t && t.t === 'punct' && t.v === v;
  }
  private expectPunct(v: string): void {
    const t = this.next();
    if (t.t !== 'punct' || t.v !== v) throw new GraphQLSyntaxError(`expected "${v}", got "${t.v}"`);
  }
  private name(): string {
    const t = this.next();
    if (t.t !== 'name') throw new GraphQLSyntaxError(`expected a name, got "${t.v}"`);
    return t.v;
  }

  document(): Document {
    const doc: Document = { operations: [], fragments: new Map() };
    while (this.peek()) {
      if (this.isPunct('{')) doc.operations.push({ name: null, type: 'query', variableDefaults: {}, selections: this.selectionSet() });
      else {
        const kw = this.name();
        if (kw === 'fragment') {
          const name = this.name();
          if (this.name() !== 'on') throw new GraphQLSyntaxError('expected "on"');
          this.name();
          this.directives();
          doc.fragments.set(name, this.selectionSet());
        } else if (kw === 'query' || kw === 'mutation' || kw === 'subscription') {
          const name = this.peek()?.t === 'name' ? this.name() : null;
          const variableDefaults = this.isPunct('(') ? this.variableDefinitions() : {};
          this.directives();
          doc.operations.push({ name, type: kw, variableDefaults, selections: this.selectionSet() });
        } else throw new GraphQLSyntaxError(`unexpected "${kw}"`);
      }
    }
    return doc;
  }

  private variableDefinitions(): Record<string, Value> {
    const defaults: Record<string, Value> = {};
    this.expectPunct('(');
    while (!this.isPunct(')')) {
      this.expectPunct('$');
      const name = this.name();
      this.expectPunct(':');
      this.type();
      if (this.isPunct('=')) {
        this.next();
        defaults[name] = this.value();
      }
      this.directives();
    }
    this.expectPunct(')');
    return defaults;
  }

  private type(): void {
    if (this.isPunct('[')) {
      this.next();
      this.type();
      this.expectPunct(']');
    } else this.name();
    if (this.isPunct('!')) this.next();
  }

  private directives(): void {
    while (this.isPunct('@')) {
      this.next();
      this.name();
      if (this.isPunct('(')) this.args();
    }
  }

  private selectionSet(): Selection[] {
    this.expectPunct('{');
    const out: Selection[] = [];
    while (!this.isPunct('}')) {
      if (this.peek()?.t === 'spread') {
        this.next();
        if (this.peek()?.t === 'name' && this.peek()!.v !== 'on') {
          out.push({ kind: 'spread', name: this.name() });
          this.directives();
        } else {
          if (this.peek()?.v === 'on') {
            this.next();
            this.name();
          }
          this.directives();
          out.push({ kind: 'inline', selections: this.selectionSet() });
        }
        continue;
      }
      let alias = this.name();
      let name = alias;
      if (this.isPunct(':')) {
        this.next();
        name = this.name();
      }
      const args = this.isPunct('(') ? this.args() : {};
      this.directives();
      const selections = this.isPunct('{') ? this.selectionSet() : null;
      out.push({ kind: 'field', alias, name, args, selections });
    }
    this.expectPunct('}');
    return out;
  }

  private args(): Record<string, Value> {
    const out: Record<string, Value> = {};
    this.expectPunct('(');
    while (!this.isPunct(')')) {
      const name = this.name();
      this.expectPunct(':');
      out[name] = this.value();
    }
    this.expectPunct(')');
    return out;
  }

  private value(): Value {
    const t = this.next();
    if (t.t === 'punct' && t.v === '$') return { $var: this.name() };
    if (t.t === 'int' || t.t === 'float') return Number(t.v);
    if (t.t === 'string') return t.v;
    if (t.t === 'name') {
      if (t.v === 'true') return true;
      if (t.v === 'false') return false;
      if (t.v === 'null') return null;
      return { $enum: t.v };
    }
    if (t.t === 'punct' && t.v === '[') {
      const list: Value[] = [];
      while (!this.isPunct(']')) list.push(this.value());
      this.next();
      return list;
    }
    if (t.t === 'punct' && t.v === '{') {
      const obj: Record<string, Value> = {};
      while (!this.isPunct('}')) {
        const k = this.name();
        this.expectPunct(':');
        obj[k] = this.value();
      }
      this.next();
      return obj;
    }
    throw new GraphQLSyntaxError(`unexpected "${t.v}"`);
  }
}

export function parseQuery(src: string): Document {
  return new Parser(tokenize(src)).document();
}

/** Resolve variables and enums into plain JSON values. */
function materialize(v: Value, vars: Record<string, unknown>): unknown {
  if (v === null || typeof v !== 'object') return v;
  if (Array.isArray(v)) return v.map((x) => materialize(x, vars));
  if ('$var' in v && typeof v.$var === 'string') return vars[v.$var] ?? null;
  if ('$enum' in v && typeof v.$enum === 'string') return v.$enum;
  const out: Record<string, unknown> = {};
  for (const [k, x] of Object.entries(v)) out[k] = materialize(x as Value, vars);
  return out;
}

/** Does any field named `name` in the operation get `arg` = value? (for fault targeting) */
export function hasFieldWithArg(doc: Document, name: string, arg: string, value: unknown, vars: Record<string, unknown> = {}): boolean {
  const visit = (sels: Selection[]): boolean =>
    sels.some((s) => {
      if (s.kind === 'spread') return visit(doc.fragments.get(s.name) ?? []);
      if (s.kind === 'inline') return visit(s.selections);
      if (s.name === name && arg in s.args && materialize(s.args[arg], vars) === value) return true;
      return s.selections ? visit(s.selections) : false;
    });
  return doc.operations.some((op) => visit(op.selections));
}

export interface ExecutionResult {
  data: Record<string, unknown> | null;
  errors?: Array<{ message: string; path?: Array<string | number> }>;
}

/** A resolver object: field values, or functions of (args) returning values or promises. */
export type ResolverObject = Record<string, unknown>;

export async function execute(doc: Document, root: ResolverObject, variables: Record<string, unknown> = {}, operationName?: string): Promise<ExecutionResult> {
  const op = operationName ? doc.operations.find((o) => o.name === operationName) : doc.operations[0];
  if (!op) return { data: null, errors: [{ message: operationName ? `Unknown operation "${operationName}"` : 'No operation' }] };
  const vars: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(op.variableDefaults)) vars[k] = materialize(v, {});
  Object.assign(vars, variables ?? {});
  const errors: NonNullable<ExecutionResult['errors']> = [];
  const data = await resolveSelections(root, op.selections, doc, vars, [], errors);
  return errors.length ? { data, errors } : { data };
}

function collectFields(selections: Selection[], doc: Document, out: Field[] = []): Field[] {
  for (const s of selections) {
    if (s.kind === 'field') out.push(s);
    else if (s.kind === 'inline') collectFields(s.selections, doc, out);
    else collectFields(doc.fragments.get(s.name) ?? [], doc, out);
  }
  return out;
}

async function resolveSelections(
  obj: ResolverObject,
  selections: Selection[],
  doc: Document,
  vars: Record<string, unknown>,
  path: Array<string | number>,
  errors: NonNullable<ExecutionResult['errors']>,
): Promise<Record<string, unknown>> {
  const out: Record<string, unknown> = {};
  for (const field of collectFields(selections, doc)) {
    const fieldPath = [...path, field.alias];
    if (field.name === '__typename') {
      out[field.alias] = (obj.__typename as string) ?? 'Object';
      continue;
    }
    try {
      if (!(field.name in obj)) throw new Error(`Cannot query field "${field.name}"`);
      const raw = obj[field.name];
      const args = materialize(field.args as Value, vars) as Record<string, unknown>;
      const value = typeof raw === 'function' ? await (raw as (a: Record<string, unknown>) => unknown).call(obj, args) : raw;
      out[field.alias] = await complete(value, field, doc, vars, fieldPath, errors);
    } catch (e) {
      errors.push({ message: (e as Error).message, path: fieldPath });
      out[field.alias] = null;
    }
  }
  return out;
}

async function complete(
  value: unknown,
  field: Field,
  doc: Document,
  vars: Record<string, unknown>,
  path: Array<string | number>,
  errors: NonNullable<ExecutionResult['errors']>,
): Promise<unknown> {
  if (value === null || value === undefined) return null;
  if (Array.isArray(value)) {
    const fast = field.selections && plainScalarFields(field.selections);
    const picked = fast ? pickScalarsAll(value, fast) : null; // big file lists: no awaits per field
    if (picked) return picked;
    const items: unknown[] = [];
    for (let i = 0; i < value.length; i++) items.push(await complete(value[i], field, doc, vars, [...path, i], errors));
    return items;
  }
  if (field.selections) {
    if (typeof value !== 'object') throw new Error(`Field "${field.name}" is not an object`);
    return resolveSelections(value as ResolverObject, field.selections, doc, vars, path, errors);
  }
  if (typeof value === 'bigint') return value.toString();
  return value;
}

/** Aliases and names when every selection is an argument-free scalar field; else null. */
function plainScalarFields(selections: Selection[]): Array<[string, string]> | null {
  const out: Array<[string, string]> = [];
  for (const s of selections) {
    if (s.kind !== 'field' || s.selections || Object.keys(s.args).length || s.name === '__typename') return null;
    out.push([s.alias, s.name]);
  }
  return out;
}

/** Copy scalar fields of plain objects; null when some field needs a resolver call. */
function pickScalarsAll(items: unknown[], fields: Array<[string, string]>): unknown[] | null {
  const out: unknown[] = new Array(items.length);
  for (let i = 0; i < items.length; i++) {
    const obj = items[i] as Record<string, unknown> | null | undefined;
    if (obj === null || obj === undefined) {
      out[i] = null;
      continue;
    }
    if (typeof obj !== 'object' || Array.isArray(obj)) return null;
    const row: Record<string, unknown> = {};
    for (const [alias, name] of fields) {
      const v = obj[name];
      if (typeof v === 'function' || (v !== null && typeof v === 'object' && !Array.isArray(v))) return null;
      row[alias] = v === undefined ? null : typeof v === 'bigint' ? v.toString() : v;
    }
    out[i] = row;
  }
  return out;
}
