// `npm run bench`: every benchmark, each printing its table with its anchor measured beside it.
// They run one after another: each needs the machine's cores to itself.
import { cpus } from 'node:os';
import { benchAutopilot, formatAutopilot } from './autopilot.js';
import { benchConverse, formatConverse } from './converse.js';
import { benchCrispClient, formatCrispClient } from './crisp-client.js';
import { benchMcpHandler, formatMcpHandler } from './mcp-handler.js';
import { benchMcpHttp, formatMcpHttp } from './mcp-http.js';
import { benchMcpStdio, formatMcpStdio } from './mcp-stdio.js';
import { benchScenario, formatScenario } from './scenario.js';
import { benchStartup, formatStartup } from './startup.js';
import { benchStore, formatStore } from './store.js';

const concurrency = 16;
const benches = [
  async () => formatStartup(await benchStartup()),
  async () => formatCrispClient(await benchCrispClient({ concurrency }), concurrency),
  async () => formatMcpStdio(await benchMcpStdio()),
  async () => formatMcpHandler(await benchMcpHandler()),
  async () => formatMcpHttp(await benchMcpHttp()),
  async () => formatScenario(await benchScenario()),
  async () => formatStore(await benchStore()),
  async () => formatConverse(await benchConverse()),
  async () => formatAutopilot(await benchAutopilot()),
];

process.stdout.write(`node ${process.version}, ${cpus().length} cores (${cpus()[0]?.model ?? 'unknown cpu'})\n`);
for (const bench of benches) process.stdout.write(`\n${await bench()}\n`);
