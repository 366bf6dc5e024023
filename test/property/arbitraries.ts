// Generators the property tests share: secrets built from the characters JSON, URLs and shells
// escape, so a redaction that only knows the raw form is caught.
import fc from 'fast-check';

/** Characters that JSON, percent/form encoding or shell quoting change, plus non-ASCII ones. */
export const ESCAPED_CHARS = [...`"\\'\`$%&+=/?#@:;,<>{}[]|~!*()^ \t\n\r`, 'é', 'ß', '☃', '😀', '\u2028', '\u00a0'];

const ALNUM = [...'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789'];

/**
 * A secret of 16-64 characters, about half of them escaped ones. Never blank at either end: every
 * setting is trimmed where it is read, so a key with outer white space is a different key.
 */
export const secretArb = fc
  .array(fc.oneof(fc.constantFrom(...ESCAPED_CHARS), fc.constantFrom(...ALNUM)), { minLength: 16, maxLength: 64 })
  .map((chars) => `k${chars.join('')}k`);

/** The forms a secret can take in what we write, computed here as a reader would, not as src/ does. */
export function spellings(secret: string, identifier = ''): string[] {
  const json = (s: string): string => JSON.stringify(s).slice(1, -1);
  const texts = identifier ? [secret, `${identifier}:${secret}`] : [secret];
  return texts.flatMap((s) => {
    const uri = encodeURIComponent(s);
    return [
      s,
      json(s),
      json(json(s)),
      uri,
      uri.replace(/%[0-9A-F]{2}/g, (h) => h.toLowerCase()),
      new URLSearchParams({ s }).toString().slice(2),
      Buffer.from(s).toString('base64'),
      Buffer.from(s).toString('base64url'),
    ];
  });
}

/** Whether any base64 (or base64url) run in `text`, decoded at any alignment, holds `secret`. */
export function base64Holds(text: string, secret: string): boolean {
  const wanted = Buffer.from(secret);
  for (const run of text.match(/[A-Za-z0-9+/_-]{8,}/g) ?? []) {
    const standard = run.replace(/-/g, '+').replace(/_/g, '/');
    for (let skip = 0; skip < 4; skip++) {
      const part = standard.slice(skip);
      if (Buffer.from(part.slice(0, part.length - (part.length % 4)), 'base64').includes(wanted)) return true;
    }
  }
  return false;
}

/** The first spelling of `secret` found in `text` (undefined when none is). */
export function leakedSpelling(text: string, secret: string, identifier = ''): string | undefined {
  const found = spellings(secret, identifier).find((form) => text.includes(form));
  if (found !== undefined) return found;
  return base64Holds(text, secret) ? '(base64 of the secret inside a longer text)' : undefined;
}
