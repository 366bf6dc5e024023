// A start-up refusal of the server the Claude Desktop bundle runs names the settings it is about as
// the extension's settings form titles them (read from the bundle manifest), and is unchanged
// where there is no manifest (a checkout, the npm package).
import { describe, expect, it } from 'vitest';
import { inBundleTerms } from '../../src/commands/bundle-settings.js';

const MANIFEST = new URL('../../mcpb/manifest.json', import.meta.url);

describe('a refusal in the bundle', () => {
  it('names one setting by its title', () => {
    expect(inBundleTerms('CRISP_TIER must be plugin, website or user, got "plugins"', MANIFEST)).toBe(
      `CRISP_TIER must be plugin, website or user, got "plugins". In Claude Desktop, that is the Crisp inbox extension's setting "Token tier" (CRISP_TIER)`,
    );
  });

  it('names several in the order the message does, --sandbox as the sandbox switch, without a doubled full stop', () => {
    expect(inBundleTerms('no Crisp credentials: set CRISP_KEY and CRISP_IDENTIFIER, or try it offline with --sandbox.', MANIFEST)).toBe(
      `no Crisp credentials: set CRISP_KEY and CRISP_IDENTIFIER, or try it offline with --sandbox. In Claude Desktop, those are the Crisp inbox extension's settings "Token key" (CRISP_KEY), "Token identifier" (CRISP_IDENTIFIER) and "Try it with the sandbox" (--sandbox)`,
    );
  });

  it('names a setting by the flag a message uses for it', () => {
    expect(inBundleTerms('Not sent: this server runs with --send-mode confirm and your client cannot ask the user.', MANIFEST)).toBe(
      `Not sent: this server runs with --send-mode confirm and your client cannot ask the user. In Claude Desktop, that is the Crisp inbox extension's setting "Send mode" (--send-mode)`,
    );
  });

  it('leaves a message about no setting of the form, a longer name that contains one, and every message outside the bundle as they are', () => {
    expect(inBundleTerms('--port only applies to the HTTP server: add --http', MANIFEST)).toBe('--port only applies to the HTTP server: add --http');
    expect(inBundleTerms('CRISP_KEY_FILE is not a setting', MANIFEST)).toBe('CRISP_KEY_FILE is not a setting');
    expect(inBundleTerms('CRISP_KEY is missing', new URL('./no-such-manifest.json', import.meta.url))).toBe('CRISP_KEY is missing');
  });
});
