// JsonRpcLineReader against the SDK's own ReadBuffer, line for line: the same messages (key order
// included), the same refusals, the same lines skipped. The shortcut for plain requests must be
// taken where it applies, and must never accept what the SDK's parse refuses.
import { ReadBuffer } from '@modelcontextprotocol/server';
import { describe, expect, it } from 'vitest';
import { JsonRpcLineReader, plainRequest } from '../../src/transport/jsonrpc-lines.js';

type Outcome = { message: unknown } | { error: string } | { none: true };

function readWith(reader: { append(chunk: Buffer): void; readMessage(): unknown }, text: string): Outcome {
  reader.append(Buffer.from(text));
  try {
    const message = reader.readMessage();
    return message === null ? { none: true } : { message };
  } catch (error) {
    return { error: (error as Error).message };
  }
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
  '["not","an","object"]',
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

  it('refuses more than its limit without a newline, and forgets what it held', () => {
    const reader = new JsonRpcLineReader(16);
    reader.append(Buffer.from('{"jsonrpc":'));
    expect(() => reader.append(Buffer.from('"2.0","id":1'))).toThrow('ReadBuffer exceeded maximum size of 16 bytes');
    reader.append(Buffer.from('{"a":1}\n'));
    expect(() => reader.readMessage()).toThrow();
  });
});
