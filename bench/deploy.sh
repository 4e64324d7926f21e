#!/usr/bin/env bash
# Environment benchmarks (issue 4). Prints the numbers quoted in the issue notes.
#
#   bench/deploy.sh
#
# `rollback` in a workspace with 500 released versions and 10,000 history
# entries in history.jsonl (target <= 10 ms), and for comparison the first
# rollback of a 10,000-entry file in the older inline layout, which migrates
# it. `resolve` throughput in-process (target >= 1,000,000 keys/s) is
# measured by `cargo bench --bench resolve`.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release --quiet
P="$PWD/target/release/promptctl"
WORK=$(mktemp -d)
[ -n "${KEEP:-}" ] && echo "keeping $WORK" || trap 'rm -rf "$WORK"' EXIT
export GIT_CEILING_DIRECTORIES="$WORK" NO_COLOR=1 PROMPTCTL_USER=bench

now() { date +%s%N; }
median() { sort -n | awk '{a[NR]=$1} END {print (NR%2 ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2)}'; }

cd "$WORK"
cat > promptctl.yaml <<'YAML'
providers: { echo: { type: echo } }
environments: { production: {} }
YAML
mkdir -p prompts/bench
cat > prompts/bench/prompt.yaml <<'YAML'
name: bench
model: { provider: echo, name: echo }
messages:
  - { role: system, file: system.md }
  - { role: user, template: "{{q}}" }
variables:
  q: { type: string, required: true }
YAML
echo "## Identity & role" > prompts/bench/system.md
echo "== releasing 500 versions"
for v in $(seq 1 500); do
  echo "Rule $v." >> prompts/bench/system.md
  "$P" release bench --bump patch -m "v$v" > /dev/null
done
# A file in the layout from before history.jsonl: N entries inline, in the
# line form promptctl wrote, promoting the 500 versions in order.
legacy() {
python3 - "$1" <<'PY'
import glob, json, os, re, sys
n = int(sys.argv[1])
versions = sorted(tuple(map(int, os.path.basename(d).split("."))) for d in glob.glob("prompts/bench/versions/*.*.*"))
names = [".".join(map(str, v)) for v in versions]
digest = {}
for s in names:
    m = open(f"prompts/bench/versions/{s}/manifest.yaml").read()
    digest[s] = re.search(r"^digest: (.*)$", m, re.M).group(1)
lines = ["environments:", "  production:", f"    active: {names[-1]}", "history:"]
prev = None
for i in range(n):
    v = names[min(i * len(names) // n, len(names) - 1)]
    e = {"at": "2026-11-21T10:00:00Z", "env": "production", "action": "promote", "version": v}
    if prev: e["from"] = prev
    e.update({"by": "bench", "digest": digest[v]})
    lines.append("- " + json.dumps(e, separators=(",", ":")))
    prev = v
open("prompts/bench/releases.yaml", "w").write("\n".join(lines) + "\n")
PY
}
entries() { awk '/^  entries:/ {print $2}' prompts/bench/releases.yaml; }
LAST=$(ls prompts/bench/versions | sort -V | tail -1)

echo "== 10,000 entries in history.jsonl, made by promptctl (9,998 inline, a migrating rollback, a promote)"
legacy 9998
"$P" rollback bench --env production --reason setup > /dev/null
"$P" promote "bench@$LAST" --env production --skip-gate --reason setup > /dev/null
cp prompts/bench/releases.yaml "$WORK/releases.orig"
cp prompts/bench/history.jsonl "$WORK/history.orig"
echo "entries: $(entries); releases.yaml $(wc -c < prompts/bench/releases.yaml) bytes, history.jsonl $(wc -c < prompts/bench/history.jsonl) bytes"

echo "== rollback (20 runs, each from the same state)"
for _ in $(seq 20); do
  cp "$WORK/releases.orig" prompts/bench/releases.yaml
  cp "$WORK/history.orig" prompts/bench/history.jsonl
  s=$(now); "$P" rollback bench --env production --reason bench > /dev/null; e=$(now)
  echo $(( (e-s)/1000 ))
done | median | awk '{printf "median %.2f ms (whole process, verify of the target included)\n", $1/1000}'
echo "history entries after the last rollback: $(entries)"

echo "== first rollback of a 10,000-entry inline file, which migrates it (20 runs)"
legacy 10000
cp prompts/bench/releases.yaml "$WORK/legacy.orig"
for _ in $(seq 20); do
  cp "$WORK/legacy.orig" prompts/bench/releases.yaml
  rm -f prompts/bench/history.jsonl
  s=$(now); "$P" rollback bench --env production --reason bench > /dev/null; e=$(now)
  echo $(( (e-s)/1000 ))
done | median | awk '{printf "median %.2f ms (once per prompt; whole process)\n", $1/1000}'
echo "history entries after the migration: $(entries)"
