// The request line our client writes, seen by a real HTTP server: path segments escaped as
// encodeURIComponent does and the query as URLSearchParams does, whichever characters they hold
// (the client copies plain ids and numbers as they are and encodes only the others).
import { createServer, type Server } from 'node:http';
import { once } from 'node:events';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CrispHttp, type QueryValue } from '../../src/crisp/http.js';

let server: Server;
let http: CrispHttp;
const seen: string[] = [];

beforeAll(async () => {
  server = createServer((req, res) => {
    seen.push(req.url ?? '');
    res.writeHead(200, { 'content-type': 'application/json' }).end('{"error":false,"reason":"resolved","data":{}}');
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as AddressInfo;
  http = new CrispHttp({ baseUrl: `http://127.0.0.1:${port}/prefix/`, credentials: { identifier: 'id', key: 'key', tier: 'plugin' }, userAgent: 'test' });
});
afterAll(async () => {
  await http.close();
  server.close();
});

const AWKWARD = ['plain-id_1.2', 'with space', 'a/b?c#d&e=f', "it's (fine)!*~", 'été ünïcode 日本', '100%', 'plus+sign', 'tab\tand\nline', '', 'emoji 🙂'];

/** What the path was before the plain-characters shortcut: every segment and query part through the encoders. */
function expected(segments: readonly (string | number)[], query: Record<string, QueryValue>): string {
  const search = new URLSearchParams();
  for (const [name, value] of Object.entries(query)) {
    if (value === undefined || value === null) continue;
    search.append(name, typeof value === 'boolean' ? (value ? '1' : '0') : typeof value === 'object' ? JSON.stringify(value) : String(value));
  }
  const qs = search.toString();
  return `/prefix/v1/${segments.map((s) => encodeURIComponent(String(s))).join('/')}${qs ? `?${qs}` : ''}`;
}

describe('the request path', () => {
  it('escapes segments and query values exactly as encodeURIComponent and URLSearchParams do', async () => {
    for (const text of AWKWARD) {
      const segments = ['website', text, 'conversation', 42, 'messages'];
      const query: Record<string, QueryValue> = { timestamp_after: 1_765_000_000_000, search_query: text, [`name ${text}`]: 'v', flag: true, off: false, none: undefined, nothing: null, filter: [{ q: text }] };
      seen.length = 0;
      await http.request({ method: 'GET', segments, query });
      expect(seen).toEqual([expected(segments, query)]);
    }
  });

  it('writes no `?` when every query value is missing', async () => {
    seen.length = 0;
    await http.request({ method: 'GET', segments: ['website', 'w'], query: { a: undefined, b: null } });
    expect(seen).toEqual(['/prefix/v1/website/w']);
  });
});
