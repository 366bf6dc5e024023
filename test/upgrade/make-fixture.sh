#!/usr/bin/env bash
# Regenerates fixtures/sqlite-0300263.db: the SQLite file the release before 0300263 (positions still
# a WITHOUT ROWID table, outbox_once without its digest column, positions without expires_at) leaves
# after make-fixture.mjs drove it and it was killed. Builds that release in a throwaway worktree with
# this checkout's node_modules hard-linked (its lockfile differs by nothing that matters). The WAL is
# folded into the file so the fixture is one file. Run from anywhere: test/upgrade/make-fixture.sh
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
rev=0300263^
work=$(mktemp -d /tmp/crisp-mcp-fixture-XXXXXX)
trap 'git -C "$repo" worktree remove --force "$work/src" >/dev/null 2>&1 || true; rm -rf "$work"' EXIT
git -C "$repo" worktree add --detach "$work/src" "$rev" >/dev/null
cp -al "$repo/node_modules" "$work/src/node_modules"
(cd "$work/src" && npm run build >/dev/null)
node "$here/make-fixture.mjs" "$work/src/dist/cli.js" "$work/state.db"
node -e "const D=require('$repo/node_modules/better-sqlite3'); const db=new D(process.argv[1]); db.pragma('wal_checkpoint(TRUNCATE)'); db.pragma('journal_mode = DELETE'); db.close()" "$work/state.db"
mkdir -p "$here/fixtures"
cp "$work/state.db" "$here/fixtures/sqlite-0300263.db"
echo "wrote $here/fixtures/sqlite-0300263.db"
