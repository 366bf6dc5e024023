// The sandbox's own routes, and nothing else: the visitor side and the operator side under
// /_sandbox/, and the event stream. Every answer is Crisp's envelope {error, reason, data}.
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

export class SandboxError extends Error {}

async function call<T>(method: string, path: string, body?: unknown): Promise<T> {
  const response = await fetch(path, {
    method,
    headers: body === undefined ? {} : { 'content-type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const envelope = (await response.json()) as { error: boolean; reason: string; data: T & { message?: string } };
  if (envelope.error) throw new SandboxError(envelope.data?.message ?? envelope.reason);
  return envelope.data;
}

export class SandboxApi {
  constructor(readonly websiteId: string) {}

  static async connect(): Promise<SandboxApi> {
    const info = await call<{ website_id: string }>('GET', '/_sandbox/info');
    return new SandboxApi(info.website_id);
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

  /** The sandbox's events, live; `onLive` says whether the stream is connected. */
  events(onEvent: (event: SandboxEvent) => void, onLive: (live: boolean) => void): EventSource {
    const source = new EventSource('/_sandbox/events');
    source.onopen = () => onLive(true);
    source.onerror = () => onLive(false);
    source.onmessage = (message: MessageEvent<string>) => onEvent(JSON.parse(message.data) as SandboxEvent);
    return source;
  }
}
