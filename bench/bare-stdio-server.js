// The anchor for bench/mcp-stdio: the bare SDK v2 over stdio (its tools: bench/bare-tools.js), the
// Crisp calls made with our client. Whatever our server costs above this is ours; the rest is the
// SDK and the extra process hop.
import { serveStdio } from '@modelcontextprotocol/server/stdio';
import { CrispClient } from '../dist/crisp/index.js';
import { bareServer } from './bare-tools.js';

const e = process.env;
const crisp = new CrispClient({ baseUrl: e.CRISP_API_URL, credentials: { identifier: e.CRISP_IDENTIFIER, key: e.CRISP_KEY, tier: e.CRISP_TIER } });
serveStdio(() => bareServer(crisp, e.CRISP_WEBSITE_ID));
