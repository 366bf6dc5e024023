// The sentence for a Crisp that could not be reached at all (no HTTP answer), shared by tool results
// and resource errors: the client's message names the URL and the system error code (ECONNREFUSED,
// ENOTFOUND…), which is what an operator fixes.
import type { CrispError } from '../crisp/errors.js';

export function unreachableCrisp(error: CrispError): string | undefined {
  if (error.code !== 'crisp_unavailable' || error.status !== undefined) return undefined;
  return `${error.message.charAt(0).toUpperCase()}${error.message.slice(1)}. Check CRISP_API_URL and the network, then try again.`;
}
