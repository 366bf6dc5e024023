// The rule a bot's routing write follows when carried out later than its turn (src/engine/routing.ts),
// as a table: written, already so, or stood down because a person changed the routing since.
import { describe, expect, it } from 'vitest';
import { routingDecision, type RoutingSeen, type RoutingWrite } from '../../src/engine/routing.js';

const open = (assigned: string | null, state = 'unresolved'): RoutingSeen => ({ assigned, state });
const assignSam: RoutingWrite = { type: 'assign', email: 'sam@example.test' };

describe('routingDecision', () => {
  it.each([
    ['assign, nothing changed', assignSam, open(null), open(null), 'write'],
    ['assign, an earlier attempt landed', assignSam, open(null), open('sam'), 'applied'],
    ['assign, a person assigned someone else', assignSam, open(null), open('leo'), 'stand_down'],
    ['assign, a person unassigned the one the turn saw', assignSam, open('ana'), open(null), 'stand_down'],
    ['assign over the assignee the turn saw, unchanged', assignSam, open('ana'), open('ana'), 'write'],
    ['unassign, nothing changed', { type: 'unassign' }, open('ana'), open('ana'), 'write'],
    ['unassign, a person reassigned', { type: 'unassign' }, open('ana'), open('leo'), 'stand_down'],
    ['unassign, already unassigned', { type: 'unassign' }, open('ana'), open(null), 'applied'],
    ['resolve, still open (pending → unresolved by the bot\'s own reply)', { type: 'resolve' }, open(null, 'pending'), open(null, 'unresolved'), 'write'],
    ['resolve, already resolved', { type: 'resolve' }, open(null), open(null, 'resolved'), 'applied'],
    ['resolve, found resolved and reopened since', { type: 'resolve' }, open(null, 'resolved'), open(null, 'unresolved'), 'stand_down'],
  ] as Array<[string, RoutingWrite, RoutingSeen, RoutingSeen, string]>)('%s: %s', (_name, action, seen, now, expected) => {
    expect(routingDecision(action, seen, now, action.type === 'assign' ? 'sam' : undefined)).toBe(expected);
  });
});
