// The sandbox's own routes, and nothing else: the visitor side and the operator side under
// /_sandbox/, and the event stream. Every answer is Crisp's envelope {error, reason, data}.
import { openEventStream, type Relayed } from './event-stream.js';
export interface Conversation {
  session_id: string;
  state: 'pending' | 'unresolved' | 'resolved';
  people_id?: string | null;
  last_message?: string;
  preview_message?: { type: string; from: string; excerpt: string };
  unread?: { operator?: number; visitor?: number };
  assigned?: { user_id: string };
  updated_at: number;
  created_at: number;
  meta?: { nickname?: string; email?: string; phone?: string; subject?: string; segments?: string[]; data?: Record<string, unknown>; ip?: string };
  /** Who is typing now, per side (a `start` atom stays until its `stop`). */
  compose?: { visitor?: Typing; operator?: Typing };
}

export interface Typing {
  type: 'start' | 'stop';
  timestamp: number;
  user?: { nickname?: string };
}

export interface Message {
  type: string;
  from: 'user' | 'operator';
  origin: string;
  content: unknown;
  fingerprint: number;
  timestamp: number;
  automated?: boolean;
  read?: string;
  user?: { type?: string; user_id?: string; nickname?: string };
}

export interface Person {
  people_id: string;
  email?: string;
  person?: { nickname?: string; geolocation?: { city?: string; country?: string } };
  company?: { name?: string };
  segments?: string[];
}

export interface Operator {
  user_id: string;
  nickname: string;
  availability: string;
}

export interface Thread {
  conversation: Conversation;
  messages: Message[];
  person: Person | null;
}

export interface SandboxEvent {
  event: string;
  website_id: string;
  data: { session_id?: string } & Record<string, unknown>;
}

/** What went wrong, in words for the person at the console; `reason` is the sandbox's (`not_found`…), or `unreachable`. */
export class SandboxError extends Error {
  constructor(
    message: string,
    readonly reason: string,
  ) {
    super(message);
  }
}

async function call<T>(method: string, path: string, body?: unknown): Promise<T> {
  let response: Response;
  try {
    response = await fetch(path, {
      method,
      headers: body === undefined ? {} : { 'content-type': 'application/json' },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
  } catch {
    // fetch says only "Failed to fetch": the network gave no answer at all.
    throw new SandboxError(`The sandbox at ${location.origin} did not answer: is it still running?`, 'unreachable');
  }
  const text = await response.text();
  let envelope: { error: boolean; reason: string; data: T & { message?: string } };
  try {
    envelope = JSON.parse(text) as typeof envelope;
  } catch {
    throw new SandboxError(`The sandbox answered ${response.status}: ${text.trim().slice(0, 200) || response.statusText}`, String(response.status));
  }
  if (envelope.error) throw new SandboxError(envelope.data?.message ?? envelope.reason, envelope.reason);
  return envelope.data;
}

export interface Website {
  website_id: string;
  name: string;
}

export class SandboxApi {
  constructor(
    readonly websiteId: string,
    /** Every website of the sandbox (`sandbox --websites N`), the default first. */
    readonly websites: readonly Website[] = [],
  ) {}

  /** On the website the page's `?website=` names (a conversation link of another website does), else the default one. */
  static async connect(): Promise<SandboxApi> {
    const info = await call<{ website_id: string; websites: Website[] }>('GET', '/_sandbox/info');
    const asked = new URLSearchParams(location.search).get('website')?.toLowerCase();
    const chosen = info.websites.find((w) => w.website_id === asked)?.website_id ?? info.website_id;
    return new SandboxApi(chosen, info.websites);
  }

  get #base(): string {
    return `/_sandbox/websites/${encodeURIComponent(this.websiteId)}`;
  }

  #conversation(sessionId: string): string {
    return `${this.#base}/conversations/${encodeURIComponent(sessionId)}`;
  }

  conversations(state: string): Promise<Conversation[]> {
    return call('GET', `${this.#base}/conversations${state ? `?state=${encodeURIComponent(state)}` : ''}`);
  }

  operators(): Promise<Operator[]> {
    return call('GET', `${this.#base}/operators`);
  }

  thread(sessionId: string): Promise<Thread> {
    return call('GET', this.#conversation(sessionId));
  }

  async startConversation(): Promise<string> {
    return (await call<{ session_id: string }>('POST', `${this.#base}/conversations`, {})).session_id;
  }

  writeAsVisitor(sessionId: string, text: string): Promise<unknown> {
    return call('POST', `${this.#conversation(sessionId)}/messages`, { type: 'text', content: text });
  }

  /** The visitor starts (`true`) or stops typing: a compose atom, `message:compose:send`. */
  composeAsVisitor(sessionId: string, typing: boolean): Promise<unknown> {
    return call('PATCH', `${this.#conversation(sessionId)}/compose`, { type: typing ? 'start' : 'stop' });
  }

  /** The operator starts (`true`) or stops typing: a compose atom naming the operator, `message:compose:receive`. */
  composeAsOperator(sessionId: string, typing: boolean): Promise<unknown> {
    return call('PATCH', `${this.#conversation(sessionId)}/operator/compose`, { type: typing ? 'start' : 'stop' });
  }

  choose(sessionId: string, fingerprint: number, value: string): Promise<unknown> {
    return call('POST', `${this.#conversation(sessionId)}/choices`, { fingerprint, value });
  }

  writeAsOperator(sessionId: string, type: 'text' | 'note', text: string): Promise<unknown> {
    return call('POST', `${this.#conversation(sessionId)}/operator/messages`, { type, content: text });
  }

  readAsOperator(sessionId: string): Promise<unknown> {
    return call('PATCH', `${this.#conversation(sessionId)}/operator/read`, {});
  }

  setState(sessionId: string, state: string): Promise<unknown> {
    return call('PATCH', `${this.#conversation(sessionId)}/state`, { state });
  }

  assign(sessionId: string, userId: string | null): Promise<unknown> {
    return call('PATCH', `${this.#conversation(sessionId)}/routing`, { user_id: userId });
  }

  /**
   * The sandbox's events, live; `onLive` says whether the stream is connected; `onReset`, that the
   * inbox went back to its demo data. Every tab shares one stream (events-worker.ts says why); a
   * browser without SharedWorker opens its own.
   */
  events(onEvent: (event: SandboxEvent) => void, onLive: (live: boolean) => void, onReset: () => void): void {
    const receive = (message: Relayed) => {
      if (message.kind === 'live') onLive(message.on);
      else if (message.kind === 'reset') onReset();
      else onEvent(JSON.parse(message.event) as SandboxEvent);
    };
    if (typeof SharedWorker === 'undefined') {
      openEventStream(receive);
      return;
    }
    const worker = new SharedWorker('/_sandbox/console/events-worker.js', { type: 'module', name: 'crisp-sandbox-events' });
    worker.port.onmessage = (message: MessageEvent<Relayed>) => receive(message.data);
  }
}
