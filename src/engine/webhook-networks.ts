// Where the webhooks this server calls may connect: a scenario's webhook blocks and the converse
// API's reply webhook. Their URLs come from files and settings a person writes, so a slip
// (http://169.254.169.254/…, a name that resolves there, a host's own admin port) would have the
// server fetch from inside its own network and hand the answer to the scenario. The check runs on
// the addresses a connection is actually opened to, after DNS, so a name that resolves (or is
// re-pointed) to a refused address is refused too.
//
// - `private` (default): the public internet and the private networks (loopback, 10/8, 172.16/12,
//   192.168/16, 100.64/10, fc00::/7), where a booking system on the same host or LAN lives; never
//   link-local (169.254/16, fe80::/10: where cloud metadata services answer), the metadata
//   addresses outside it, unspecified, multicast or reserved addresses.
// - `public`: the public internet only.
// - `any`: no check.
import { BlockList, isIP } from 'node:net';
import type { Dispatcher } from 'undici';

export type WebhookNetworks = 'public' | 'private' | 'any';

/** The error a connection to a refused address fails with; its message says which setting refused it. */
export class WebhookAddressRefused extends Error {
  override readonly name = 'WebhookAddressRefused';
  readonly code = 'ERR_WEBHOOK_ADDRESS_REFUSED';
}

type Kind = 'link-local' | 'metadata' | 'unspecified' | 'multicast' | 'reserved' | 'loopback' | 'private';

const KINDS: readonly [Kind, string, string[]][] = [
  ['metadata', 'a cloud metadata service address', ['100.100.100.200/32', 'fd00:ec2::254/128']],
  ['link-local', 'a link-local address (where cloud metadata services answer)', ['169.254.0.0/16', 'fe80::/10']],
  ['unspecified', 'an unspecified address', ['0.0.0.0/8', '::/128']],
  ['multicast', 'a multicast address', ['224.0.0.0/4', 'ff00::/8']],
  ['reserved', 'a reserved address', ['240.0.0.0/4']],
  ['loopback', 'a loopback address', ['127.0.0.0/8', '::1/128']],
  ['private', 'a private-network address', ['10.0.0.0/8', '172.16.0.0/12', '192.168.0.0/16', '100.64.0.0/10', 'fc00::/7']],
];
// Built on the first check, not at import: serve imports this module on every start-up, and the
// first BlockList loads Node's internals for it (~12 ms here), which a server with no webhook never needs.
let lists: { kind: Kind; words: string; list: BlockList }[] | undefined;
function blockLists(): { kind: Kind; words: string; list: BlockList }[] {
  return (lists ??= KINDS.map(([kind, words, subnets]) => {
    const list = new BlockList();
    for (const subnet of subnets) {
      const [network, prefix] = subnet.split('/');
      list.addSubnet(network!, Number(prefix), isIP(network!) === 6 ? 'ipv6' : 'ipv4');
    }
    return { kind, words, list };
  }));
}
const ALLOWED_UNDER_PRIVATE: ReadonlySet<Kind> = new Set(['loopback', 'private']);

/** Why `networks` refuses a connection to `address` (an IP), or undefined when it may go there. */
export function addressRefusal(address: string, networks: WebhookNetworks): string | undefined {
  if (networks === 'any') return undefined;
  const ip = unmapped(address.replace(/^\[|\]$/g, ''));
  const family = isIP(ip) === 6 ? 'ipv6' : 'ipv4';
  const found = blockLists().find(({ list }) => list.check(ip, family));
  if (!found || (networks === 'private' && ALLOWED_UNDER_PRIVATE.has(found.kind))) return undefined;
  const fix = networks === 'public' ? 'private lets private networks, any every address' : 'any lets it';
  return `${address} is ${found.words}: webhooks may not connect there (CRISP_MCP_WEBHOOK_NETWORKS or --webhook-networks is ${networks}; ${fix})`;
}

/** Why `networks` refuses `host` when it is an IP address (an IPv6 one in brackets too); undefined for a name, which the connection checks after DNS. */
export function literalRefusal(host: string, networks: WebhookNetworks): string | undefined {
  return isIP(host.replace(/^\[|\]$/g, '')) ? addressRefusal(host, networks) : undefined;
}

/** An IPv4-mapped IPv6 address (::ffff:a9fe:a9fe, ::ffff:169.254.169.254) as the IPv4 address it is. */
function unmapped(ip: string): string {
  const mapped = /^::ffff:(?:(\d+\.\d+\.\d+\.\d+)|([0-9a-f]{1,4}):([0-9a-f]{1,4}))$/i.exec(ip);
  if (!mapped) return ip;
  if (mapped[1]) return mapped[1];
  const high = Number.parseInt(mapped[2]!, 16);
  const low = Number.parseInt(mapped[3]!, 16);
  return [high >> 8, high & 255, low >> 8, low & 255].join('.');
}

/**
 * `fetch` for scenario webhook blocks (callWebhook), through an Agent that connects only where
 * `networks` allows; `any` is the plain fetch. The Agent (and undici with it, which stdio `serve`
 * does not otherwise load at start) is made on the first call.
 */
export function webhookFetch(networks: WebhookNetworks, base: typeof fetch = globalThis.fetch): typeof fetch {
  if (networks === 'any') return base;
  let dispatcher: Promise<Dispatcher> | undefined;
  return async (input, init) => {
    dispatcher ??= import('./webhook-agent.js').then(({ webhookAgent }) => webhookAgent(networks));
    // Node's fetch takes undici's `dispatcher` option; its types name the undici bundled in Node, not the package's.
    const options: RequestInit = { ...init };
    Object.assign(options, { dispatcher: await dispatcher });
    return base(input, options);
  };
}

/** The refusal among an error's causes (fetch gives the connector's error as its `cause`), or undefined. */
export function refusalOf(error: unknown): WebhookAddressRefused | undefined {
  for (let e: unknown = error; e instanceof Error; e = e.cause) if (e instanceof WebhookAddressRefused) return e;
  return undefined;
}
