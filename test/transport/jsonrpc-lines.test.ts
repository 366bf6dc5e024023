// JsonRpcLineReader against the SDK's own ReadBuffer, line for line: the same messages (key order
// included), the same refusals, the same lines skipped. The shortcut for plain requests must be
// taken where it applies, and must never accept what the SDK's parse refuses. Two differences are
// on purpose, each tested on its own: a batch is read as its messages, and a byte order mark is dropped.
import { ReadBuffer } from '@modelcontextprotocol/server';
import { describe, expect, it, vi } from 'vitest';
import { invalidRequestAnswer, JsonRpcLineReader, NotJsonRpcError, plainRequest } from '../../src/transport/jsonrpc-lines.js';

type Outcome = { message: unknown } | { error: string } | { none: true };

/** The next message a reader gives from what it holds, as an outcome (a refusal included). */
function readNext(reader: { readMessage(): unknown }): Outcome {
  try {
    const message = reader.readMessage();
    return message === null ? { none: true } : { message };
  } catch (error) {
    return { error: (error as Error).message };
  }
}

function readWith(reader: { append(chunk: Buffer): void; readMessage(): unknown }, text: string): Outcome {
  reader.append(Buffer.from(text));
  return readNext(reader);
}

/** Lines a client could send: every shape the shortcut takes, and its near misses. */
const LINES = [
  '{"method":"tools/call","params":{"name":"set_conversation_state","arguments":{"session_id":"session_1","state":"resolved"}},"jsonrpc":"2.0","id":1}',
  '{"jsonrpc":"2.0","id":"a-string-id","method":"tools/list"}',
  '{"jsonrpc":"2.0","id":0,"method":"ping","params":{}}',
  '{"jsonrpc":"2.0","id":-3,"method":"ping"}',
  '{"jsonrpc":"2.0","id":9007199254740991,"method":"ping"}',
  '{"jsonrpc":"2.0","id":9007199254740992,"method":"ping"}',
  '{"jsonrpc":"2.0","id":1.5,"method":"ping"}',
  '{"jsonrpc":"2.0","id":1e300,"method":"ping"}',
  '{"jsonrpc":"2.0","id":null,"method":"ping"}',
  '{"jsonrpc":"2.0","id":true,"method":"ping"}',
  '{"jsonrpc":"2.0","id":[1],"method":"ping"}',
  '{"jsonrpc":"1.0","id":1,"method":"ping"}',
  '{"id":1,"method":"ping"}',
  '{"jsonrpc":"2.0","id":1,"method":5}',
  '{"jsonrpc":"2.0","id":1,"method":"ping","extra":true}',
  '{"jsonrpc":"2.0","id":1,"method":"ping","__proto__":{"polluted":true}}',
  '{"jsonrpc":"2.0","id":1,"method":"ping","params":[]}',
  '{"jsonrpc":"2.0","id":1,"method":"ping","params":null}',
  '{"jsonrpc":"2.0","id":1,"method":"ping","params":"x"}',
  '{"jsonrpc":"2.0","id":1,"method":"ping","params":{"z":1,"a":{"deep":[1,2]}}}',
  '{"jsonrpc":"2.0","id":1,"method":"ping","params":{"z":1,"_meta":{"x":1,"progressToken":2}}}',
  '{"jsonrpc":"2.0","id":1,"method":"ping","params":{"_meta":{"progressToken":1.5}}}',
  '{"jsonrpc":"2.0","id":1,"method":"ping","params":{"__proto__":{"polluted":true}}}',
  '{"jsonrpc":"2.0","method":"notifications/initialized"}',
  '{"jsonrpc":"2.0","method":"notifications/cancelled","params":{"requestId":1}}',
  '{"jsonrpc":"2.0","id":1,"result":{}}',
  '{"jsonrpc":"2.0","id":1,"error":{"code":-32601,"message":"nope"}}',
  '[]',
  '"a string"',
  '{"not":"json-rpc"}',
  '{not json',
  '',
];

describe('JsonRpcLineReader', () => {
  it.each(LINES)('reads %s as the SDK ReadBuffer does', (line) => {
    const ours = readWith(new JsonRpcLineReader(), `${line}\r\n`);
    const sdk = readWith(new ReadBuffer(), `${line}\r\n`);
    expect(ours).toEqual(sdk);
    // Key order too: the SDK's parse puts the schema's keys first.
    expect(JSON.stringify(ours)).toBe(JSON.stringify(sdk));
  });

  it('takes the shortcut for plain requests only, and only for what the SDK accepts', () => {
    const taken = LINES.filter((line) => {
      try {
        return plainRequest(JSON.parse(line)) !== undefined;
      } catch {
        return false;
      }
    });
    expect(taken).toEqual([LINES[0], LINES[1], LINES[2], LINES[3], LINES[4], LINES[19]]);
    for (const line of taken) expect(readWith(new ReadBuffer(), `${line}\n`)).toHaveProperty('message');
  });

  it('puts a message split across chunks back together, and reads several from one chunk', () => {
    const reader = new JsonRpcLineReader();
    const call = '{"jsonrpc":"2.0","id":2,"method":"tools/call","params":{"name":"x"}}\n';
    reader.append(Buffer.from(call.slice(0, 20)));
    expect(reader.readMessage()).toBeNull();
    reader.append(Buffer.from(call.slice(20) + '{not json\n{"jsonrpc":"2.0","method":"notifications/initialized"}\n'));
    expect(reader.readMessage()).toEqual({ jsonrpc: '2.0', id: 2, method: 'tools/call', params: { name: 'x' } });
    expect(reader.readMessage()).toEqual({ jsonrpc: '2.0', method: 'notifications/initialized' });
    expect(reader.readMessage()).toBeNull();
  });

  it('reads a stream cut anywhere (inside a line, a UTF-8 character, between \\r and \\n) as the SDK ReadBuffer reads it whole', () => {
    const stream = Buffer.from(`${LINES.join('\r\n')}\n{"jsonrpc":"2.0","id":9,"method":"tools/call","params":{"name":"x","arguments":{"t":"héllo 🙂 ${'z'.repeat(3000)}"}}}\n`);
    const expected: Outcome[] = [];
    const sdk = new ReadBuffer();
    sdk.append(stream);
    for (let outcome = readNext(sdk); !('none' in outcome); outcome = readNext(sdk)) expected.push(outcome);
    let seed = 7;
    const random = () => (seed = (seed * 48271) % 2147483647) / 2147483647;
    for (let run = 0; run < 20; run++) {
      const reader = new JsonRpcLineReader();
      const got: Outcome[] = [];
      for (let at = 0; at < stream.length; ) {
        const size = 1 + Math.floor(random() * (run < 10 ? 8 : 700));
        reader.append(stream.subarray(at, at + size));
        at += size;
        for (let outcome = readNext(reader); !('none' in outcome); outcome = readNext(reader)) got.push(outcome);
      }
      expect(got).toEqual(expected);
    }
  });

  it('joins a line that comes in many chunks once, when its newline is in: each byte is copied once, not again at every chunk', () => {
    const reader = new JsonRpcLineReader();
    const line = Buffer.from(`{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"x","arguments":{"t":"${'a'.repeat(64 * 1024 * 120)}"}}}\n`);
    const concat = vi.spyOn(Buffer, 'concat');
    try {
      for (let at = 0; at < line.length; at += 64 * 1024) {
        reader.append(line.subarray(at, at + 64 * 1024));
        if (at + 64 * 1024 < line.length) expect(reader.readMessage()).toBeNull();
      }
      expect(reader.readMessage()).toMatchObject({ id: 1, method: 'tools/call' });
      expect(concat).toHaveBeenCalledTimes(1);
    } finally {
      concat.mockRestore();
    }
  });

  it('refuses more than its limit without a newline, and forgets what it held', () => {
    const reader = new JsonRpcLineReader(16);
    reader.append(Buffer.from('{"jsonrpc":'));
    expect(() => reader.append(Buffer.from('"2.0","id":1'))).toThrow('ReadBuffer exceeded maximum size of 16 bytes');
    reader.append(Buffer.from('{"a":1}\n'));
    expect(() => reader.readMessage()).toThrow();
  });

  it('reads a batch as its messages in turn, each as the SDK reads it alone, and a bad one does not stop the rest', () => {
    const batch = [LINES[1], '{"jsonrpc":"2.0","id":7,"method":"ping","extra":true}', LINES[20], LINES[23]];
    const reader = new JsonRpcLineReader();
    reader.append(Buffer.from(`[${batch.join(',')}]\n${LINES[2]}\n`));
    const read: Outcome[] = [];
    for (let i = 0; i < 5; i++) read.push(readWith(reader, ''));
    const alone = [...batch, LINES[2]].map((line) => readWith(new ReadBuffer(), `${line}\n`));
    expect(read).toEqual(alone);
    expect(JSON.stringify(read)).toBe(JSON.stringify(alone));
    expect(readWith(reader, '')).toEqual({ none: true });
  });

  it('throws a NotJsonRpcError carrying the JSON, for the caller to answer from', () => {
    const reader = new JsonRpcLineReader();
    reader.append(Buffer.from('{"jsonrpc":"2.0","id":"a","method":"ping","extra":1}\n'));
    let thrown: unknown;
    try {
      reader.readMessage();
    } catch (error) {
      thrown = error;
    }
    expect(thrown).toBeInstanceOf(NotJsonRpcError);
    expect((thrown as NotJsonRpcError).value).toEqual({ jsonrpc: '2.0', id: 'a', method: 'ping', extra: 1 });
  });

  it('reads a line that starts with a byte order mark, which the SDK skips as not JSON', () => {
    const line = `\uFEFF${LINES[1]}\n`;
    expect(readWith(new ReadBuffer(), line)).toEqual({ none: true });
    expect(readWith(new JsonRpcLineReader(), line)).toEqual(readWith(new ReadBuffer(), `${LINES[1]}\n`));
  });
});

describe('invalidRequestAnswer', () => {
  const answer = (line: string) => invalidRequestAnswer(JSON.parse(line));

  it('answers a request whose id can be echoed with an Invalid Request error that says what is wrong', () => {
    expect(answer('{"jsonrpc":"2.0","id":1,"method":"ping","extra":true}')).toEqual({
      jsonrpc: '2.0',
      id: 1,
      error: { code: -32600, message: 'Invalid Request: unknown member "extra": a request has only jsonrpc, id, method and params' },
    });
    expect(answer('{"jsonrpc":"2.0","id":"s","method":"ping","params":"x"}')?.error.message).toBe('Invalid Request: "params" must be an object');
    expect(answer('{"jsonrpc":"1.0","id":0,"method":"ping"}')?.error.message).toBe('Invalid Request: "jsonrpc" must be "2.0"');
    expect(answer('{"jsonrpc":"2.0","id":1,"method":"ping","params":{"_meta":{"progressToken":1.5}}}')?.error.message).toBe('Invalid Request: "params._meta" is malformed');
  });

  it('answers nothing it cannot address: an id that cannot be echoed (never id null, which the SDK client reads as its request 0), a notification, a response', () => {
    for (const line of [LINES[5], LINES[6], LINES[8], LINES[9], '{"jsonrpc":"2.0","method":"ping","extra":1}', '{"jsonrpc":"2.0","id":1,"result":{},"extra":1}', '[]', '"a string"']) {
      expect(answer(line!)).toBeUndefined();
    }
  });
});
