import type { Tier } from '../../crisp/schemas.js';
import type { Route } from '../http.js';
import type { SandboxState, WebsiteState } from '../state.js';

export interface SandboxCredential {
  identifier: string;
  key: string;
  tier: Tier;
}

/** What a REST handler gets: the website is already resolved and access-checked. */
export interface RestContext {
  state: SandboxState;
  site: WebsiteState;
  query: URLSearchParams;
  body: unknown;
  credential: SandboxCredential;
  baseUrl: string;
}

export type RestRoute = Route<RestContext>;

/** Slices one 1-based page of `items`. */
export function pageOf<T>(items: readonly T[], page: number, perPage: number): T[] {
  return items.slice((page - 1) * perPage, page * perPage);
}
