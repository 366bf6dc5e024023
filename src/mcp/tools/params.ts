// Shared tool parameters, described once (the description is all the model sees of a field).
import { z } from 'zod';

// No UUID pattern: the guard refuses any website off the allow-list before a call is made.
export const WebsiteId = z.string().min(1).max(64).describe('omit: the default website');

export const SessionId = z
  .string()
  .regex(/^session_[0-9a-f-]{36}$/i, 'a session id looks like session_<uuid>')
  .describe('from list_conversations');

// What a write tool passes on to Crisp is text a person will read. JSON lets a call carry what is
// no text at all — half of a surrogate pair ("\ud800", which many JSON consumers reject and the
// conversation then shows as U+FFFD), or a control character such as U+0000 — and a model can send
// a message of only zero-width or combining characters, which the visitor sees as an empty bubble.
// Each is refused, naming the field, before anything is sent. Tab and line breaks are writing.
const HALF_PAIR = /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/;
// eslint-disable-next-line no-control-regex -- finding control characters is the point
const CONTROL = /[\u0000-\u0008\u000B\u000C\u000E-\u001F\u007F-\u009F]/;
/** Whitespace, invisible format characters (zero-width space and joiners, direction marks) and marks with no letter to sit on. */
const NOTHING_VISIBLE = /^[\s\p{Cf}\p{M}]*$/u;

const hex = (c: string) => `U+${c.charCodeAt(0).toString(16).toUpperCase().padStart(4, '0')}`;

/** `schema` refusing text that is no text (see above); with `visible`, refusing text a reader would see nothing of, too. */
export function written(schema: z.ZodString, { visible = false } = {}): z.ZodString {
  return schema.superRefine((text, ctx) => {
    const half = HALF_PAIR.exec(text)?.[0];
    if (half) return ctx.addIssue({ code: 'custom', message: `holds half of a surrogate pair (${hex(half)}), which is no character: send the whole character (an emoji is two \\u escapes in JSON) or leave it out` });
    const control = CONTROL.exec(text)?.[0];
    if (control) return ctx.addIssue({ code: 'custom', message: `holds the control character ${hex(control)}, which is no text: remove it` });
    if (visible && NOTHING_VISIBLE.test(text)) ctx.addIssue({ code: 'custom', message: 'is only whitespace, invisible or combining characters, which a reader sees nothing of: write some text' });
  });
}

/**
 * An email for a conversation or a contact. Addresses are ASCII here, as in the wire schemas the
 * sandbox checks Crisp's fields with; a domain in another script has an ASCII (IDNA, xn--) form
 * that mail delivers to the same place, so the refusal gives it.
 */
export const EmailIn = z.email({ error: (issue) => emailExpected(issue.input) });

const NON_ASCII = /\P{ASCII}/u;
const DOMAIN_LABELS = /^[\p{L}\p{M}\p{N}-]+(?:\.[\p{L}\p{M}\p{N}-]+)+$/u;

function emailExpected(input: unknown): string {
  const expected = 'expected an email address such as name@example.com';
  if (typeof input !== 'string') return expected;
  const at = input.lastIndexOf('@');
  const [local, domain] = [input.slice(0, at), input.slice(at + 1)];
  if (at < 1 || !domain) return expected;
  if (NON_ASCII.test(local)) return `${expected}, its part before @ in ASCII`;
  if (!NON_ASCII.test(domain) || !DOMAIN_LABELS.test(domain)) return expected;
  try {
    // The WHATWG URL parser applies IDNA (UTS #46): bücher.de is xn--bcher-kva.de.
    return `${expected}; a domain in another script is written in its ASCII form: ${local}@${new URL(`http://${domain}`).hostname}`;
  } catch {
    return expected;
  }
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
