// What a channel's gateway meets on POST /converse, over real HTTP: the empty `text` some gateways
// send with every event. The shipped scenarios, a real receiver.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { SHIPPED_SCENARIOS_DIR, scenarioLibraryFromTexts } from '../../src/engine/library.js';
import { startConverseHarness, type ConverseHarness } from '../helpers/converse.js';
import { Receiver } from '../helpers/receiver.js';

const shipped = (name: string) => ({ file: `${name}.json`, source: readFileSync(join(SHIPPED_SCENARIOS_DIR, `${name}.json`), 'utf8') });

let receiver: Receiver;
let h: ConverseHarness | undefined;
beforeAll(async () => {
  receiver = await Receiver.start();
});
afterAll(async () => {
  await receiver.close();
});
afterEach(async () => {
  await h?.stop();
  h = undefined;
});

describe('POST /converse with an empty text on an event that is no message', () => {
  it('startSession with text "" starts the scenario as without text: it waits for the first message, no handoff', async () => {
    h = await startConverseHarness({ receiver, library: scenarioLibraryFromTexts([shipped('cancel-account')]), service: { scenario: 'cancel-account' }, http: {} });
    expect((await h.post({ conversationId: 'blank-1', eventType: 'startSession', text: '', messageId: 's1' })).status).toBe(202);
    expect((await h.post({ conversationId: 'blank-1', eventType: 'startSession', text: '  ', messageId: 's2' })).status).toBe(202);
    expect((await h.post({ conversationId: 'blank-1', eventType: 'message', text: 'I want to cancel my account', messageId: 'm1' })).status).toBe(202);
    await receiver.waitFor(() => receiver.of('blank-1').some((r) => r.replyTo === 'm1'), 10_000, 'the answer to m1');
    // The first replies answer the first message: nothing before it (a handoff would have come on s1).
    expect(receiver.of('blank-1').map((r) => [r.replyTo, r.type])).toEqual([['m1', 'choice']]);
  });
});
