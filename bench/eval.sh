#!/usr/bin/env bash
# Eval engine benchmarks (issue 3). Prints the numbers quoted in the issue notes.
#
#   bench/eval.sh
#
# 1. latency-bound throughput: 1,000 cases against the fake server answering
#    in 50 ms, at -j 50 (ideal: 1,000 x 50 ms / 50 = 1.0 s; target <= 1.10 s);
# 2. rate limiting: rps 20 against a server that refuses (429) more than 20
#    requests in any second (target: achieved rate within 3% of 20/s, no 429);
# 3. echo: 100,000 cases, no network (targets: >= 20,000 cases/s, <= 150 MB RSS).
# Durations are the run's own `duration_ms` (the runner, from first call to
# last result) and the command's wall time (process start to exit).
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release --quiet --example fake_server
cargo build --release --quiet
P="$PWD/target/release/promptctl"
FAKE="$PWD/target/release/examples/fake_server"
WORK=$(mktemp -d)
PID=
trap '[ -n "$PID" ] && kill $PID 2>/dev/null; rm -rf "$WORK"' EXIT
export NO_COLOR=1 GIT_CEILING_DIRECTORIES="$WORK"
unset HTTP_PROXY HTTPS_PROXY ALL_PROXY http_proxy https_proxy all_proxy
export NO_PROXY=127.0.0.1,localhost

start_fake() { # flags...
  "$FAKE" "$@" > "$WORK/url" 2> "$WORK/fake.err" < /dev/null &
  PID=$!
  until [ "$(wc -l < "$WORK/url" 2>/dev/null || echo 0)" -ge 1 ]; do sleep 0.02; done
  URL=$(head -1 "$WORK/url")
}
stop_fake() { kill "$PID"; wait "$PID" 2>/dev/null || true; PID=; cat "$WORK/fake.err"; }

workspace() { # n-cases provider-line
  rm -rf "$WORK/ws"; mkdir -p "$WORK/ws/prompts/bench" "$WORK/ws/evals"
  cat > "$WORK/ws/promptctl.yaml" <<YAML
providers:
  $2
YAML
  cat > "$WORK/ws/prompts/bench/prompt.yaml" <<'YAML'
name: bench
model: { provider: fake, name: gpt-4o-mini, temperature: 0 }
messages:
  - { role: system, template: "You are a terse assistant." }
  - { role: user, template: "{{q}}" }
variables:
  q: { type: string, required: true }
YAML
  cat > "$WORK/ws/evals/bench.yaml" <<'YAML'
prompt: bench
cases: bench.cases.jsonl
defaults:
  assert: [ { type: contains, value: "question" } ]
gates: { pass_rate: 1.0 }
YAML
  python3 -c "
import json,sys
with open('$WORK/ws/evals/bench.cases.jsonl','w') as f:
    for i in range($1): f.write(json.dumps({'id':f'c{i}','vars':{'q':f'question {i} from ana{i}@example.com'}})+'\n')
"
}
duration() { python3 -c "import json,glob,sys; r=json.load(open(sorted(glob.glob('$WORK/ws/.promptctl/runs/*.json'))[-1])); print(r['summary']['cases'], r['summary']['errors'], r['duration_ms'], r['verdict']['status'])"; }
now() { date +%s%N; }

echo "== 1. 1,000 cases, 50 ms latency, -j 50"
start_fake --latency-ms 50
workspace 1000 "fake: { type: openai, base_url: \"$URL/v1\", max_in_flight: 50, timeout_s: 10 }"
s=$(now); "$P" -C "$WORK/ws" eval bench -j 50 --no-cache > /dev/null 2>&1; e=$(now)
read -r n errors ms status <<< "$(duration)"
printf "cases %s, errors %s, %s; runner %.3f s (%.3fx ideal 1.0 s); wall %.3f s\n" "$n" "$errors" "$status" "$(echo "$ms/1000" | bc -l)" "$(echo "$ms/1000" | bc -l)" "$(echo "($e-$s)/1000000000" | bc -l)"
stop_fake

echo "== 2. rps 20 against a server that enforces 20/s (200 cases)"
start_fake --latency-ms 20 --rps-limit 20
workspace 200 "fake: { type: openai, base_url: \"$URL/v1\", max_in_flight: 50, rps: 20, timeout_s: 10, retries: 0 }"
"$P" -C "$WORK/ws" eval bench -j 50 --no-cache > /dev/null 2>&1 || true
read -r n errors ms status <<< "$(duration)"
# n requests spaced 1/rps apart span (n-1)/rps seconds, plus one answer's latency.
printf "cases %s, errors %s, %s; achieved %.2f req/s over %.3f s (first to last request: (n-1)/(t - 0.02 s))\n" "$n" "$errors" "$status" "$(echo "($n-1)/($ms/1000-0.02)" | bc -l)" "$(echo "$ms/1000" | bc -l)"
stop_fake

echo "== 3. echo: 100,000 cases"
workspace 100000 "fake: { type: echo }"
/usr/bin/time -v "$P" -C "$WORK/ws" eval bench -j 64 --no-cache > /dev/null 2> "$WORK/time.txt" || true
read -r n errors ms status <<< "$(duration)"
rss=$(awk -F: '/Maximum resident/ {print $2}' "$WORK/time.txt")
wall=$(awk '/Elapsed \(wall clock\)/ {print $NF}' "$WORK/time.txt")
printf "cases %s, errors %s, %s; runner %.2f s = %.0f cases/s; wall %s; peak RSS %.1f MB\n" "$n" "$errors" "$status" "$(echo "$ms/1000" | bc -l)" "$(echo "$n/($ms/1000)" | bc -l)" "$wall" "$(echo "$rss/1024" | bc -l)"
