#!/usr/bin/env bash
# `make plugins`: builds every crate under plugins/ for wasm32-wasip2, one at a time (a
# component is either an adapter or a router, so SDK features must not be unified across
# plugins), and installs them as <dir>/<name>.wasm in the bundled plugin directory: the
# `plugins/` folder next to the postfachd binary, which the daemon loads by default.
set -euo pipefail
cd "$(dirname "$0")/.."
TARGET_DIR="${TARGET_DIR:-${CARGO_TARGET_DIR:-target}}"
OUT="${1:-$TARGET_DIR/debug/plugins}"
mkdir -p "$OUT"
for dir in plugins/*/; do
    name=$(basename "$dir")
    pkg=$(sed -n 's/^name = "\(.*\)"$/\1/p' "$dir/Cargo.toml" | head -n 1)
    CARGO_TARGET_DIR="$TARGET_DIR/plugins" cargo build --quiet --release --target wasm32-wasip2 \
        --manifest-path plugins/Cargo.toml -p "$pkg"
    built="$TARGET_DIR/plugins/wasm32-wasip2/release/${pkg//-/_}.wasm"
    # Copy then rename, so a watching daemon never loads a half-written file.
    cp "$built" "$OUT/.$name.wasm.tmp"
    mv "$OUT/.$name.wasm.tmp" "$OUT/$name.wasm"
done
echo "plugins installed in $OUT: $(cd "$OUT" && ls *.wasm | tr '\n' ' ')"
