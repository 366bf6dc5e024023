// The last line of defence for secrets: every credential the process learns is registered here,
// and every log line, fatal message and crash message goes through scrub() before it leaves the
// process. A secret is matched in each form it can take on its way out — raw, JSON-escaped (pino
// writes JSON lines; a logged body can be JSON inside JSON), URL-encoded (encodeURIComponent,
// encodeURI, form encoding), shell-quoted, and base64/base64url at any alignment — so no code
// path has to remember to encode it the one way scrub() knows.

const CENSOR = '[redacted]';
/** Shorter than this, a secret (or a base64 slice of one) would shred ordinary text. */
const MIN_FORM_LENGTH = 4;

/** Every form of every registered secret, longest first so a whole form wins over a slice of it. */
let forms: string[] = [];
const registered = new Set<string>();

/** Registers a Crisp token pair (or any single secret when `identifier` is empty). */
export function registerSecret(key: string, identifier = ''): void {
  if (key.length < MIN_FORM_LENGTH) return;
  const added = [key, ...(identifier ? [`${identifier}:${key}`] : [])].filter((s) => !registered.has(s));
  if (added.length === 0) return;
  for (const secret of added) registered.add(secret);
  const all = new Set(forms);
  for (const secret of added) for (const form of encodedForms(secret)) if (form.length >= MIN_FORM_LENGTH) all.add(form);
  forms = [...all].sort((a, b) => b.length - a.length);
}

/** `text` with every form of every registered secret replaced; cheap when nothing matches. */
export function scrub(text: string): string {
  let out = text;
  for (const form of forms) {
    if (out.includes(form)) out = out.split(form).join(CENSOR);
  }
  return out;
}

/** For tests: forget every registered secret. */
export function clearSecrets(): void {
  forms = [];
  registered.clear();
}

/**
 * `text` with the userinfo of a URL in it (`user:password@`) hidden, for messages that echo a
 * setting back; works on text no URL parser accepts, by hiding everything up to the last `@`.
 */
export function hideUserinfo(text: string): string {
  const at = text.lastIndexOf('@');
  if (at < 0) return text;
  const scheme = /^[a-z][a-z0-9+.-]*:\/\//i.exec(text)?.[0] ?? '';
  return `${scheme}***${text.slice(at)}`;
}

/** The userinfo of a URL, registered as a secret pair (user name, password) so scrub() hides it. */
export function registerUrlUserinfo(url: string): void {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    return;
  }
  if (!parsed.password) return;
  const decode = (part: string): string => {
    try {
      return decodeURIComponent(part);
    } catch {
      return part;
    }
  };
  registerSecret(parsed.password, parsed.username);
  registerSecret(decode(parsed.password), decode(parsed.username));
}

/** The ways `secret` can be spelled in what we write: see the comment at the top. */
function encodedForms(secret: string): string[] {
  const json = (s: string): string => JSON.stringify(s).slice(1, -1);
  const percent = [encodeURIComponent(secret), encodeURI(secret), new URLSearchParams({ s: secret }).toString().slice(2)];
  const shell = [secret.replaceAll("'", "'\\''"), secret.replace(/["\\$`]/g, '\\$&')];
  const text = [secret, ...shell].flatMap((s) => [s, json(s), json(json(s))]);
  return [...text, ...percent, ...percent.map((p) => p.replace(/%[0-9A-F]{2}/g, (h) => h.toLowerCase())), ...base64Forms(secret)];
}

/**
 * The secret's base64 and base64url, whole (padded and not), and the slice that stays the same
 * wherever it sits in a longer encoded text: base64 turns 3 bytes into 4 characters, so for each of
 * the three alignments the characters built only from the secret's own bytes are fixed.
 */
function base64Forms(secret: string): string[] {
  const bytes = Buffer.from(secret, 'utf8');
  const out: string[] = [];
  for (let offset = 0; offset < 3; offset++) {
    const encoded = Buffer.concat([Buffer.alloc(offset), bytes]).toString('base64');
    const first = Math.ceil((8 * offset) / 6);
    const end = Math.floor((8 * (offset + bytes.length)) / 6);
    out.push(encoded.slice(first, end));
  }
  const whole = bytes.toString('base64');
  out.push(whole, whole.replace(/=+$/, ''));
  return [...out, ...out.map((b) => b.replace(/\+/g, '-').replace(/\//g, '_'))];
}
