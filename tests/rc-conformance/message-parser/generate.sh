#!/usr/bin/env bash
# Regenerates server/src/chat/markdown/testdata/{rocketchat_fixtures,differential,hosts}.json
# from Rocket.Chat's own message parser (packages/message-parser: grammar.pegjs built
# with peggy, utils.ts/index.ts transpiled with typescript) and its jest tests.
#
#   tests/rc-conformance/message-parser/generate.sh
#
# RC_SOURCE  a Rocket.Chat git directory or work tree (default: the hmchangw/Rocket.Chat mirror)
# RC_WORK    where npm packages are installed and the parser is built
#            (default: target/rc-message-parser)
# OUT_DIR    where the JSON goes (default: server/src/chat/markdown/testdata)
#
# Needs node (20) and npm. Prints a report: cases per test file, and any case where
# Rocket.Chat's parser disagrees with its own test's expectation.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../../.." && pwd)
src=${RC_SOURCE:-/work/.mirror/hmchangw+Rocket.Chat/repo}
export RC_WORK=${RC_WORK:-$root/target/rc-message-parser}
export OUT_DIR=${OUT_DIR:-$root/server/src/chat/markdown/testdata}
mkdir -p "$RC_WORK" "$OUT_DIR"
stamp="$RC_WORK/node_modules/.palaver-$(sha256sum "$here/package.json" | cut -c1-16)"
if [ ! -e "$stamp" ]; then
  cp "$here/package.json" "$RC_WORK/package.json"
  (cd "$RC_WORK" && npm install --no-audit --no-fund --loglevel=error)
  touch "$stamp"
fi
rm -rf "$RC_WORK/message-parser"
mkdir -p "$RC_WORK/message-parser"
if [ -d "$src/packages/message-parser" ]; then
  cp -r "$src/packages/message-parser/src" "$src/packages/message-parser/tests" "$RC_WORK/message-parser/"
else
  git --git-dir="$src" archive HEAD packages/message-parser 2>/dev/null |
    tar -x -C "$RC_WORK/message-parser" --strip-components=2
  echo "Rocket.Chat commit: $(git --git-dir="$src" rev-parse HEAD)"
fi
node "$here/gen-fixtures.js"
node "$here/gen-differential.js"
node "$here/gen-hosts.js"
