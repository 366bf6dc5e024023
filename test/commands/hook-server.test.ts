// The bot's Web Hooks server faces the network as `serve --http` does: a client that trickles its
// headers or its body is answered 408 and let go, where Node's defaults (60 s for the headers, 300 s
// for the request, checked every 30 s) let each one hold a socket for minutes.
import { afterEach, describe, expect, it } from 'vitest';
import type { Autopilot } from '../../src/autopilot/autopilot.js';
import { listenHooks, type HookServer } from '../../src/commands/bot.js';
import { createLogger } from '../../src/log.js';
import { rawExchange } from '../helpers/net.js';

describe('bot --events hooks: the hook server against slow clients', () => {
  let server: HookServer | undefined;
  afterEach(async () => {
    await server?.close();
    server = undefined;
  });

  it('answers 408 and closes the socket when the headers or the body do not arrive in time', async () => {
    server = await listenHooks({ host: '127.0.0.1', port: 0, secret: 'hook-secret', log: createLogger('silent'), scenario: 'gdpr', timeouts: { headersMs: 300, requestMs: 600 } });
    // Attached, so a delivery's body is read (before, every delivery is answered 503 at once); no delivery ever completes here.
    const neverReached = () => {
      throw new Error('no delivery reaches the autopilot in this test');
    };
    server.attach({ handle: neverReached, isOwnEcho: neverReached } as unknown as Autopilot);
    const port = Number(new URL(server.url).port);
    // With Node's defaults the answer would come after a minute, past the test's timeout: an answer at all is the setting's.
    const slow = (payload: string) => rawExchange(port, payload);
    expect(await slow('POST /hooks/crisp HTTP/1.1\r\nHost: 127.0.0.1\r\n')).toMatch(/^HTTP\/1\.1 408/);
    expect(await slow('POST /hooks/crisp HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{"event"')).toMatch(/^HTTP\/1\.1 408/);
  });

  it('keeps an idle keep-alive connection open as long as serve --http does (65 s, longer than a proxy in front)', async () => {
    server = await listenHooks({ host: '127.0.0.1', port: 0, secret: 'hook-secret', log: createLogger('silent'), scenario: 'gdpr' });
    const health = await fetch(server.url.replace(/\/hooks\/crisp$/, '/healthz'));
    await health.body?.cancel();
    expect(health.headers.get('keep-alive')).toBe('timeout=65');
  });
});
