// Operators, availability and RTM endpoint discovery.
import type { RestRoute } from './context.js';

const W = '/v1/website/:website_id';

export const websiteRoutes: RestRoute[] = [
  { method: 'GET', pattern: `${W}/operators/list`, handler: ({ site }) => ({ data: site.operators }) },
  { method: 'GET', pattern: `${W}/availability/operators`, handler: ({ site }) => ({ data: site.availability }) },
  {
    method: 'GET',
    pattern: `${W}/availability/status`,
    handler: ({ site }) => {
      const online = site.availability.filter((a) => a.type === 'online');
      const since = Math.min(...online.map((a) => a.time?.since ?? Number.MAX_SAFE_INTEGER));
      return { data: online.length ? { status: 'online', since } : { status: 'offline' } };
    },
  },
];

/** The RTM socket is served by the sandbox itself under /rtm (Socket.IO path). */
export function rtmEndpoint(baseUrl: string): { socket: { app: string } } {
  return { socket: { app: `${baseUrl}/rtm` } };
}
