#!/usr/bin/env bash
# Runs Rocket.Chat's own REST API tests (apps/meteor/tests/end-to-end/api/*.ts in its
# repository), unmodified, against a fresh Palaver, and prints per test file how many
# passed, failed, were skipped or never ran. Not part of `cargo test`: Rocket.Chat's
# source is not ours to commit, so this needs a checkout of it.
#
#   tests/rc-conformance/run.sh [FILE ...]      FILE: a test file's name, e.g. chat
#
# RC_SOURCE       a Rocket.Chat work tree or git directory (default: the fork
#                 hmchangw/Rocket.Chat's mirror when present)
# PALAVER_BIN     the binary to test (default: target/debug/palaver, built if missing)
# RC_WORK         where packages are cached and tests staged (default: target/rc-conformance)
# RC_REPORT_JSON  where to write the counts and every failure with its reason
#                 (default: $RC_WORK/report.json)
# RC_MONGODB      a MongoDB server (mongodb://host:port) to run Palaver on instead of
#                 SQLite, in a fresh database of its own, given to the tests as
#                 MONGO_URL: the few tests that write to Rocket.Chat's database
#                 directly (users.ts's updateUserInDb) then reach Palaver's data
#
# node and npm must be installed; the test's npm packages are cached under
# target/rc-conformance. The server gets a temp data dir and a free loopback port and
# is stopped on every way out.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
work=${RC_WORK:-$root/target/rc-conformance}
src=${RC_SOURCE:-/work/.mirror/hmchangw+Rocket.Chat/repo}
export RC_REPORT_JSON=${RC_REPORT_JSON:-$work/report.json}
if [ $# -eq 0 ]; then
  set -- chat channels groups direct-message users rooms subscriptions commands \
    incoming-integrations miscellaneous
fi

# 1. The test runner's packages, cached by the package list's hash.
mkdir -p "$work"
stamp="$work/node_modules/.palaver-$(sha256sum "$here/package.json" | cut -c1-16)"
if [ ! -e "$stamp" ]; then
  cp "$here/package.json" "$work/package.json"
  (cd "$work" && npm install --no-audit --no-fund --loglevel=error)
  touch "$stamp"
fi
for stub in random core-typings; do
  rm -rf "$work/node_modules/@rocket.chat/$stub"
  mkdir -p "$work/node_modules/@rocket.chat"
  cp -r "$here/stubs/$stub" "$work/node_modules/@rocket.chat/$stub"
done

# 2. Rocket.Chat's tests and the files they read, laid out as in apps/meteor.
stage="$work/meteor"
rm -rf "$stage"
mkdir -p "$stage"
paths=(tests/end-to-end tests/data tests/setup tests/e2e/config tests/mocks/files
  tests/e2e/fixtures/files/lst-test.lst tests/e2e/fixtures/files/diagram.drawio
  public/images/logo/1024x1024.png public/images/logo/logo.svg lib/utils/sleep.ts
  app/authorization/server/constant/permissions.ts)
if [ -d "$src/apps/meteor/tests" ]; then
  for p in "${paths[@]}"; do
    mkdir -p "$stage/$(dirname "$p")"
    cp -r "$src/apps/meteor/$p" "$stage/$p" 2>/dev/null || echo "missing in RC_SOURCE: $p" >&2
  done
else
  for p in "${paths[@]}"; do
    git --git-dir="$src" archive HEAD "apps/meteor/$p" 2>/dev/null | tar -x -C "$work" \
      || echo "missing in RC_SOURCE: $p" >&2
  done
  rm -rf "$stage" && mv "$work/apps/meteor" "$stage" && rm -rf "$work/apps"
fi
cp "$here/tsconfig.json" "$here/reporter.js" "$stage/"
mkdir -p "$stage/ee/app/livechat-enterprise/server"
cp "$here/stubs/ee-livechat-permissions.js" "$stage/ee/app/livechat-enterprise/server/permissions.js"
ln -sfn "$work/node_modules" "$stage/node_modules"

# 3. A fresh Palaver with Rocket.Chat's test admin.
bin=${PALAVER_BIN:-$root/target/debug/palaver}
if [ -z "${PALAVER_BIN:-}" ] && [ ! -x "$bin" ]; then
  (cd "$root" && cargo build -p palaver-server --bin palaver)
fi
data=$(mktemp -d)
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
server_pid=
cleanup() {
  if [ -n "$server_pid" ]; then kill "$server_pid" 2>/dev/null || true; wait "$server_pid" 2>/dev/null || true; fi
  rm -rf "$data"
}
trap cleanup EXIT INT TERM
storage=sqlite
mongo_url=${MONGO_URL:-}
if [ -n "${RC_MONGODB:-}" ]; then
  storage="${RC_MONGODB%/}/rc_conformance_$(date +%s)_$$"
  mongo_url=$storage
fi
PALAVER_STORAGE=$storage PALAVER_LISTEN=127.0.0.1:$port PALAVER_DATA_DIR=$data PALAVER_MARKETPLACE_DIR=$data/marketplace \
  PALAVER_ADMIN_ID=rocketchat.internal.admin.test PALAVER_ADMIN_USERNAME=rocketchat.internal.admin.test \
  PALAVER_ADMIN_PASSWORD=rocketchat.internal.admin.test \
  PALAVER_ADMIN_EMAIL=rocketchat.internal.admin.test@rocket.chat \
  PALAVER_LOGIN_RATE_LIMIT__PER_IP=1000000 PALAVER_LOGIN_RATE_LIMIT__PER_USER=1000000 \
  PALAVER_HTTP__MAX_CONNECTIONS_PER_ADDRESS=4096 \
  "$bin" serve >"$work/server.log" 2>&1 &
server_pid=$!
for _ in $(seq 1 100); do
  curl -sf "http://127.0.0.1:$port/api/info" >/dev/null && break
  kill -0 "$server_pid" 2>/dev/null || { cat "$work/server.log" >&2; exit 1; }
  sleep 0.1
done

# Rocket.Chat's test environment: its test admin's id is its username (TEST_MODE's
# initialData inserts it so; tests of stars and exports read one for the other); it
# holds the `admin` role only
# (initialData.js in TEST_MODE gives it no `user` role), which tests granting a
# permission to `user` rely on, and is named as there (tests of real names read
# it); and registration is open (Rocket.Chat's default).
python3 - "$port" <<'PY'
import json, sys, urllib.request
base = f"http://127.0.0.1:{sys.argv[1]}/api/v1/"
def call(path, body, headers={}):
    req = urllib.request.Request(base + path, json.dumps(body).encode(),
                                 {"Content-Type": "application/json", **headers})
    return json.load(urllib.request.urlopen(req))
login = call("login", {"user": "rocketchat.internal.admin.test",
                       "password": "rocketchat.internal.admin.test"})["data"]
auth = {"X-User-Id": login["userId"], "X-Auth-Token": login["authToken"]}
call("roles.removeUserFromRole", {"roleId": "user", "username": "rocketchat.internal.admin.test"}, auth)
call("users.updateOwnBasicInfo", {"data": {"name": "RocketChat Internal Admin Test"}}, auth)
# Rocket.Chat's default registration form is public (Palaver's is disabled).
call("settings/Accounts_RegistrationForm", {"value": "Public"}, auth)
PY

# 4. The tests, in one mocha run like Rocket.Chat's CI, but without --bail so every
#    file is counted.
specs=()
for f in "$@"; do specs+=("tests/end-to-end/api/$f.ts"); done
cd "$stage"
MONGO_URL=$mongo_url TEST_API_URL=http://127.0.0.1:$port BASE_URL=http://127.0.0.1:$port \
  TS_NODE_TRANSPILE_ONLY=true TS_NODE_PROJECT="$stage/tsconfig.json" \
  node node_modules/mocha/bin/_mocha --require ts-node/register --require ./tests/setup/chaiPlugins.ts \
  --timeout 10000 --file tests/end-to-end/teardown.ts --reporter ./reporter.js \
  "${specs[@]}" || true
echo "report: $RC_REPORT_JSON; server log: $work/server.log"
