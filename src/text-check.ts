// Text that is no text, wherever a caller hands us text a person will read (a tool's message, a
// converse event): half of a surrogate pair — JSON's "\ud800" escape parses into one, JSON.stringify
// writes it back as that escape, and many consumers reject it or show U+FFFD — or a control
// character such as U+0000. Tab and line breaks are writing.

const HALF_PAIR = /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/;
// eslint-disable-next-line no-control-regex -- finding control characters is the point
const CONTROL = /[\u0000-\u0008\u000B\u000C\u000E-\u001F\u007F-\u009F]/;

const hex = (c: string) => `U+${c.charCodeAt(0).toString(16).toUpperCase().padStart(4, '0')}`;

/** Why `text` is no text (a phrase to follow the field's name), or undefined when it is text. */
export function notText(text: string): string | undefined {
  const half = HALF_PAIR.exec(text)?.[0];
  if (half) return `holds half of a surrogate pair (${hex(half)}), which is no character: send the whole character (an emoji is two \\u escapes in JSON) or leave it out`;
  const control = CONTROL.exec(text)?.[0];
  if (control) return `holds the control character ${hex(control)}, which is no text: remove it`;
  return undefined;
}
