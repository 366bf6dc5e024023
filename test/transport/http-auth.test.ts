// BearerTokens remembers the header values it accepted: its verdicts must stay those of the full check.
import { describe, expect, it } from 'vitest';
import { BearerTokens, isRefusal } from '../../src/transport/http-auth.js';

describe('BearerTokens', () => {
  const tokens = new BearerTokens(['token-one-0123456789', 'token-two-0123456789']);

  it('gives each token its own principal, the same on every request', () => {
    const one = tokens.check('Bearer token-one-0123456789');
    const two = tokens.check('Bearer token-two-0123456789');
    expect(isRefusal(one) || isRefusal(two)).toBe(false);
    expect(one).not.toEqual(two);
    for (let i = 0; i < 3; i++) {
      expect(tokens.check('Bearer token-one-0123456789')).toEqual(one);
      expect(tokens.check('Bearer token-two-0123456789')).toEqual(two);
    }
  });

  it('keeps refusing a wrong token, before and after a right one was accepted', () => {
    for (let i = 0; i < 3; i++) {
      const refused = tokens.check('Bearer token-one-012345678');
      expect(isRefusal(refused) && refused.status).toBe(401);
      expect(tokens.check('Bearer token-one-0123456789')).toMatchObject({ id: expect.stringMatching(/^token:/) });
    }
    expect(isRefusal(tokens.check(undefined))).toBe(true);
    expect(isRefusal(tokens.check('Basic token-one-0123456789'))).toBe(true);
  });

  it('accepts every spelling of a right token past the number it remembers, and a caller cannot alter a remembered verdict', () => {
    const first = tokens.check('Bearer token-one-0123456789');
    for (let spaces = 1; spaces <= 100; spaces++) {
      const principal = tokens.check(`bearer${' '.repeat(spaces)}token-one-0123456789`);
      expect(principal).toEqual(first);
      (principal as { id: string }).id = 'tampered';
    }
    expect(tokens.check('Bearer token-one-0123456789')).toEqual(first);
    expect(tokens.check(`bearer${' '.repeat(100)}token-one-0123456789`)).toEqual(first);
  });

  it('lets anyone in as anonymous when no token is configured', () => {
    expect(new BearerTokens([]).check(undefined)).toEqual({ id: 'anonymous' });
  });
});
