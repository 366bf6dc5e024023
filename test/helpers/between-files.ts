// Run before each test file (vitest.config.ts setupFiles). The files of a worker share its modules
// (isolate: false), so the secrets one file's in-process server registered for scrub() would still
// be redacted from the next file's output: each file starts with none, as in a process of its own.
import { clearSecrets } from '../../src/credentials/redact.js';

clearSecrets();
