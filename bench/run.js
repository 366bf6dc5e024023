// `npm run bench`: every benchmark, each printing its table with its anchor measured beside it.
import { cpus } from 'node:os';
import { benchCrispClient, formatCrispClient } from './crisp-client.js';
import { benchMcpHttp, formatMcpHttp } from './mcp-http.js';
import { benchMcpStdio, formatMcpStdio } from './mcp-stdio.js';
import { benchStore, formatStore } from './store.js';

process.stdout.write(`node ${process.version}, ${cpus().length} cores (${cpus()[0]?.model ?? 'unknown cpu'})\n\n`);
const concurrency = 16;
process.stdout.write(formatCrispClient(await benchCrispClient({ concurrency }), concurrency) + '\n\n');
process.stdout.write(formatMcpStdio(await benchMcpStdio()) + '\n\n');
process.stdout.write(formatMcpHttp(await benchMcpHttp()) + '\n\n');
process.stdout.write(formatStore(await benchStore()) + '\n');
const { benchConverse, formatConverse } = await import('./converse.js'); process.stdout.write('\n' + formatConverse(await benchConverse()) + '\n');
const { benchAutopilot, formatAutopilot } = await import('./autopilot.js'); process.stdout.write('\n' + formatAutopilot(await benchAutopilot()) + '\n');
