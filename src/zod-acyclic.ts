// Imported by cli.ts before a command's modules build their schemas: zod parses here without its
// reference-cycle support, as zod/mini does by default. Every value this process parses is acyclic:
// it comes from JSON.parse (MCP messages, Crisp's answers, scenario files, the environment) or is a
// tool's answer on its way to JSON.stringify, which would refuse a cycle anyway. The support is
// not free: a schema that can recurse (the MCP SDK's JSON-RPC and result schemas can, through
// their JSON values) records every object it visits in WeakMaps made for that parse, and one
// tools/call goes through several such parses (the guards that tell a response from a request, on
// the call and again on its answer, and the check of the result): garbage for the collector on
// every call. Accepting and rejecting stay the same, issues included
// (test/zod-acyclic.test.ts). zod reads the memoizer when it builds a schema (z.lazy: on its first
// parse), so only schemas built after this import go without it.
import { config, type $ZodMemoizer } from 'zod/v4/core';

/** Remembers nothing: each object is parsed where it is met, as if zod had no memoizer. */
const noMemo: $ZodMemoizer = {
  attach() {},
  guard() {},
  alloc: (_inst, _payload, empty) => empty,
};

config({ memoizer: noMemo });
