// The validator says what it wants, so a scenario can be written from its messages alone: the
// shape of `blocks`, the fields a block allows, the shape of a missing object or list.
import { describe, expect, it } from 'vitest';
import { compile, type Problem } from '../../src/scenario/compile.js';

function errors(source: unknown): Array<[string, string]> {
  const result = compile(source);
  if (result.ok) throw new Error('expected problems, compiled fine');
  return result.problems.filter((p: Problem) => p.level === 'error').map((p) => [p.path, p.message]);
}

const scenario = (blocks: unknown) => ({ name: 'test', version: 1, start: 'a', blocks });

describe('validator messages say what they want', () => {
  it('blocks is an object keyed by block id, whether it is missing or a list', () => {
    const like = 'blocks is an object keyed by block id, like {"hi": {"type": "message", "text": "Hello!", "next": "bye"}, "bye": {"type": "end"}}';
    expect(errors(scenario([{ type: 'message', text: 'Hi' }]))).toEqual([['blocks', `${like}; got a list`]]);
    expect(errors({ name: 'test', version: 1, start: 'a' })).toEqual([['blocks', `required: ${like}`]]);
  });

  it('an unknown field lists the fields that block allows', () => {
    expect(errors(scenario({ a: { type: 'message', text: 'Hi', nxt: 'b' } }))).toEqual([['blocks.a.nxt', 'unknown field "nxt"; allowed: type, text, buttons, cards, file, next, comment']]);
    expect(errors(scenario({ a: { type: 'end', resolved: true } }))).toEqual([['blocks.a.resolved', 'unknown field "resolved"; allowed: type, text, resolve, comment']]);
  });

  it('a missing object or list shows its expected shape', () => {
    expect(errors(scenario({ a: { type: 'ask', text: 'Email?', next: 'a' } }))).toEqual([
      ['blocks.a.save', 'required: an object like {"var": "email"} (one or more of var, conversation_data, people_data, people_profile)'],
    ]);
    expect(errors(scenario({ a: { type: 'choice', text: 'Sure?' } }))).toEqual([['blocks.a.choices', 'required: a list like [{"label": "Yes", "next": "cancel"}, {"label": "No", "next": "bye"}]']]);
    expect(errors(scenario({ a: { type: 'condition', when: { business_hours: { timezone: 'Europe/Paris' } }, then: 'a', else: 'a' } }))).toEqual([
      ['blocks.a.when.business_hours.hours', 'required: a list like [{"days": ["mon", "tue", "wed", "thu", "fri"], "from": "09:00", "to": "18:00"}]'],
    ]);
  });

  it('a block without a known type names the types', () => {
    const types = 'message, choice, ask, match, condition, set, webhook, articles, handoff, end';
    expect(errors(scenario({ a: { text: 'Hi' } }))).toEqual([['blocks.a.type', `a block needs "type": one of ${types}`]]);
    expect(errors(scenario({ a: { type: 'say', text: 'Hi' } }))).toEqual([['blocks.a.type', `unknown block type "say": the types are ${types}`]]);
  });

  it('a missing version says what a version looks like', () => {
    expect(errors({ name: 'test', start: 'a', blocks: { a: { type: 'end' } } })).toEqual([['version', 'required: a version, e.g. 1 or "2025-06-01"']]);
  });
});
