// A relay between our process and the sandbox that makes a crash fall at a precise point: it
// forwards every request, except that the one `hold` picks is kept — either never forwarded
// ('before': Crisp never sees it) or carried out by the sandbox with its answer kept back ('after':
// Crisp has the write, the caller never learns it). The test then kills the caller while it waits.
import { createServer, request, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

export type HoldPoint = 'before' | 'after';

export class HoldingRelay {
  /** The request held, once one was. */
  held: { method: string; url: string } | undefined;
  /** Which request to hold (the first it returns a point for, then no other). */
  hold: (req: IncomingMessage) => HoldPoint | undefined = () => undefined;
  private constructor(
    readonly server: Server,
    readonly url: string,
  ) {}

  static async start(target: string): Promise<HoldingRelay> {
    const server = createServer();
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const relay = new HoldingRelay(server, `http://127.0.0.1:${(server.address() as AddressInfo).port}`);
    server.on('request', (req: IncomingMessage, res: ServerResponse) => relay.#forward(target, req, res));
    return relay;
  }

  /** Holds the next request `hold` picks, at `point`. */
  arm(hold: (req: IncomingMessage) => boolean, point: HoldPoint): void {
    this.held = undefined;
    this.hold = (req) => (hold(req) ? point : undefined);
  }

  #forward(target: string, req: IncomingMessage, res: ServerResponse): void {
    const point = this.held === undefined ? this.hold(req) : undefined;
    if (point) this.held = { method: req.method!, url: req.url! };
    if (point === 'before') return void req.resume();
    const upstream = request(new URL(req.url!, target), { method: req.method, headers: req.headers }, (answer) => {
      const chunks: Buffer[] = [];
      answer.on('data', (c: Buffer) => chunks.push(c)).on('end', () => {
        if (point === 'after') return;
        res.writeHead(answer.statusCode!, answer.headers).end(Buffer.concat(chunks));
      });
    });
    upstream.on('error', () => res.destroy());
    req.pipe(upstream);
  }

  close(): Promise<void> {
    this.server.closeAllConnections();
    return new Promise((resolve) => this.server.close(() => resolve()));
  }
}
