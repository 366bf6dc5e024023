// scrub() by construction: a registered secret made of characters that JSON, URL and shell quoting
// escape is hidden in every form it can be written in — alone, inside other text, inside a longer
// base64 text at any alignment, and in the JSON lines our logger writes.
import { Writable } from 'node:stream';
import fc from 'fast-check';
import { afterEach, describe, expect, it } from 'vitest';
import { clearSecrets, hideUserinfo, registerSecret, registerUrlUserinfo, scrub } from '../../src/credentials/redact.js';
import { createLogger } from '../../src/log.js';
import { leakedSpelling, secretArb, spellings } from './arbitraries.js';

/** Generated cases per property; docs/operating.md's Reliability section quotes these numbers. */
export const SCRUB_RUNS = 300;

const IDENTIFIER = '6f0e1d2c-3b4a-4596-8877-665544332211';
const filler = fc.string({ maxLength: 40 });

afterEach(clearSecrets);

describe('scrub() hides a secret in every spelling', () => {
  it('each spelling of the key and of identifier:key, inside any text', () => {
    fc.assert(
      fc.property(secretArb, filler, filler, (key, before, after) => {
        clearSecrets();
        registerSecret(key, IDENTIFIER);
        for (const form of spellings(key, IDENTIFIER)) {
          const out = scrub(`${before}${form}${after}`);
          expect(leakedSpelling(out, key, IDENTIFIER), `${JSON.stringify(form)} in ${JSON.stringify(out)}`).toBeUndefined();
        }
      }),
      { numRuns: SCRUB_RUNS },
    );
  });

  it('the base64 of any text holding the key, whatever its alignment', () => {
    fc.assert(
      fc.property(secretArb, filler, filler, fc.boolean(), (key, before, after, url) => {
        clearSecrets();
        registerSecret(key);
        const encoded = Buffer.from(`${before}${key}${after}`).toString(url ? 'base64url' : 'base64');
        expect(leakedSpelling(scrub(encoded), key)).toBeUndefined();
      }),
      { numRuns: SCRUB_RUNS },
    );
  });

  it('every field of every line the logger writes, at level trace', () => {
    fc.assert(
      fc.property(secretArb, fc.string({ maxLength: 12 }), (key, field) => {
        clearSecrets();
        registerSecret(key, IDENTIFIER);
        const lines: string[] = [];
        const sink = new Writable({ write: (chunk: Buffer, _enc, done) => (lines.push(chunk.toString()), done()) });
        const log = createLogger('trace', sink);
        const body = JSON.stringify({ token: key });
        log.trace({ [field || 'f']: key, body, url: `https://h/?k=${encodeURIComponent(key)}`, form: new URLSearchParams({ key }).toString() }, `msg ${key}`);
        log.error({ err: new Error(`boom ${key} ${body}`), auth: `Basic ${Buffer.from(`${IDENTIFIER}:${key}`).toString('base64')}` }, body);
        const out = lines.join('');
        expect(lines).toHaveLength(2);
        expect(leakedSpelling(out, key, IDENTIFIER), out).toBeUndefined();
      }),
      { numRuns: SCRUB_RUNS },
    );
  });

  it('leaves text without a secret alone', () => {
    fc.assert(
      fc.property(secretArb, fc.string(), (key, text) => {
        clearSecrets();
        registerSecret(key);
        fc.pre(!text.includes(key.slice(0, 4)));
        expect(scrub(text)).toBe(text);
      }),
      { numRuns: SCRUB_RUNS },
    );
  });
});

describe('a URL\'s userinfo', () => {
  const part = secretArb.map((s) => [...s].slice(0, 24).join(''));
  it('hideUserinfo() drops user and password from any URL-like text, parsable or not', () => {
    fc.assert(
      fc.property(fc.constantFrom('redis://', 'rediss://', 'redisx://', 'https://', ''), part, part, (scheme, user, password) => {
        const shown = hideUserinfo(`${scheme}${user}:${password}@cache.internal:6379/0`);
        expect(shown).toBe(`${scheme}***@cache.internal:6379/0`);
      }),
      { numRuns: SCRUB_RUNS },
    );
  });

  it('registerUrlUserinfo() makes scrub() hide the password as written and decoded', () => {
    fc.assert(
      fc.property(part, part, (user, password) => {
        clearSecrets();
        const url = `redis://${encodeURIComponent(user)}:${encodeURIComponent(password)}@cache.internal:6379`;
        registerUrlUserinfo(url);
        const out = scrub(`cannot reach ${url}: auth failed for ${password} (${JSON.stringify(password)})`);
        expect(leakedSpelling(out, password), out).toBeUndefined();
      }),
      { numRuns: SCRUB_RUNS },
    );
  });
});
