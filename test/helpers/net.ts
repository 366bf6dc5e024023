// A TCP port nothing listens on right now (for servers that must be told their port up front).
//
// Not one the kernel hands out for `listen(0)`: that port comes from the ephemeral range, the same
// range every outgoing connection takes its local port from, so between our close and the real
// server's listen a test's HTTP client could take it (EADDRINUSE, seen in a full run). A random
// port below Linux's default ephemeral range (32768–60999) is never taken by an outgoing
// connection; it is checked free by binding it, and another test picking the same one is a
// chance in thousands.
import { once } from 'node:events';
import { connect, createServer } from 'node:net';
import { randomInt } from 'node:crypto';

const LOW = 20_000;
const HIGH = 32_000;

export async function freePort(): Promise<number> {
  for (let attempt = 0; attempt < 50; attempt++) {
    const port = await tryPort(randomInt(LOW, HIGH));
    if (port !== undefined) return port;
  }
  // Every pick was taken (a crowded machine): whatever the kernel gives.
  const port = await tryPort(0);
  if (port === undefined) throw new Error('no free TCP port');
  return port;
}

/** Binds `port` on loopback and lets it go; undefined if it is in use. */
async function tryPort(port: number): Promise<number | undefined> {
  const server = createServer();
  try {
    server.listen(port, '127.0.0.1');
    await once(server, 'listening');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'EADDRINUSE' || (error as NodeJS.ErrnoException).code === 'EACCES') return undefined;
    throw error;
  }
  const address = server.address();
  server.close();
  await once(server, 'close');
  return address === null || typeof address === 'string' ? undefined : address.port;
}

/**
 * Writes `payload` as is to a server on loopback `port` and resolves with every byte it answered,
 * once it closes the connection: for requests no HTTP client would send (two Host lines, headers
 * or a body that never finish).
 */
export function rawExchange(port: number, payload: string): Promise<string> {
  return new Promise((resolve) => {
    const socket = connect(port, '127.0.0.1');
    let answer = '';
    socket.setEncoding('utf8').on('data', (chunk: string) => (answer += chunk));
    socket.once('close', () => resolve(answer));
    socket.write(payload);
  });
}
