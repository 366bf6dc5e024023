// The undici side of webhook-networks.ts: a connector (and an Agent built on it) that opens
// connections only to the addresses a WebhookNetworks setting allows.
import { lookup as dnsLookup, type LookupAddress, type LookupAllOptions, type LookupOptions } from 'node:dns';
import { Agent, buildConnector, type Dispatcher } from 'undici';
import { addressRefusal, literalRefusal, WebhookAddressRefused, type WebhookNetworks } from './webhook-networks.js';

/**
 * undici's connector, refusing what `networks` refuses: an IP in the URL before connecting, a
 * name's addresses as DNS gives them (those refused are dropped; none left, the connection fails).
 */
export function webhookConnector(networks: WebhookNetworks, options: { timeout?: number } = {}): buildConnector.connector {
  const lookup = (hostname: string, lookupOptions: LookupOptions, callback: (err: Error | null, address: string | LookupAddress[], family?: number) => void): void => {
    dnsLookup(hostname, { ...lookupOptions, all: true } as LookupAllOptions, (err, addresses) => {
      if (err) return callback(err, '');
      const allowed = addresses.filter((a) => addressRefusal(a.address, networks) === undefined);
      if (allowed.length === 0) {
        const first = addresses[0];
        return callback(new WebhookAddressRefused(first ? `${hostname}: ${addressRefusal(first.address, networks)}` : `${hostname} has no address`), '');
      }
      if (lookupOptions.all) return callback(null, allowed);
      callback(null, allowed[0]!.address, allowed[0]!.family);
    });
  };
  const connect = buildConnector({ ...(options.timeout !== undefined ? { timeout: options.timeout } : {}), lookup } as buildConnector.BuildOptions);
  return (connectOptions, callback) => {
    const refused = literalRefusal(connectOptions.hostname, networks);
    if (refused) return callback(new WebhookAddressRefused(refused), null);
    connect(connectOptions, callback);
  };
}

/** A keep-alive Agent whose connections go only where `networks` allows (its idle sockets keep no process alive). */
export function webhookAgent(networks: WebhookNetworks, options: Agent.Options & { connectTimeout?: number } = {}): Dispatcher {
  const { connectTimeout, ...rest } = options;
  return new Agent({ ...rest, connect: webhookConnector(networks, connectTimeout !== undefined ? { timeout: connectTimeout } : {}) });
}

