// The official node-crisp-api client (`crisp-api`) pointed at a sandbox, as a user points it at Crisp;
// and that client subscribed to message:send: it discovers the RTM endpoint, authenticates and must
// hear a visitor's message, as it would from Crisp. Shared by the sandbox's RTM tests, started at once
// or attaching its RTM endpoint on first use.
import { Crisp } from 'crisp-api';
import type { Socket } from 'socket.io-client';
import type { Sandbox } from '../../src/sandbox/server.js';
import { eventually, visitorStarts } from './events.js';

/** The official client for the sandbox at `url`, authenticated with `credentials` (a sandbox's first token, unless the test needs another). */
export function officialClient(url: string, credentials: { identifier: string; key: string; tier: string }): InstanceType<typeof Crisp> {
  const official = new Crisp();
  official.setRestHost(url);
  official.setTier(credentials.tier as Parameters<typeof official.setTier>[0]);
  official.authenticate(credentials.identifier, credentials.key);
  return official;
}

/** Connects the official client, has a visitor write, and returns the session and the message:send it received. */
export async function officialClientHearsVisitor(sandbox: Sandbox, text: string): Promise<{ sessionId: string; data: Record<string, unknown> }> {
  const official = officialClient(sandbox.url, sandbox.credentials[0]!);
  const received: Record<string, unknown>[] = [];
  await official.on('message:send', (data: Record<string, unknown>) => void received.push(data));
  try {
    // It batches subscriptions for 500 ms, then discovers and connects.
    await eventually(() => sandbox.rtm.stats().authenticated === 1, 5_000, 'the official client authenticating');
    const sessionId = await visitorStarts(sandbox, text);
    const [data] = await eventually(() => received.length > 0 && received, 3_000, 'message:send reaching the official client');
    return { sessionId, data: data! };
  } finally {
    (official as unknown as { _socket: Socket | null })._socket?.disconnect();
  }
}
