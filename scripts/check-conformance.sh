#!/usr/bin/env bash
# After `cargo test`: CONFORMANCE.md, written by the conformance tests as they pass, must
# show every row passing. A row that no test recorded in this run says "not run".
set -euo pipefail
cd "$(dirname "$0")/.."
if grep -n "| not run |" CONFORMANCE.md; then
    echo "CONFORMANCE.md: the rows above were not recorded by this run (their tests did not run or did not pass)" >&2
    exit 1
fi
echo "CONFORMANCE.md: $(grep -c '| pass: ' CONFORMANCE.md) rows, all passing"
