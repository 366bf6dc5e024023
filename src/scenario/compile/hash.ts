// The program hash: canonical JSON of the scenario streamed straight into sha-256 by emitters
// derived from the zod schema.
// Part of compile.ts (the entry point); pure, no I/O.
import { createHash, type Hash } from 'node:crypto';
import { z } from 'zod';
import { Block, Scenario } from '../schema.js';
import { defOf } from './validate.js';

/**
 * sha-256 of the scenario as canonical JSON: the UTF-8 of
 * `JSON.stringify([rest, migrations ?? null, ids, blocks])`, where `rest` is the scenario without
 * `$schema`, `description`, `blocks` and `migrations`; `ids` lists the blocks in layout order (fixed
 * by start and the edges, not by where they sit in the file), unreachable ones sorted by id; and
 * `blocks` holds those blocks without their `comment`. Every object lists its fields in schema order
 * (zod's output order) and every map its keys sorted (`sortKeys`). Editing `$schema`, `description`
 * or a comment restarts no conversation. The JSON text is never built: emitters derived from the zod
 * schema write its bytes straight into the hash.
 */
export class ProgramHash {
  private readonly sink = new HashSink(createHash('sha256'));
  private readonly emit = emitters();
  /** Block numbers in hash order: instruction order, then the unreachable blocks sorted by id. */
  private readonly sequence: Int32Array;
  private written = 0;

  /** Writes what comes before the blocks: `[rest,migrations,[ids…],[`. */
  constructor(scenario: Scenario, ids: readonly string[], order: Int32Array, reachable: number) {
    const n = order.length;
    this.sequence = order;
    if (reachable < n) {
      this.sequence = new Int32Array(n);
      this.sequence.set(order.subarray(0, reachable));
      this.sequence.set(Array.from(order.subarray(reachable)).sort((a, b) => (ids[a]! < ids[b]! ? -1 : ids[a]! > ids[b]! ? 1 : 0)), reachable);
    }
    const { sink, emit } = this;
    sink.ascii('[');
    emit.rest(scenario, sink);
    sink.ascii(',');
    if (scenario.migrations === undefined) sink.ascii('null');
    else emit.migrations(scenario.migrations, sink);
    sink.ascii(',[');
    for (let k = 0; k < n; k++) {
      if (k > 0) sink.byte(COMMA);
      sink.string(ids[this.sequence[k]!]!);
    }
    sink.ascii('],[');
  }

  /** The next block in hash order: `build` feeds the reachable ones as it lays them out. */
  block(block: Block): void {
    if (this.written++ > 0) this.sink.byte(COMMA);
    this.emit.blocks.get(block.type)!(block, this.sink);
  }

  /** Writes the blocks not fed yet (the unreachable ones) and `]]`; the hex digest. */
  digest(blocks: readonly Block[]): string {
    for (let k = this.written; k < this.sequence.length; k++) this.block(blocks[this.sequence[k]!]!);
    this.sink.ascii(']]');
    return this.sink.digest();
  }
}

/** Writes a valid value of some schema as canonical JSON. */
type Emit = (value: unknown, sink: HashSink) => void;

let canonical: { rest: Emit; migrations: Emit; blocks: Map<string, Emit> } | undefined;
function emitters(): NonNullable<typeof canonical> {
  return (canonical ??= {
    rest: emitterFor(Scenario, new Set(['$schema', 'description', 'blocks', 'migrations'])),
    migrations: emitterFor(Scenario.shape.migrations),
    blocks: new Map(Block.options.map((schema): [string, Emit] => [schema.shape.type.value, emitterFor(schema, new Set(['comment']))])),
  });
}

const COMMA = 0x2c;
const COLON = 0x3a;
const CLOSE_BRACE = 0x7d;
const UTF8 = new TextEncoder();

/** As JSON.stringify writes it, for values of `schema` (zod has checked them: no undefined where a value must be, no cycles). */
function emitterFor(schema: z.core.$ZodType, omit?: ReadonlySet<string>): Emit {
  const def = defOf(schema);
  switch (def.type) {
    case 'string':
    case 'number':
    case 'boolean':
    case 'null':
    case 'literal':
    case 'enum':
      return emitScalar;
    case 'optional':
    case 'nullable': {
      const inner = emitterFor(def.innerType!);
      return (value, sink) => (value === undefined || value === null ? sink.ascii('null') : inner(value, sink));
    }
    case 'array': {
      const element = emitterFor(def.element!);
      return (value, sink) => {
        const array = value as unknown[];
        sink.ascii('[');
        for (let i = 0; i < array.length; i++) {
          if (i > 0) sink.byte(COMMA);
          const item = array[i];
          if (item === undefined) sink.ascii('null');
          else element(item, sink);
        }
        sink.ascii(']');
      };
    }
    case 'object': {
      const fields = Object.entries(def.shape!)
        .filter(([key]) => !omit?.has(key))
        .map(([key, field]) => ({ key, first: UTF8.encode(`{${JSON.stringify(key)}:`), next: UTF8.encode(`,${JSON.stringify(key)}:`), emit: emitterFor(field) }));
      return (value, sink) => {
        let empty = true;
        for (const field of fields) {
          const v = (value as Record<string, unknown>)[field.key];
          if (v === undefined) continue;
          sink.bytes(empty ? field.first : field.next);
          empty = false;
          // a string is written the same whatever the schema says
          if (typeof v === 'string') sink.string(v);
          else field.emit(v, sink);
        }
        if (empty) sink.ascii('{}');
        else sink.byte(CLOSE_BRACE);
      };
    }
    case 'record': {
      const element = emitterFor(def.valueType!);
      return (value, sink) => {
        const sorted = sortKeys(value as Record<string, unknown>);
        let empty = true;
        for (const key of Object.keys(sorted)) {
          const v = sorted[key];
          if (v === undefined) continue;
          sink.ascii(empty ? '{' : ',');
          empty = false;
          sink.string(key);
          sink.byte(COLON);
          element(v, sink);
        }
        if (empty) sink.ascii('{}');
        else sink.byte(CLOSE_BRACE);
      };
    }
    case 'union': {
      // zod's output is that of the first option that accepts the value.
      const branches = def.options!.map((option) => ({ option, kinds: kindsOf(option), emit: emitterFor(option) }));
      const objects = branches.filter((b) => b.kinds.has('object'));
      const arrays = branches.filter((b) => b.kinds.has('array'));
      return (value, sink) => {
        if (typeof value !== 'object' || value === null) return emitScalar(value, sink);
        const candidates = Array.isArray(value) ? arrays : objects;
        const branch = candidates.length === 1 ? candidates[0] : candidates.find((b) => z.validate(b.option, value));
        if (branch === undefined) throw new Error('canonical form: no option of a union accepts the value');
        branch.emit(value, sink);
      };
    }
    default:
      throw new Error(`canonical form: no rule for zod's "${def.type}" schemas`);
  }
}

/** Which kinds of JSON value a schema may accept. */
function kindsOf(schema: z.core.$ZodType): Set<'object' | 'array' | 'scalar'> {
  const def = defOf(schema);
  switch (def.type) {
    case 'object':
    case 'record':
      return new Set(['object']);
    case 'array':
      return new Set(['array']);
    case 'string':
    case 'number':
    case 'boolean':
    case 'null':
    case 'literal':
    case 'enum':
      return new Set(['scalar']);
    case 'optional':
    case 'nullable':
      return new Set([...kindsOf(def.innerType!), 'scalar']);
    case 'union':
      return new Set(def.options!.flatMap((option) => [...kindsOf(option)]));
    default:
      return new Set(['object', 'array', 'scalar']);
  }
}

const emitScalar: Emit = (value, sink) => {
  if (typeof value === 'string') sink.string(value);
  else if (typeof value === 'number') sink.ascii(Number.isFinite(value) ? String(value) : 'null');
  else if (typeof value === 'boolean') sink.ascii(value ? 'true' : 'false');
  else sink.text(JSON.stringify(value) ?? 'null');
};

const HEX = '0123456789abcdef';

/** The hash reads the canonical JSON in chunks of this many bytes. */
const CHUNK = 1 << 16;

/** Bytes into a hash, through a buffer that grows to CHUNK bytes: the canonical JSON in UTF-8 without building it. */
class HashSink {
  private buffer = new Uint8Array(1 << 10); // a small scenario fits: no 64 KiB buffer to clear for it
  private at = 0;

  constructor(private readonly hash: Hash) {}

  /** Room for `n` more bytes. */
  private room(n: number): void {
    if (this.at + n <= this.buffer.length) return;
    if (this.buffer.length < CHUNK) {
      const bigger = new Uint8Array(Math.max(Math.min(2 * this.buffer.length, CHUNK), this.at + n));
      bigger.set(this.buffer.subarray(0, this.at));
      this.buffer = bigger;
      return;
    }
    if (this.at > 0) this.hash.update(this.buffer.subarray(0, this.at));
    this.at = 0;
    if (n > this.buffer.length) this.buffer = new Uint8Array(n);
  }

  byte(b: number): void {
    this.room(1);
    this.buffer[this.at++] = b;
  }

  bytes(bytes: Uint8Array): void {
    const n = bytes.length;
    this.room(n);
    const buffer = this.buffer;
    let at = this.at;
    for (let i = 0; i < n; i++) buffer[at++] = bytes[i]!;
    this.at = at;
  }

  /** ASCII text. */
  ascii(s: string): void {
    this.room(s.length);
    const buffer = this.buffer;
    let at = this.at;
    for (let i = 0; i < s.length; i++) buffer[at++] = s.charCodeAt(i);
    this.at = at;
  }

  /** Text as UTF-8, as the hash would encode the string (a lone surrogate becomes U+FFFD). */
  text(s: string): void {
    this.bytes(UTF8.encode(s));
  }

  /** JSON.stringify(s) as UTF-8: `"`, `\` and control characters escaped, lone surrogates as \uXXXX. */
  string(s: string): void {
    const n = s.length;
    this.room(6 * n + 2);
    const buffer = this.buffer;
    let at = this.at;
    buffer[at++] = 0x22;
    for (let i = 0; i < n; i++) {
      const c = s.charCodeAt(i);
      if (c < 0x80) {
        if (c >= 0x20 && c !== 0x22 && c !== 0x5c) {
          buffer[at++] = c;
          continue;
        }
        buffer[at++] = 0x5c;
        const short = c === 0x22 ? 0x22 : c === 0x5c ? 0x5c : c === 0x08 ? 0x62 : c === 0x0c ? 0x66 : c === 0x0a ? 0x6e : c === 0x0d ? 0x72 : c === 0x09 ? 0x74 : 0;
        if (short !== 0) buffer[at++] = short;
        else at = hexEscape(buffer, at, c);
      } else if (c < 0x800) {
        buffer[at++] = 0xc0 | (c >> 6);
        buffer[at++] = 0x80 | (c & 0x3f);
      } else if (c < 0xd800 || c > 0xdfff) {
        buffer[at++] = 0xe0 | (c >> 12);
        buffer[at++] = 0x80 | ((c >> 6) & 0x3f);
        buffer[at++] = 0x80 | (c & 0x3f);
      } else {
        const d = c <= 0xdbff && i + 1 < n ? s.charCodeAt(i + 1) : 0;
        if (d >= 0xdc00 && d <= 0xdfff) {
          const cp = 0x10000 + ((c - 0xd800) << 10) + (d - 0xdc00);
          buffer[at++] = 0xf0 | (cp >> 18);
          buffer[at++] = 0x80 | ((cp >> 12) & 0x3f);
          buffer[at++] = 0x80 | ((cp >> 6) & 0x3f);
          buffer[at++] = 0x80 | (cp & 0x3f);
          i++;
        } else {
          buffer[at++] = 0x5c;
          at = hexEscape(buffer, at, c);
        }
      }
    }
    buffer[at++] = 0x22;
    this.at = at;
  }

  digest(): string {
    if (this.at > 0) this.hash.update(this.buffer.subarray(0, this.at));
    this.at = 0;
    return this.hash.digest('hex');
  }
}

/** `uXXXX` (lowercase hex, as JSON.stringify writes it) after a backslash already written. */
function hexEscape(buffer: Uint8Array, at: number, c: number): number {
  buffer[at++] = 0x75;
  buffer[at++] = HEX.charCodeAt(c >> 12);
  buffer[at++] = HEX.charCodeAt((c >> 8) & 0xf);
  buffer[at++] = HEX.charCodeAt((c >> 4) & 0xf);
  buffer[at++] = HEX.charCodeAt(c & 0xf);
  return at;
}

function sortKeys(record: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const key of Object.keys(record).sort()) out[key] = record[key];
  return out;
}
