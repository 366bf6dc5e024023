// Host and Origin against the names this server answers to (the defence against DNS rebinding), for
// every route of `serve --http` alike: /mcp, /converse and /hooks/crisp.
import type { IncomingMessage } from 'node:http';
import { validateHostHeader, validateOriginHeader } from '@modelcontextprotocol/server';

const ALLOW_HOST_HINT = ' (to serve this name, e.g. behind a reverse proxy, add it to --allowed-hosts or CRISP_MCP_ALLOWED_HOSTS)';

/** A cap on the verdicts kept: a client cycling through names cannot grow the cache. */
const MAX_VERDICTS = 256;

export class HostCheck {
  #allowed: string[] = [];
  /** The verdicts by header pair: clients send the same few on every request, and each check parses a URL. */
  readonly #verdicts = new Map<string, string | undefined>();

  /** The names accepted from now on (known once the server is bound); the verdicts given before are forgotten. */
  allow(names: string[]): void {
    this.#allowed = names;
    this.#verdicts.clear();
  }

  /** Host, then Origin, against the allowed names: the 403 message, or undefined when both pass. */
  refusal(req: IncomingMessage): string | undefined {
    const { host, origin } = req.headers;
    const pair = `${host ?? ''}\n${origin ?? ''}`;
    if (this.#verdicts.has(pair)) return this.#verdicts.get(pair);
    // The SDK's check reads `user@127.0.0.1` as 127.0.0.1, but a URL with user info cannot become a web Request.
    const hostCheck = host?.includes('@') ? { ok: false as const, errorCode: 'invalid_host_header', message: 'Invalid Host header: it must be a host name and an optional port, without user@' } : validateHostHeader(host, this.#allowed);
    const originCheck = hostCheck.ok ? validateOriginHeader(origin, this.#allowed) : undefined;
    const failed = !hostCheck.ok ? hostCheck : originCheck && !originCheck.ok ? originCheck : undefined;
    // A name this server does not know is most often its public name behind a reverse proxy: say how to accept it.
    const verdict = failed && `Forbidden: ${failed.message}${failed.errorCode === 'invalid_host' || failed.errorCode === 'invalid_origin' ? ALLOW_HOST_HINT : ''}`;
    if (this.#verdicts.size >= MAX_VERDICTS) this.#verdicts.clear();
    this.#verdicts.set(pair, verdict);
    return verdict;
  }
}
