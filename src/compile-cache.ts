// Imported first by cli.ts: from here on, V8 keeps the code it compiles for each module on disk
// and the next start of the same files skips compiling them (bench/startup). node:module has
// enableCompileCache from Node 22.1; on Node 20 it is absent and this does nothing.
// NODE_DISABLE_COMPILE_CACHE=1 turns it off; NODE_COMPILE_CACHE=DIR chooses the folder.
import module from 'node:module';

(module as { enableCompileCache?: () => unknown }).enableCompileCache?.();
