// Crisp's enumerations: conversation states, message types, senders, token tiers, helpdesk content
// types. Apart from the wire schemas (schemas.ts, which re-exports them) because the start-up path
// needs these and none of the rest: config and the keychain check a tier, the tools take a state, while
// the wire schemas are built with the first Crisp call (client.ts).
import { z } from 'zod';

export const CONVERSATION_STATES = ['pending', 'unresolved', 'resolved'] as const;
export const ConversationState = z.enum(CONVERSATION_STATES);
export type ConversationState = z.infer<typeof ConversationState>;

export const MESSAGE_TYPES = ['text', 'note', 'file', 'animation', 'audio', 'picker', 'field', 'carousel', 'event'] as const;
export const MessageType = z.enum(MESSAGE_TYPES);
export type MessageType = z.infer<typeof MessageType>;

export const Sender = z.enum(['user', 'operator']);
export type Sender = z.infer<typeof Sender>;

export const TIERS = ['plugin', 'website', 'user'] as const;
export const Tier = z.enum(TIERS);
export type Tier = z.infer<typeof Tier>;

/** The content types a helpdesk tree holds; the product reads `articles`. */
export const HELPDESK_CONTENT_TYPES = ['articles', 'guides', 'references', 'news'] as const;
export type HelpdeskContentType = (typeof HELPDESK_CONTENT_TYPES)[number];
