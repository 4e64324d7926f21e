#!/usr/bin/env bash
# Environment benchmarks (issue 4). Prints the numbers quoted in the issue notes.
#
#   bench/deploy.sh
#
# `rollback` in a workspace with 500 released versions and 10,000 history
# entries (target <= 10 ms); `resolve` throughput in-process (target
# >= 1,000,000 keys/s) is measured by `cargo bench --bench resolve`.
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
echo "== writing 10,000 history entries (in the line form promptctl writes)"
python3 - <<'PY'
import glob, os, re
versions = sorted((tuple(map(int, os.path.basename(d).split("."))) for d in glob.glob("prompts/bench/versions/*.*.*")))
digest = {}
for v in versions:
    s = ".".join(map(str, v))
    m = open(f"prompts/bench/versions/{s}/manifest.yaml").read()
    digest[s] = re.search(r"^digest: (.*)$", m, re.M).group(1)
names = [".".join(map(str, v)) for v in versions]
import json
lines = ["environments:", "  production:", f"    active: {names[-1]}", "history:"]
prev = None
for i in range(10000):
    v = names[min(i * len(names) // 10000, len(names) - 1)]
    e = {"at": "2026-11-21T10:00:00Z", "env": "production", "action": "promote", "version": v}
    if prev: e["from"] = prev
    e.update({"by": "bench", "digest": digest[v]})
    lines.append("- " + json.dumps(e, separators=(",", ":")))
    prev = v
open("prompts/bench/releases.yaml", "w").write("\n".join(lines) + "\n")
PY
cp prompts/bench/releases.yaml "$WORK/releases.orig"
echo "== rollback (20 runs, each from the same 10,000-entry file)"
for _ in $(seq 20); do
  cp "$WORK/releases.orig" prompts/bench/releases.yaml
  s=$(now); "$P" rollback bench --env production --reason bench > /dev/null; e=$(now)
  echo $(( (e-s)/1000 ))
done | median | awk '{printf "median %.2f ms (whole process, verify of the target included)\n", $1/1000}'
grep -c "^- {" prompts/bench/releases.yaml | awk '{print "history entries after the last rollback:", $1}'
