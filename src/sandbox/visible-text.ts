// What a person types into Crisp's chatbox or app: both send nothing for a box holding only
// whitespace or only invisible format characters (a zero-width space U+200B, non-joiner U+200C,
// joiner U+200D, word joiner U+2060, byte-order mark U+FEFF: Unicode's `Cf`), and a keyboard types
// no combining mark without a letter under it, no control character (U+0000, U+001B…) and no half
// of a surrogate pair (JSON's lone "\ud83c" escape). One check for the visitor's side and the
// operator's, so both refuse the same text with the same words. The half-pair and control rules are
// src/text-check.ts's, which sandbox/ may not import (lint/layers.js: it shares only crisp/schemas).
import { z } from 'zod';

const hasVisibleText = (text: string) => !/^[\s\p{Cf}]*$/u.test(text);
const marksOnly = (text: string) => /^[\s\p{Cf}\p{M}]*$/u.test(text);

const HALF_PAIR = /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/;
// Tab and line breaks are writing.
// eslint-disable-next-line no-control-regex -- finding control characters is the point
const CONTROL = /[\u0000-\u0008\u000B\u000C\u000E-\u001F\u007F-\u009F]/;

const hex = (c: string) => `U+${c.charCodeAt(0).toString(16).toUpperCase().padStart(4, '0')}`;

/** Why `text` is no typed text (a phrase to follow the field's name), or undefined when it is. */
function notTyped(text: string): string | undefined {
  if (!hasVisibleText(text)) return "is only whitespace or invisible characters, which neither Crisp's chatbox nor its app sends; write some text";
  if (marksOnly(text)) return 'is only combining marks with no letter under them, which neither Crisp\'s chatbox nor its app sends; write the letter with its marks';
  const half = HALF_PAIR.exec(text)?.[0];
  if (half) return `holds half of a surrogate pair (${hex(half)}), which is no character: send the whole character (an emoji is two \\u escapes in JSON) or leave it out`;
  const control = CONTROL.exec(text)?.[0];
  if (control) return `holds the control character ${hex(control)}, which neither Crisp's chatbox nor its app sends: remove it`;
  return undefined;
}

/** A string that must show something; `what` names it in the refusal ("the text", "the nickname"). */
export const visibleText = (what: string, max: number) =>
  z
    .string()
    .min(1)
    .max(max)
    .superRefine((text, ctx) => {
      const why = notTyped(text);
      if (why) ctx.addIssue({ code: 'custom', message: `${what} ${why}` });
    });

/** A message's text, on either side (the visitor's messages, the operator's composer). */
export const MessageText = visibleText('the text', 10_000);
