// A documented Crisp Web Hook delivery and a signature written from the docs' words, shared by the
// signature tests (test/crisp/hooks.test.ts) and the route tests (test/transport/hook-receiver.test.ts).
import { createHmac } from 'node:crypto';

/** Crisp's documented message:send hook example, verbatim. */
export const DOCUMENTED = JSON.stringify({
  website_id: '42286ab3-b29a-4fde-8538-da0ae501d825',
  event: 'message:send',
  data: {
    website_id: '42286ab3-b29a-4fde-8538-da0ae501d825',
    session_id: 'session_36ba3566-9651-4790-afc8-ffedbccc317f',
    type: 'text',
    content: 'Hey :)',
    from: 'user',
    origin: 'chat',
    stamped: true,
    timestamp: 1506985696616,
    fingerprint: 150698569649423,
    user: { nickname: 'visitor493603', user_id: 'session_36ba3566-9651-4790-afc8-ffedbccc317f' },
  },
  timestamp: 1506985696616,
});

/** Written from Crisp's documented algorithm, independently of src/crisp/hooks.ts. */
export const independent = (secret: string, timestamp: number | string, raw: string) => createHmac('sha256', secret).update(`[${timestamp};${raw}]`).digest('hex');

