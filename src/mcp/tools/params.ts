// Shared tool parameters, described once (the description is all the model sees of a field).
import { z } from 'zod';

// No UUID pattern: the guard refuses any website off the allow-list before a call is made.
export const WebsiteId = z.string().min(1).max(64).describe('Crisp website id; omit for the default');

export const SessionId = z
  .string()
  .regex(/^session_[0-9a-f-]{36}$/i, 'a session id looks like session_<uuid>')
  .describe('Conversation id (session_…), from list_conversations');
