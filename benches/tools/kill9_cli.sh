#!/usr/bin/env bash
# kill -9 loop over the CLI: `strata ingest` (many small transactions) and `strata merge`, each
# killed at a random moment, N times; after every kill `strata verify` must pass and the index
# must hold every document of every ingest that finished plus whole transactions of the one
# that was killed (keys are ingested in batches of B, so the count is a multiple of B).
#
#   benches/tools/kill9_cli.sh [N=100] [STRATA=target/release/strata]
set -euo pipefail
N=${1:-100}
STRATA=${2:-target/release/strata}
B=50
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
dir=$work/index
# One .fvecs file of 2,000 16-d vectors; each round ingests it under fresh string keys.
python3 - "$work/base.fvecs" <<'PY'
import struct, sys, random
random.seed(7)
with open(sys.argv[1], "wb") as f:
    for _ in range(2000):
        f.write(struct.pack("<i", 16))
        f.write(struct.pack("<16f", *[random.uniform(-1, 1) for _ in range(16)]))
PY
"$STRATA" create "$dir" --dim 16 --metric dot --key string >/dev/null
done_docs=0
kills=0
for round in $(seq 1 "$N"); do
    seq -f "r${round}-%g" 1 2000 >"$work/keys.txt"
    if [ $((round % 4)) -eq 0 ]; then
        "$STRATA" merge "$dir" >/dev/null 2>&1 &
    else
        "$STRATA" ingest "$dir" --vectors "$work/base.fvecs" --keys "$work/keys.txt" \
            --batch "$B" >/dev/null 2>&1 &
    fi
    pid=$!
    sleep "0.0$((RANDOM % 5))$((RANDOM % 10))"
    if kill -9 "$pid" 2>/dev/null; then kills=$((kills + 1)); fi
    wait "$pid" 2>/dev/null || true
    "$STRATA" verify "$dir" >/dev/null || { echo "round $round: verify FAILED"; exit 1; }
    docs=$("$STRATA" stats "$dir" --json | python3 -c 'import json,sys; print(json.load(sys.stdin)["live_docs"])')
    if [ "$docs" -lt "$done_docs" ] || [ $((docs % B)) -ne 0 ]; then
        echo "round $round: $docs docs after kill (had $done_docs, batches of $B)"; exit 1
    fi
    done_docs=$docs
done
echo "kill9_cli: $N rounds, $kills processes killed mid-run, $done_docs docs, verify ok every round"
