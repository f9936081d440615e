#!/bin/bash
# Third device run: the RNG fix, then the long GUE run on CUDA (resumed in chunks), then poison + victims.
source "$(dirname "$0")/setup.sh"
D="--data-dir .dev/fm"
RESERVE=50
s=$(date +%s)
node bin/gue.js train --out /tmp/long --device cuda $D --train-size 10000 --epochs 250 --batch-size 256 --surrogate half-cnn --gen-width 16 --path fast --seed 3 --eps 8 --checkpoint-every 60 --proxy-every 1000 --max-steps 200 --json > $L/train.jsonl 2>&1
rc=$?; dt=$(( $(date +%s) - s )); el "LONG first 200 steps rc=$rc in $dt s"; tail -n 1 $L/train.jsonl | cut -c1-300
node --test dist/test/engine-rng.test.js > $L/rng.log 2>&1; el "rng test rc=$? $(grep -E '^# (pass|fail|skipped)' $L/rng.log | tr '\n' ' ')"
ms_per=$(( dt * 1000 / 200 + 1 ))
while [ $rc -eq 0 ]; do
  n=$(( ( $(left) - RESERVE ) * 1000 / ms_per )); [ $n -gt 3000 ] && n=3000
  [ $n -lt 100 ] && break
  s=$(date +%s); node bin/gue.js train --out /tmp/long --resume --device cuda --max-steps $n --json >> $L/train.jsonl 2>&1; rc=$?
  dt=$(( $(date +%s) - s )); el "LONG chunk of $n rc=$rc in $dt s"; tail -n 1 $L/train.jsonl | cut -c1-300
  [ $rc -ne 0 ] && break
  tail -n 1 $L/train.jsonl | grep -q '"finished":true' && break
  ms_per=$(( dt * 1000 / n + 1 ))
done
node bin/gue.js poison --generator /tmp/long --out /tmp/pz $D --train-size 10000 --device cuda --json > $L/poison.log 2>&1; el "poison rc=$? $(tail -n 1 $L/poison.log | cut -c1-200)"
node bin/gue.js evaluate --data /tmp/pz $D --train-size 10000 --epochs 8 --milestones 6,7 --device cuda --out /tmp/ev-pz --json > $L/eval-pz.log 2>&1; el "eval pz rc=$? $(tail -n 1 $L/eval-pz.log | cut -c1-300)"
cut -c1-200 /tmp/long/proxy.jsonl 2>/dev/null
cp -r /tmp/ev-pz $L/ 2>/dev/null
tar -cf $OUT/long.tar -C /tmp long/generator.safetensors long/generator.json long/options.json long/metrics.jsonl long/proxy.jsonl long/summary.json long/checkpoint.json long/checkpoint.safetensors L 2>&1 | head -3
el "done"; ls -la $OUT
