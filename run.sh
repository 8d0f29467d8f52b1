#!/usr/bin/env bash
# Runs Palaver locally: embedded SQLite in ./data, the sample apps built and packed
# into ./marketplace, the server on 127.0.0.1:3000. On the first start the admin's
# generated password is printed. Extra arguments go to `palaver serve`.
set -euo pipefail
cd "$(dirname "$0")"
cargo build -p palaver-server --bin palaver
mkdir -p marketplace
for app in sample-apps/*/; do
  if [ -f "$app/app.toml" ]; then
    ./target/debug/palaver app build "$app" --marketplace marketplace
  fi
done
exec ./target/debug/palaver serve "$@"
