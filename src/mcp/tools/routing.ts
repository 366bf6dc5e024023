// The routing toolset: who can take a conversation.
import { z } from 'zod';
import { defineTool } from './define.js';
import type { ToolDeps } from './deps.js';
import { WebsiteId } from './params.js';

const OperatorOut = z.object({
  user_id: z.string(),
  name: z.string(),
  email: z.string(),
  role: z.string(),
  availability: z.enum(['online', 'away', 'offline', 'unknown']),
});

export const listOperators = defineTool({
  name: 'list_operators',
  toolset: 'routing',
  title: 'List operators',
  description: 'Operators of a website and whether each is online, away or offline. Use before assign_conversation.',
  inputSchema: z.object({ website_id: WebsiteId.optional() }),
  outputSchema: z.object({ website_id: z.string(), operators: z.array(OperatorOut) }),
  annotations: { readOnlyHint: true, destructiveHint: false, idempotentHint: true, openWorldHint: true },
  async handler({ website_id }, { crisp, guard }: ToolDeps) {
    const site = guard.website(website_id);
    const [operators, availability] = await Promise.all([crisp.operators.list(site), crisp.operators.availability(site)]);
    const status = new Map(availability.map((a) => [a.user_id, a.type]));
    return {
      website_id: site,
      operators: operators.map(({ details: d }) => ({
        user_id: d.user_id,
        name: [d.first_name, d.last_name].filter(Boolean).join(' '),
        email: d.email ?? '',
        role: d.role ?? '',
        availability: asAvailability(status.get(d.user_id) ?? d.availability),
      })),
    };
  },
  text: ({ operators }) => operators.map((o) => `${o.user_id} ${o.email} ${o.name} (${o.role}) ${o.availability}`).join('\n') || 'No operators.',
});

function asAvailability(value: string | undefined): 'online' | 'away' | 'offline' | 'unknown' {
  return value === 'online' || value === 'away' || value === 'offline' ? value : 'unknown';
}

export const ROUTING_TOOLS = [listOperators];
