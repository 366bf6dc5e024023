// scrub() and the logger's last line of defence: a registered secret is replaced wherever it
// hides in a line, in every form it takes on the wire.
import { Writable } from 'node:stream';
import { afterEach, describe, expect, it } from 'vitest';
import { clearSecrets, registerSecret, scrub } from '../../src/credentials/redact.js';
import { createLogger } from '../../src/log.js';

afterEach(clearSecrets);

describe('scrub', () => {
  it('replaces the key, the pair, and their base64 forms; leaves other text alone', () => {
    registerSecret('s3cr3t-key-value', 'ident-1');
    const basic = Buffer.from('ident-1:s3cr3t-key-value').toString('base64');
    expect(scrub(`key=s3cr3t-key-value; auth=Basic ${basic}; b64=${Buffer.from('s3cr3t-key-value').toString('base64')}`)).toBe('key=[redacted]; auth=Basic [redacted]; b64=[redacted]');
    expect(scrub('nothing to see')).toBe('nothing to see');
  });

  it('ignores secrets too short to be real (they would shred ordinary text)', () => {
    registerSecret('abc');
    expect(scrub('abcabc')).toBe('abcabc');
  });

  it('runs on every line our logger writes, whatever field the secret is in', () => {
    registerSecret('leaky-key-123456', 'who');
    const lines: string[] = [];
    const sink = new Writable({ write: (chunk: Buffer, _enc, done) => (lines.push(chunk.toString()), done()) });
    const log = createLogger('info', sink);
    log.error({ err: new Error('boom leaky-key-123456'), deep: { nested: ['leaky-key-123456'] } }, 'msg leaky-key-123456');
    expect(lines.join('')).not.toContain('leaky-key-123456');
    expect(lines.join('')).toContain('[redacted]');
  });
});
