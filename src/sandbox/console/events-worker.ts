// One event stream for every console tab of this sandbox: a SharedWorker holds the EventSource and
// hands what it receives to each tab. A browser keeps at most 6 HTTP/1.1 connections per host
// (Chromium's limit), and an EventSource holds one for as long as its tab is open, so with one
// stream per tab the 7th tab of the console (a conversation link opened in a new tab, say) never
// loaded — nor did any request of the others. Tabs get what event-stream.ts relays.
import { openEventStream, type Relayed } from './event-stream.js';

interface SharedScope {
  onconnect: ((event: MessageEvent) => void) | null;
}

const tabs = new Set<MessagePort>();
let live: boolean | undefined;
const relay = (message: Relayed) => {
  for (const tab of tabs) tab.postMessage(message);
};

openEventStream((message) => {
  if (message.kind === 'live') live = message.on;
  relay(message);
});

(self as unknown as SharedScope).onconnect = (connected) => {
  const tab = connected.ports[0]!;
  // A closed tab's port stays in the set (a port does not say it closed; a tab kept in the
  // back-forward cache comes back on it): posting to it does nothing.
  tabs.add(tab);
  // A tab that joins an open stream is told it is live (onopen has come and gone).
  if (live !== undefined) tab.postMessage({ kind: 'live', on: live } satisfies Relayed);
};
