#!/usr/bin/env bash
# Records the bundled example's cassettes (evals/cassettes/*.jsonl): every
# suite, or only those named (`bench/record-example.sh agent`).
#
# The answers are hand-written (bench/fixtures/*.answers.jsonl: realistic
# replies a gpt-4o-mini support bot and a gpt-4o judge could give, including
# one over-long answer that fails its max_words assertion; an order agent's
# tool calls, turn by turn, matched on the last message: the customer's, or
# the tool result the case's script sent back). They are served by
# the fake OpenAI server and recorded through promptctl's real HTTP path with
# `--record`, so the cassette keys are exactly the request hashes a replay run
# computes. Re-run this after changing a prompt, a suite or a case.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release --quiet --example fake_server
cargo build --release --quiet
P="$PWD/target/release/promptctl"
WORK=$(mktemp -d)
trap 'kill $PID 2>/dev/null || true; rm -rf "$WORK"' EXIT

record() { # suite answers
  local suite=$1 answers=$2
  : > "$WORK/url"
  target/release/examples/fake_server --latency-ms 700 --script "$answers" > "$WORK/url" < /dev/null &
  PID=$!
  until [ "$(wc -l < "$WORK/url" 2>/dev/null || echo 0)" -ge 1 ]; do sleep 0.05; done
  local url; url=$(head -1 "$WORK/url")
  # A scratch copy of the workspace with one more provider: the fake server.
  rm -rf "$WORK/ws"; mkdir -p "$WORK/ws"
  cp -r promptctl.yaml prompts evals "$WORK/ws/"
  python3 - "$WORK/ws/promptctl.yaml" "$url" <<'PY'
import sys
path, url = sys.argv[1], sys.argv[2]
text = open(path).read()
text = text.replace("providers:\n", f"providers:\n  recorder: {{ type: openai, base_url: \"{url}/v1\", max_in_flight: 16 }}\n", 1)
open(path, "w").write(text)
PY
  SOURCE_DATE_EPOCH=1763719200 "$P" -C "$WORK/ws" eval "$suite" --provider recorder --judge-provider recorder --record --no-cache >/dev/null || true
  mkdir -p evals/cassettes
  cp "$WORK/ws/evals/cassettes/$suite.jsonl" "evals/cassettes/$suite.jsonl"
  kill "$PID"; wait "$PID" 2>/dev/null || true
  echo "recorded evals/cassettes/$suite.jsonl ($(wc -l < "evals/cassettes/$suite.jsonl") recordings)"
}

for suite in "${@:-support classifier agent}"; do
  for s in $suite; do record "$s" "bench/fixtures/$s.answers.jsonl"; done
done
