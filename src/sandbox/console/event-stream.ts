// The sandbox's event stream as the console's tabs are told of it: `{kind: 'live', on}`,
// `{kind: 'event', event}` (the stream's JSON, as sent) and `{kind: 'reset'}`. Opened once in the
// shared worker for every tab (events-worker.ts), or by a tab itself where there is no SharedWorker.
export type Relayed = { kind: 'live'; on: boolean } | { kind: 'event'; event: string } | { kind: 'reset' };

/** Opens /_sandbox/events and hands each of its happenings to `relay`. */
export function openEventStream(relay: (message: Relayed) => void): EventSource {
  const source = new EventSource('/_sandbox/events');
  source.onopen = () => relay({ kind: 'live', on: true });
  source.onerror = () => relay({ kind: 'live', on: false });
  source.onmessage = (message: MessageEvent<string>) => relay({ kind: 'event', event: message.data });
  source.addEventListener('reset', () => relay({ kind: 'reset' }));
  return source;
}
