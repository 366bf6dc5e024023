// Shared tool parameters, described once (the description is all the model sees of a field).
import { z } from 'zod';

export const WebsiteId = z
  .string()
  .regex(/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i, 'a website id is a UUID')
  .describe('Crisp website id; omit to use the default website');

export const SessionId = z
  .string()
  .regex(/^session_[0-9a-f-]{36}$/i, 'a session id looks like session_<uuid>')
  .describe('Conversation id (session_…), from list_conversations');
