import { timingSafeEqual } from 'node:crypto';
import type { Tier } from '../../crisp/schemas.js';
import type { Route } from '../http.js';
import type { SandboxState, WebsiteState } from '../state.js';

export interface SandboxCredential {
  identifier: string;
  key: string;
  tier: Tier;
  /** The websites this token may see (REST, RTM, hooks); all of them when absent. */
  websites?: readonly string[];
}

/** The pair matching `identifier` and `key`, compared in constant time. */
export function findCredential(credentials: readonly SandboxCredential[], identifier: string, key: string): SandboxCredential | undefined {
  let found: SandboxCredential | undefined;
  // Every pair is compared, so the time taken does not say which identifier exists.
  for (const c of credentials) if (safeEqual(c.identifier, identifier) && safeEqual(c.key, key)) found ??= c;
  return found;
}

/** Whether a token may see a website (a plugin token: whether the website installed the plugin). */
export function maySee(credential: SandboxCredential, websiteId: string): boolean {
  return !credential.websites || credential.websites.includes(websiteId);
}

export function safeEqual(a: string, b: string): boolean {
  const left = Buffer.from(a);
  const right = Buffer.from(b);
  return left.length === right.length && timingSafeEqual(left, right);
}

/** What a REST handler gets: the website is already resolved and access-checked. */
export interface RestContext {
  state: SandboxState;
  site: WebsiteState;
  query: URLSearchParams;
  body: unknown;
  credential: SandboxCredential;
  baseUrl: string;
  /** Whether a repeated message fingerprint is dropped (fault injection can turn it off). */
  dedupe: boolean;
}

export type RestRoute = Route<RestContext>;

/** Slices one 1-based page of `items`. */
export function pageOf<T>(items: readonly T[], page: number, perPage: number): T[] {
  return items.slice((page - 1) * perPage, page * perPage);
}
