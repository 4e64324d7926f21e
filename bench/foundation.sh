#!/usr/bin/env bash
# Foundation benchmarks (issue 2). Prints the numbers quoted in the issue notes.
#
#   bench/foundation.sh            # builds --release, then measures
#
# Targets: `verify` over 1,000 versions x 3 files <= 0.3 s; `--version` <= 5 ms;
# `release` of one version <= 20 ms. Times are wall-clock, median of N runs,
# measured with `date +%s%N` around the real binary (no hyperfine needed).
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release --quiet
P="$PWD/target/release/promptctl"
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
export GIT_CEILING_DIRECTORIES="$WORK" NO_COLOR=1

now() { date +%s%N; }
# median of the numbers on stdin
median() { sort -n | awk '{a[NR]=$1} END {print (NR%2 ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2)}'; }

echo "== promptctl --version (200 runs)"
for _ in $(seq 200); do s=$(now); "$P" --version >/dev/null; e=$(now); echo $(( (e-s)/1000 )); done \
  | median | awk '{printf "median %.2f ms\n", $1/1000}'

echo "== generate: 10 prompts x 100 versions x 3 files, by real releases"
cd "$WORK"
cat > promptctl.yaml <<'YAML'
providers: { echo: { type: echo } }
YAML
for p in $(seq -w 0 9); do
  d="prompts/bench_$p"; mkdir -p "$d"
  cat > "$d/prompt.yaml" <<YAML
name: bench_$p
model: { provider: echo, name: echo, temperature: 0 }
messages:
  - { role: system, file: system.md }
  - { role: user, template: "{{question}}" }
variables:
  question: { type: string, required: true }
output_schema: output.schema.json
YAML
  echo '{"type":"object","properties":{"answer":{"type":"string"}}}' > "$d/output.schema.json"
  echo "## Identity & role" > "$d/system.md"
done
: > "$WORK/release_us.txt"
for v in $(seq 1 100); do
  for p in $(seq -w 0 9); do
    echo "Rule $v: answer in at most $v sentences." >> "prompts/bench_$p/system.md"
    s=$(now); "$P" release "bench_$p" --bump patch -m "rule $v" >/dev/null; e=$(now)
    echo $(( (e-s)/1000 )) >> "$WORK/release_us.txt"
  done
done
find prompts -path '*/versions/*' -type f ! -name manifest.yaml | wc -l | awk '{print "frozen files (excluding manifests):", $1}'
echo "== release of one version (1,000 releases, into a prompt with 0..99 earlier versions)"
median < "$WORK/release_us.txt" | awk '{printf "median %.2f ms\n", $1/1000}'
sort -n "$WORK/release_us.txt" | awk '{a[NR]=$1} END {printf "p95    %.2f ms\n", a[int(NR*0.95)]/1000}'

echo "== verify: 1,000 versions (10 runs)"
"$P" verify >/dev/null 2>&1
for _ in $(seq 10); do s=$(now); "$P" verify >/dev/null 2>&1; e=$(now); echo $(( (e-s)/1000 )); done \
  | median | awk '{printf "median %.1f ms\n", $1/1000}'
