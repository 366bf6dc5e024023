// Shared tool parameters, described once (the description is all the model sees of a field).
import { z } from 'zod';
import { asciiEmail } from '../../scenario/run.js';
import { notText } from '../../text-check.js';

// No UUID pattern: the guard refuses any website off the allow-list before a call is made.
export const WebsiteId = z.string().min(1).max(64).describe('omit: the default website');

export const SessionId = z
  .string()
  .regex(/^session_[0-9a-f-]{36}$/i, 'a session id looks like session_<uuid>')
  .describe('from list_conversations');

// What a write tool passes on to Crisp is text a person will read: text that is no text (notText)
// is refused, naming the field, before anything is sent; so is a message of only zero-width or
// combining characters, which the visitor would see as an empty bubble.
/** Whitespace, invisible format characters (zero-width space and joiners, direction marks) and marks with no letter to sit on. */
const NOTHING_VISIBLE = /^[\s\p{Cf}\p{M}]*$/u;

/** Text a reader would see nothing of: only whitespace, invisible format characters or combining marks. */
export const showsNothing = (text: string) => NOTHING_VISIBLE.test(text);

/** `schema` refusing text that is no text; with `visible`, refusing text a reader would see nothing of, too. */
export function written(schema: z.ZodString, { visible = false } = {}): z.ZodString {
  return schema.superRefine((text, ctx) => {
    const problem = notText(text);
    if (problem) return ctx.addIssue({ code: 'custom', message: problem });
    if (visible && showsNothing(text)) ctx.addIssue({ code: 'custom', message: 'is only whitespace, invisible or combining characters, which a reader sees nothing of: write some text' });
  });
}

/**
 * An email for a conversation or a contact. Addresses are ASCII here, as in the wire schemas the
 * sandbox checks Crisp's fields with; a domain in another script has an ASCII (IDNA, xn--) form
 * that mail delivers to the same place, so the refusal gives it.
 */
export const EmailIn = z.email({ error: (issue) => emailExpected(issue.input) });

const NON_ASCII = /\P{ASCII}/u;
const Email = z.email();

/** The refusal of an address: a domain in another script gets its ASCII form (the one a scenario's ask block saves), a part before @ outside ASCII is named. */
function emailExpected(input: unknown): string {
  const expected = 'expected an email address such as name@example.com';
  if (typeof input !== 'string') return expected;
  const at = input.lastIndexOf('@');
  if (at >= 1 && NON_ASCII.test(input.slice(0, at))) return `${expected}, its part before @ in ASCII`;
  const ascii = asciiEmail(input);
  return ascii !== null && ascii !== input && Email.safeParse(ascii).success ? `${expected}; a domain in another script is written in its ASCII form: ${ascii}` : expected;
}

/** A custom-data value as tools accept it; null removes the key. */
export const DataValue = z.union([written(z.string().max(1_000)), z.number(), z.boolean(), z.null()]);
export const DataPatch = z.record(written(z.string().max(100)), DataValue);

/** Segment names to add or remove. */
export const SegmentList = z.array(z.string().min(1).max(100)).max(20);

/**
 * Crisp replaces a segments array whole, so adding or removing one means editing the current
 * array: the added ones joined without duplicates, then the removed ones taken out.
 */
export function editSegments(current: readonly string[], add: readonly string[] = [], remove: readonly string[] = []): string[] {
  const removed = new Set(remove);
  return [...new Set([...current, ...add])].filter((s) => !removed.has(s));
}
