// A hand check, ahead of zod, of the payloads the autopilot reads on every visitor message: the
// `message:send` / `message:received` event, the thread page's message summaries and the send's
// answer. zod's object parse runs a schema per field and builds its issues on the way; on an event
// of sixteen fields that was a visible share of the bot's CPU per message (bench/autopilot). The
// check accepts only a payload every field of which is plainly what its schema wants, and then
// builds what zod builds from it (the same keys, in the same order: the schema's, then a loose
// object's own others); anything else — a missing field, a wrong type, an odd key — returns
// undefined and the zod schema reads it, so a refusal and its message are zod's own.
// test/crisp/plain-shapes.test.ts holds each shape to its schema.

/** How one field is checked; a nested shape is checked and rebuilt the same way. */
type Kind = 'string' | 'number' | 'boolean' | 'unknown' | 'sender' | 'string|null' | 'strings' | PlainShape;

export interface PlainShape {
  /** Field name, kind, and whether it may be absent. */
  readonly fields: ReadonlyArray<readonly [name: string, kind: Kind, optional: boolean]>;
  /** A loose object keeps the keys it does not name (after its own); a strict one drops them. */
  readonly loose: boolean;
  readonly names: ReadonlySet<string>;
}

export function plainShape(loose: boolean, fields: PlainShape['fields']): PlainShape {
  return { fields, loose, names: new Set(fields.map(([name]) => name)) };
}

/** Not plainly of the shape: the schema decides. */
const NOT_PLAIN = Symbol('not plain');

/** The value zod would build from `input` when input is plainly of the shape; undefined otherwise. */
export function readPlain(shape: PlainShape, input: unknown): Record<string, unknown> | undefined {
  const out = readObject(shape, input);
  return out === NOT_PLAIN ? undefined : out;
}

/** The same for an array of such objects. */
export function readPlainArray(shape: PlainShape, input: unknown): Record<string, unknown>[] | undefined {
  if (!Array.isArray(input)) return undefined;
  const out: Record<string, unknown>[] = new Array<Record<string, unknown>>(input.length);
  for (let i = 0; i < input.length; i++) {
    const item = readObject(shape, input[i]);
    if (item === NOT_PLAIN) return undefined;
    out[i] = item;
  }
  return out;
}

function readObject(shape: PlainShape, input: unknown): Record<string, unknown> | typeof NOT_PLAIN {
  // An object as JSON.parse makes it; any other (an array, a class instance) goes to the schema.
  if (typeof input !== 'object' || input === null || Object.getPrototypeOf(input) !== Object.prototype) return NOT_PLAIN;
  const source = input as Record<string, unknown>;
  const out: Record<string, unknown> = {};
  for (const [name, kind, optional] of shape.fields) {
    if (!(name in source)) {
      if (optional) continue;
      return NOT_PLAIN;
    }
    const value = readValue(kind, source[name]);
    if (value === NOT_PLAIN) return NOT_PLAIN;
    out[name] = value;
  }
  if (shape.loose) {
    for (const name in source) {
      if (shape.names.has(name)) continue;
      if (name === '__proto__') return NOT_PLAIN;
      out[name] = source[name];
    }
  }
  return out;
}

function readValue(kind: Kind, value: unknown): unknown {
  switch (kind) {
    case 'string':
      return typeof value === 'string' ? value : NOT_PLAIN;
    case 'number':
      return typeof value === 'number' && Number.isFinite(value) ? value : NOT_PLAIN;
    case 'boolean':
      return typeof value === 'boolean' ? value : NOT_PLAIN;
    case 'unknown':
      return value;
    case 'sender':
      return value === 'user' || value === 'operator' ? value : NOT_PLAIN;
    case 'string|null':
      return typeof value === 'string' || value === null ? value : NOT_PLAIN;
    case 'strings': {
      if (!Array.isArray(value)) return NOT_PLAIN;
      for (const item of value) if (typeof item !== 'string') return NOT_PLAIN;
      return value.slice();
    }
    default:
      return readObject(kind, value);
  }
}
