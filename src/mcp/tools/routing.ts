// The routing toolset: who can take a conversation.
import { z } from 'zod';
import { CrispError } from '../../crisp/errors.js';
import { defineTool, ToolInputError } from './define.js';
import type { ToolDeps } from './deps.js';
import { SessionId, WebsiteId } from './params.js';

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
  async handler({ website_id }, { crisp, guard }: ToolDeps, call) {
    const options = { signal: call?.signal };
    const site = guard.website(website_id);
    const [operators, availability] = await Promise.all([crisp.operators.list(site, options), crisp.operators.availability(site, options)]);
    const status = availabilityById(availability);
    return {
      website_id: site,
      operators: operators.map(({ details: d }) => ({
        user_id: d.user_id,
        name: [d.first_name, d.last_name].filter(Boolean).join(' '),
        email: d.email ?? '',
        role: d.role ?? '',
        availability: availabilityOf(d, status),
      })),
    };
  },
  text: ({ operators }) => operators.map((o) => `${o.user_id} ${o.email} ${o.name} (${o.role}) ${o.availability}`).join('\n') || 'No operators.',
});

/** Each operator's availability as Crisp's availability read gives it, by user_id. */
function availabilityById(availability: ReadonlyArray<{ user_id: string; type: string }>): ReadonlyMap<string, string> {
  return new Map(availability.map((a) => [a.user_id, a.type]));
}

/** An operator's availability: the availability read's, else what their details carry. */
function availabilityOf(details: { user_id: string; availability?: string | undefined }, status: ReadonlyMap<string, string>): 'online' | 'away' | 'offline' | 'unknown' {
  const value = status.get(details.user_id) ?? details.availability;
  return value === 'online' || value === 'away' || value === 'offline' ? value : 'unknown';
}

/**
 * The operator `operator` names on `site`, by user_id or email (any letter case); else a refusal
 * naming `field` and listing the operators there, so the next call can name one of them.
 */
export async function operatorNamed({ crisp, guard }: Pick<ToolDeps, 'crisp' | 'guard'>, site: string, operator: string, field: string, signal?: AbortSignal): Promise<{ user_id: string; email?: string | null; availability?: string | undefined }> {
  const operators = await crisp.operators.list(site, { signal });
  const wanted = operator.toLowerCase();
  const match = operators.find((o) => o.details.user_id === operator || o.details.email?.toLowerCase() === wanted);
  if (!match) {
    throw new ToolInputError(`${field}: no operator "${operator}"${guard.onWebsite(site) || ' on this website'}; operators: ${operators.map((o) => `${o.details.email} (${o.details.user_id})`).join(', ')}`);
  }
  return match.details;
}

export const assignConversation = defineTool({
  name: 'assign_conversation',
  toolset: 'routing',
  title: 'Assign a conversation',
  description: 'Assign a conversation to an operator, or unassign it.',
  inputSchema: z.object({
    website_id: WebsiteId.optional(),
    session_id: SessionId,
    operator: z.string().min(1).max(200).optional().describe('user_id or email, from list_operators'),
    unassign: z.boolean().optional().describe('true to remove the assignee'),
  }),
  outputSchema: z.object({ session_id: z.string(), assigned_to: z.string().nullable(), operator_email: z.string().nullable(), online: z.boolean() }),
  annotations: { readOnlyHint: false, destructiveHint: false, idempotentHint: true, openWorldHint: true },
  async handler({ website_id, session_id, operator, unassign }, { crisp, guard }: ToolDeps) {
    const site = guard.website(website_id);
    if (Boolean(operator) === Boolean(unassign)) throw new ToolInputError('give either operator (user_id or email) or unassign: true');
    if (unassign) {
      await crisp.conversations.assign(site, session_id, null);
      return { session_id, assigned_to: null, operator_email: null, online: false };
    }
    // An operator away or offline is assigned all the same (they may be back soon), but said: the
    // visitor waits for them meanwhile, and the agent may want someone online. A failed
    // availability read leaves that unsaid rather than failing the assignment.
    const [match, availability] = await Promise.all([operatorNamed({ crisp, guard }, site, operator!, 'operator'), crisp.operators.availability(site).catch(unlessCrisp)]);
    await crisp.conversations.assign(site, session_id, match.user_id);
    const status = availabilityOf(match, availabilityById(availability ?? []));
    return { session_id, assigned_to: match.user_id, operator_email: match.email ?? null, online: status !== 'away' && status !== 'offline' };
  },
  text: ({ session_id, assigned_to, operator_email, online }) =>
    assigned_to ? `${session_id} assigned to ${operator_email ?? ''} (${assigned_to}).${online ? '' : ' They are not online now: list_operators shows who is.'}` : `${session_id} unassigned.`,
});

/** A Crisp failure of an advisory read: undefined, so the call goes on without it; anything else is a bug. */
function unlessCrisp(error: unknown): undefined {
  if (error instanceof CrispError) return undefined;
  throw error;
}

export const ROUTING_TOOLS = [listOperators, assignConversation];
