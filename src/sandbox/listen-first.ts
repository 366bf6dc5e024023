// The sandbox as stdio `serve --sandbox` starts it, which an MCP host waits on: its address is bound
// at once, so the URL, the website id and the credentials are known and logged at start, but the
// simulator itself (server.ts: the inbox, the routes, node:http, Socket.IO) is loaded and built
// when the first connection arrives, and then takes over the bound socket. Connections that arrive
// meanwhile wait, unread, and are handed to it in order; nothing else tells the two apart.
import { createServer, type AddressInfo, type Socket } from 'node:net';
import type { Sandbox, SandboxOptions } from './server.js';
import { defaultCredentials, demoWebsiteId } from './seed.js';
import type { SandboxCredential } from './routes/context.js';

/** A sandbox whose address is bound and whose simulator starts on the first connection. */
export interface ListeningSandbox {
  url: string;
  websiteId: string;
  /** Every seeded website, the first `websiteId` (options.websites of them). */
  websiteIds: string[];
  credentials: SandboxCredential[];
  /** The simulator, started by the first connection or by this call, whichever comes first. */
  started(): Promise<Sandbox>;
  close(): Promise<void>;
}

/** Binds `options.port`/`options.host` (default: a free port on 127.0.0.1); a taken address rejects, as startSandbox does. */
export async function listenFirst(options: Omit<SandboxOptions, 'listenOn'> = {}): Promise<ListeningSandbox> {
  const credentials = options.credentials ?? defaultCredentials();
  // The id the simulator's inbox will have. Not passed on to it: an id given skips the seed's first draw, which changes the inbox.
  const websiteId = options.websiteId ?? demoWebsiteId(options.seed ?? 42);
  // Website i is seeded with seed + i (SandboxState.reset).
  const websiteIds = [websiteId, ...Array.from({ length: (options.websites ?? 1) - 1 }, (_, i) => demoWebsiteId((options.seed ?? 42) + i + 1))];
  // pauseOnConnect: a connection's bytes stay unread until the simulator's HTTP server reads them.
  const front = createServer({ pauseOnConnect: true });
  await new Promise<void>((resolve, reject) => {
    front.once('error', reject);
    front.listen(options.port ?? 0, options.host ?? '127.0.0.1', () => resolve());
  });
  const address = front.address() as AddressInfo;
  const host = address.family === 'IPv6' ? `[${address.address}]` : address.address;

  const waiting = new Set<Socket>();
  let starting: Promise<Sandbox> | undefined;
  let closed = false;
  const started = () =>
    (starting ??= import('./server.js').then(async ({ startSandbox }) => {
      if (closed) throw new Error('the sandbox was closed before it started');
      const sandbox = await startSandbox({ ...options, credentials, listenOn: front });
      front.removeListener('connection', onConnection);
      return sandbox;
    }));
  const onConnection = (socket: Socket) => {
    waiting.add(socket);
    socket.once('close', () => waiting.delete(socket));
    started().then(
      (sandbox) => {
        if (!waiting.delete(socket)) return;
        sandbox.server.emit('connection', socket);
        socket.resume();
      },
      (error: unknown) => {
        socket.destroy();
        if (!closed) console.error('sandbox: could not start', error);
      },
    );
  };
  front.on('connection', onConnection);

  return {
    url: `http://${host}:${address.port}`,
    websiteId,
    websiteIds,
    credentials,
    started,
    async close() {
      if (closed) return;
      closed = true;
      for (const socket of waiting) socket.destroy();
      // Once the simulator has taken the socket over, closing it closes the address too.
      const sandbox = await starting?.catch(() => undefined);
      if (sandbox) return sandbox.close();
      await new Promise<void>((resolve) => front.close(() => resolve()));
    },
  };
}
