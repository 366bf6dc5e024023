// What a person types into Crisp's chatbox or app: both send nothing for a box holding only
// whitespace or only invisible format characters (a zero-width space U+200B, non-joiner U+200C,
// joiner U+200D, word joiner U+2060, byte-order mark U+FEFF: Unicode's `Cf`). One check for the
// visitor's side and the operator's, so both refuse the same text with the same words.
import { z } from 'zod';

const hasVisibleText = (text: string) => !/^[\s\p{Cf}]*$/u.test(text);

/** A string that must show something; `what` names it in the refusal ("the text", "the nickname"). */
export const visibleText = (what: string, max: number) =>
  z
    .string()
    .min(1)
    .max(max)
    .refine(hasVisibleText, { message: `${what} is only whitespace or invisible characters, which neither Crisp's chatbox nor its app sends; write some text` });

/** A message's text, on either side (the visitor's messages, the operator's composer). */
export const MessageText = visibleText('the text', 10_000);
