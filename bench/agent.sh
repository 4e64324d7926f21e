#!/usr/bin/env bash
# Tool-loop benchmark (issue 11, item 4). Prints the numbers quoted in the
# issue note.
#
#   bench/agent.sh [ROUNDS]       # default 3 rounds; the median is reported
#
# 1,000 cases of three model turns each against the fake server
# (bench/fake_server.rs) answering in 50 ms as an agent (`--agent-turns 3`:
# it calls the tool `lookup` twice, then answers `done after 3 turns`). Each
# case scripts `lookup`'s result, so the runner answers each call and calls
# the model again: 3 calls a case, 3,000 in all. At -j 50 the ideal is
# 1,000 x 3 x 50 ms / 50 = 3.0 s; target: within 1.10 x the ideal. The
# provider's max_in_flight is 50: the default, 16, caps the run at 16 calls
# at once (ideal 9.4 s; measured 9.8 s, peak concurrency 16). Durations are
# the run's own `duration_ms` (the runner, from first call to last result)
# and the command's wall time (process start to exit); the fake server
# reports how many requests it answered and the most it held at once.
set -euo pipefail
cd "$(dirname "$0")/.."
ROUNDS=${1:-3}
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
# Stops the server; its summary line goes to $WORK/fake.json.
stop_fake() { kill "$PID"; wait "$PID" 2>/dev/null || true; PID=; tail -1 "$WORK/fake.err" > "$WORK/fake.json"; }

workspace() { # base-url
  rm -rf "$WORK/ws"; mkdir -p "$WORK/ws/prompts/agent" "$WORK/ws/evals"
  cat > "$WORK/ws/promptctl.yaml" <<YAML
providers:
  fake: { type: openai, base_url: "$1/v1", max_in_flight: 50, timeout_s: 10 }
YAML
  cat > "$WORK/ws/prompts/agent/prompt.yaml" <<'YAML'
name: agent
model: { provider: fake, name: gpt-4o-mini, temperature: 0 }
messages:
  - { role: system, template: "You are an agent. Look things up before you answer." }
  - { role: user, template: "{{q}}" }
variables:
  q: { type: string, required: true }
tools: { file: tools.json }
YAML
  cat > "$WORK/ws/prompts/agent/tools.json" <<'JSON'
[
  {
    "type": "function",
    "function": {
      "name": "lookup",
      "description": "Looks a record up by its id.",
      "parameters": {
        "type": "object",
        "properties": { "id": { "type": "string" } },
        "required": ["id"],
        "additionalProperties": false
      }
    }
  }
]
JSON
  cat > "$WORK/ws/evals/agent.yaml" <<'YAML'
prompt: agent
cases: agent.cases.jsonl
defaults:
  assert:
    - { type: contains, value: "done after 3 turns" }
    - { type: tool_called, value: { name: lookup, times: 2 } }
    - { type: valid_tool_calls }
gates: { pass_rate: 1.0, max_error_rate: 0.0 }
YAML
  python3 -c "
import json
with open('$WORK/ws/evals/agent.cases.jsonl','w') as f:
    for i in range(1000):
        f.write(json.dumps({'id':f'c{i}','vars':{'q':f'question {i}'},
                            'tools':{'lookup':{'id':'x','value':i}}})+'\n')
"
}
now() { date +%s%N; }
median() { sort -g | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }

runner=(); wall=(); requests=(); peak=()
for i in $(seq "$ROUNDS"); do
  start_fake --latency-ms 50 --agent-turns 3
  workspace "$URL"
  s=$(now)
  "$P" -C "$WORK/ws" eval agent -j 50 --no-cache > /dev/null 2> "$WORK/eval.err" || {
    cat "$WORK/eval.err" >&2; exit 1; }
  e=$(now)
  stop_fake
  read -r n errors turns ms status <<< "$(python3 -c "
import json,glob
r=json.load(open(sorted(glob.glob('$WORK/ws/.promptctl/runs/*.json'))[-1])); s=r['summary']
print(s['cases'], s['errors'], sum(c.get('turns', 1) for c in r['cases']), r['duration_ms'], r['verdict']['status'])
")"
  read -r req pk <<< "$(python3 -c "import json; f=json.load(open('$WORK/fake.json')); print(f['requests'], f['peak_concurrency'])")"
  w=$(echo "($e-$s)/1000000000" | bc -l)
  printf "round %d: cases %s, errors %s, model calls %s, %s; runner %.3f s (%.3fx ideal 3.0 s); wall %.3f s (%.3fx); fake: %s requests, peak concurrency %s\n" \
    "$i" "$n" "$errors" "$turns" "$status" "$(echo "$ms/1000" | bc -l)" "$(echo "$ms/3000" | bc -l)" "$w" "$(echo "$w/3" | bc -l)" "$req" "$pk"
  runner+=("$(echo "$ms/1000" | bc -l)"); wall+=("$w"); requests+=("$req"); peak+=("$pk")
done
R=$(printf '%s\n' "${runner[@]}" | median)
W=$(printf '%s\n' "${wall[@]}" | median)
printf "== median of %d: runner %.3f s (%.3fx ideal 3.0 s), wall %.3f s (%.3fx); fake requests %s, peak concurrency %s (target <= 1.10x)\n" \
  "$ROUNDS" "$R" "$(echo "$R/3" | bc -l)" "$W" "$(echo "$W/3" | bc -l)" \
  "$(printf '%s\n' "${requests[@]}" | median)" "$(printf '%s\n' "${peak[@]}" | median)"
