#!/usr/bin/env bash
# Side-by-side benchmark (issue 11, item 8). Prints the numbers quoted in the
# issue note.
#
#   bench/compare.sh [ROUNDS]     # default 3 rounds; the median is reported
#
# Two fake servers (bench/fake_server.rs): `fast` answering in 50 ms and
# `slow` in 60 ms, each provider with max_in_flight 50. 1,000 cases at -j 50:
# `slow` alone (ideal 1,000 x 60 ms / 50 = 1.2 s), then `fast` and `slow` side
# by side (`--provider fast --provider slow`). Target: the pair costs no more
# wall time than the slower alone plus 10 % (ratio <= 1.10). Wall time is the
# command's, from process start to exit; the runner time is each run file's
# own `duration_ms`.
set -euo pipefail
cd "$(dirname "$0")/.."
ROUNDS=${1:-3}
cargo build --release --quiet --example fake_server
cargo build --release --quiet
P="$PWD/target/release/promptctl"
FAKE="$PWD/target/release/examples/fake_server"
WORK=$(mktemp -d)
PIDS=()
trap 'for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done; rm -rf "$WORK"' EXIT
export NO_COLOR=1 GIT_CEILING_DIRECTORIES="$WORK"
unset HTTP_PROXY HTTPS_PROXY ALL_PROXY http_proxy https_proxy all_proxy
export NO_PROXY=127.0.0.1,localhost

start_fake() { # name latency-ms
  "$FAKE" --latency-ms "$2" > "$WORK/$1.url" 2> "$WORK/$1.err" < /dev/null &
  PIDS+=($!)
  until [ "$(wc -l < "$WORK/$1.url" 2>/dev/null || echo 0)" -ge 1 ]; do sleep 0.02; done
  head -1 "$WORK/$1.url"
}
FAST=$(start_fake fast 50)
SLOW=$(start_fake slow 60)

mkdir -p "$WORK/ws/prompts/bench" "$WORK/ws/evals"
cat > "$WORK/ws/promptctl.yaml" <<YAML
providers:
  fast: { type: openai, base_url: "$FAST/v1", max_in_flight: 50, timeout_s: 10 }
  slow: { type: openai, base_url: "$SLOW/v1", max_in_flight: 50, timeout_s: 10 }
YAML
cat > "$WORK/ws/prompts/bench/prompt.yaml" <<'YAML'
name: bench
model: { provider: slow, name: gpt-4o-mini, temperature: 0 }
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
import json
with open('$WORK/ws/evals/bench.cases.jsonl','w') as f:
    for i in range(1000): f.write(json.dumps({'id':f'c{i}','vars':{'q':f'question {i}'}})+'\n')
"

now() { date +%s%N; }
# Runs `eval bench ARGS` and prints its wall time in seconds; the run files'
# runner times go to $WORK/runner.
timed() {
  rm -rf "$WORK/ws/.promptctl/runs"
  local s e
  s=$(now)
  "$P" -C "$WORK/ws" eval bench -j 50 --no-cache "$@" > /dev/null 2> "$WORK/eval.err" || {
    cat "$WORK/eval.err" >&2; exit 1; }
  e=$(now)
  python3 -c "
import json,glob
for p in sorted(glob.glob('$WORK/ws/.promptctl/runs/*.json')):
    r=json.load(open(p)); s=r['summary']
    assert s['cases']==1000 and s['errors']==0, (p, s['cases'], s['errors'])
    print(r['provider']['name'], '%.3f' % (r['duration_ms']/1000))
" > "$WORK/runner"
  echo "($e-$s)/1000000000" | bc -l
}
median() { sort -g | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }

alone=(); pair=()
for i in $(seq "$ROUNDS"); do
  a=$(timed --provider slow); ra=$(tr '\n' ' ' < "$WORK/runner")
  b=$(timed --provider fast --provider slow); rb=$(tr '\n' ' ' < "$WORK/runner")
  printf "round %d: slow alone %.3f s (runner: %s); fast + slow side by side %.3f s (runner: %s)\n" "$i" "$a" "$ra" "$b" "$rb"
  alone+=("$a"); pair+=("$b")
done
A=$(printf '%s\n' "${alone[@]}" | median)
B=$(printf '%s\n' "${pair[@]}" | median)
printf "== median of %d: slow alone %.3f s, side by side %.3f s, ratio %.3f (target <= 1.10)\n" "$ROUNDS" "$A" "$B" "$(echo "$B/$A" | bc -l)"
