import { CONVERSATION_WRITE_TOOLS } from './conversation-writes.js';
import { CONVERSATION_TOOLS } from './conversations.js';
import type { AnyTool, ToolsetInfo } from './define.js';
import type { ToolDeps } from './deps.js';
import { PEOPLE_TOOLS } from './people.js';
import { ROUTING_TOOLS } from './routing.js';

export const TOOLSETS: readonly ToolsetInfo[] = [
  { id: 'conversations', description: 'List, read and answer conversations', default: true },
  { id: 'routing', description: 'Operators, their availability, assignment', default: true },
  { id: 'people', description: 'Contact profiles, custom data and events', default: true },
];

export const ALL_TOOLS: readonly AnyTool<ToolDeps>[] = [...CONVERSATION_TOOLS, ...CONVERSATION_WRITE_TOOLS, ...ROUTING_TOOLS, ...PEOPLE_TOOLS] as AnyTool<ToolDeps>[];
