// The last line of defence for secrets: every credential the process learns is registered here in
// each form it could take on the wire (the key, `identifier:key`, its base64, the Basic header),
// and every log line and crash message goes through scrub() before it leaves the process.

const secrets = new Set<string>();
const CENSOR = '[redacted]';

/** Registers a Crisp token pair (or any single secret when `identifier` is empty). */
export function registerSecret(key: string, identifier = ''): void {
  if (key.length < 4) return;
  const forms = [key, Buffer.from(key).toString('base64')];
  if (identifier) {
    const pair = `${identifier}:${key}`;
    forms.push(pair, Buffer.from(pair).toString('base64'));
  }
  for (const form of forms) secrets.add(form);
}

/** `text` with every registered secret replaced; cheap when nothing matches. */
export function scrub(text: string): string {
  let out = text;
  for (const secret of secrets) {
    if (out.includes(secret)) out = out.split(secret).join(CENSOR);
  }
  return out;
}

/** For tests: forget every registered secret. */
export function clearSecrets(): void {
  secrets.clear();
}
