// fast-check arbitraries from the JSON Schemas tools advertise: values inside a schema (the keywords
// zod emits for our tools: type, enum, const, pattern, format, lengths, bounds, items, properties,
// required, anyOf, additionalProperties) and values that break it in one place.
import fc from 'fast-check';

export interface JsonSchema {
  type?: string | string[];
  enum?: unknown[];
  const?: unknown;
  pattern?: string;
  format?: string;
  minLength?: number;
  maxLength?: number;
  minimum?: number;
  maximum?: number;
  exclusiveMinimum?: number;
  exclusiveMaximum?: number;
  minItems?: number;
  maxItems?: number;
  items?: JsonSchema;
  properties?: Record<string, JsonSchema>;
  required?: string[];
  additionalProperties?: boolean | JsonSchema;
  propertyNames?: JsonSchema;
  anyOf?: JsonSchema[];
  oneOf?: JsonSchema[];
}

/** Values the caller knows to exist (real ids), tried beside generated ones, by property name. */
export type Known = Record<string, readonly unknown[]>;

/** Any JSON value: what a confused or hostile client might send for a field. */
export const anyJson: fc.Arbitrary<unknown> = fc.oneof(
  fc.constant(null),
  fc.boolean(),
  fc.integer(),
  fc.double(),
  fc.string({ maxLength: 30 }),
  fc.constantFrom('', ' ', '0', '-1', 'null', 'session_', '../../etc/passwd', '\u0000', '😀'.repeat(3), 'x'.repeat(20_000)),
  fc.array(fc.oneof(fc.integer(), fc.string({ maxLength: 5 })), { maxLength: 3 }),
  fc.dictionary(fc.string({ maxLength: 5 }), fc.oneof(fc.integer(), fc.string({ maxLength: 5 })), { maxKeys: 3 }),
);

/** A value the schema accepts (or nearly: constraints it cannot express, like refinements, may still fail). */
export function inside(schema: JsonSchema, known: Known = {}, name = ''): fc.Arbitrary<unknown> {
  const generated = insideOnly(schema, known);
  const real = known[name];
  return real && real.length > 0 ? fc.oneof({ arbitrary: fc.constantFrom(...real), weight: 6 }, { arbitrary: generated, weight: 1 }) : generated;
}

function insideOnly(schema: JsonSchema, known: Known): fc.Arbitrary<unknown> {
  const branches = schema.anyOf ?? schema.oneOf;
  if (branches) return fc.oneof(...branches.map((b) => inside(b, known)));
  if (schema.const !== undefined) return fc.constant(schema.const);
  if (schema.enum) return fc.constantFrom(...schema.enum);
  const type = Array.isArray(schema.type) ? schema.type[0] : schema.type;
  switch (type) {
    case 'string':
      return stringInside(schema);
    case 'integer':
    case 'number': {
      const min = schema.exclusiveMinimum !== undefined ? schema.exclusiveMinimum + 1 : (schema.minimum ?? -1_000_000);
      const max = schema.exclusiveMaximum !== undefined ? schema.exclusiveMaximum - 1 : (schema.maximum ?? 1_000_000);
      const lo = Math.max(min, Number.MIN_SAFE_INTEGER);
      const hi = Math.min(max, Number.MAX_SAFE_INTEGER);
      return type === 'integer' ? fc.oneof(fc.integer({ min: Math.max(lo, -1e9), max: Math.min(hi, 1e9) }), fc.constantFrom(lo, hi)) : fc.double({ min: lo, max: hi, noNaN: true });
    }
    case 'boolean':
      return fc.boolean();
    case 'null':
      return fc.constant(null);
    case 'array':
      return fc.array(inside(schema.items ?? {}, known), { minLength: schema.minItems ?? 0, maxLength: Math.min(schema.maxItems ?? 4, 4) });
    case 'object':
      return objectInside(schema, known);
    default:
      return anyJson;
  }
}

function stringInside(schema: JsonSchema): fc.Arbitrary<string> {
  const minLength = schema.minLength ?? 0;
  const maxLength = Math.min(schema.maxLength ?? 40, 40);
  if (schema.pattern) return fc.stringMatching(new RegExp(schema.pattern)).filter((s) => s.length >= minLength && s.length <= (schema.maxLength ?? Infinity));
  switch (schema.format) {
    case 'uri':
      return fc.webUrl();
    case 'email':
      return fc.emailAddress();
    case 'date-time':
      return fc.date({ min: new Date(0), max: new Date(4e12), noInvalidDate: true }).map((d) => d.toISOString());
    default:
      return fc.string({ minLength, maxLength: Math.max(minLength, maxLength) });
  }
}

function objectInside(schema: JsonSchema, known: Known): fc.Arbitrary<Record<string, unknown>> {
  const properties = schema.properties ?? {};
  if (Object.keys(properties).length === 0 && typeof schema.additionalProperties === 'object') {
    return fc.dictionary(schema.propertyNames ? (stringInside(schema.propertyNames) as fc.Arbitrary<string>) : fc.string({ minLength: 1, maxLength: 10 }), inside(schema.additionalProperties, known), { maxKeys: 3 });
  }
  const record: Record<string, fc.Arbitrary<unknown>> = {};
  for (const [key, sub] of Object.entries(properties)) record[key] = inside(sub, known, key);
  return fc.record(record, { requiredKeys: schema.required ?? [] }) as fc.Arbitrary<Record<string, unknown>>;
}

/** Arguments for an object schema with one field broken: a wrong value, or a required one left out. */
export function brokenArguments(schema: JsonSchema, known: Known = {}): fc.Arbitrary<Record<string, unknown>> {
  const keys = Object.keys(schema.properties ?? {});
  const required = schema.required ?? [];
  // No field to break: unknown ones are dropped, so the call is a valid one.
  if (keys.length === 0) return fc.dictionary(fc.string({ maxLength: 8 }), anyJson, { maxKeys: 2 });
  const wrongValue = fc.tuple(objectInside(schema, known), fc.constantFrom(...keys), anyJson).map(([args, key, value]) => ({ ...args, [key]: value }));
  if (required.length === 0) return wrongValue;
  const missing = fc.tuple(objectInside(schema, known), fc.constantFrom(...required)).map(([args, key]) => {
    const copy = { ...args };
    delete copy[key];
    return copy;
  });
  return fc.oneof(wrongValue, missing);
}
