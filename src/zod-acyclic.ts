// Imported by cli.ts before any schema is built: zod parses here without its reference-cycle
// support, as zod/mini and zod before 4.6 do. Every value this process parses is acyclic: it
// comes from JSON.parse (MCP messages, Crisp's answers, scenario files, the environment) or is a
// tool's answer on its way to JSON.stringify, which would refuse a cycle anyway. The support is
// not free: a schema that can recurse (the MCP SDK's JSON-RPC and result schemas can, through
// their JSON values) keeps a WeakMap of every object it visits, on every parse, so checking one
// tools/call and its answer cost about 20 µs more and fed the garbage collector (bench/mcp-stdio).
// zod reads the memoizer when it builds a schema, so schemas built before this import keep theirs.
import { config, type $ZodMemoizer } from 'zod/v4/core';

/** Remembers nothing: each object is parsed where it is met, as if zod had no memoizer. */
const noMemo: $ZodMemoizer = {
  attach() {},
  guard() {},
  alloc: (_inst, _payload, empty) => empty,
};

config({ memoizer: noMemo });
