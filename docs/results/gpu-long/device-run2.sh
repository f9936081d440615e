#!/bin/bash
# Second device run: the long GUE run on CUDA in the background, CLI smoke tests on CUDA beside it.
source "$(dirname "$0")/setup.sh"
D="--data-dir .dev/fm"
RESERVE=75
# --- long run (background): cpu/table1's GUE setting, 250 epochs of 40 steps, proxy victim every 1000 steps
(
  s=$(date +%s)
  node bin/gue.js train --out /tmp/long --device cuda $D --train-size 10000 --epochs 250 --batch-size 256 --surrogate half-cnn --gen-width 16 --path fast --seed 3 --eps 8 --checkpoint-every 60 --proxy-every 1000 --max-steps 200 --json > $L/train.jsonl 2>&1
  rc=$?; dt=$(( $(date +%s) - s )); el "LONG first 200 steps rc=$rc in $dt s"; tail -n 1 $L/train.jsonl | cut -c1-400
  [ $rc -ne 0 ] && exit 1
  ms_per=$(( dt * 1000 / 200 + 1 ))
  while :; do
    n=$(( ( $(left) - RESERVE ) * 1000 / ms_per )); [ $n -gt 1500 ] && n=1500
    [ $n -lt 100 ] && break
    s=$(date +%s); node bin/gue.js train --out /tmp/long --resume --device cuda --max-steps $n --proxy-every 1000 --json >> $L/train.jsonl 2>&1; rc=$?
    dt=$(( $(date +%s) - s )); el "LONG chunk of $n rc=$rc in $dt s"; tail -n 1 $L/train.jsonl | cut -c1-400
    [ $rc -ne 0 ] && break
    tail -n 1 $L/train.jsonl | grep -q '"finished":true' && break
    ms_per=$(( dt * 1000 / n + 1 ))
  done
  el "LONG done"
) &
LONG=$!
# --- smoke tests on CUDA (small: 1024 images), each with a time limit; rc 124 = still running at the limit
S="--device cuda $D --train-size 1024"
sm() { local name=$1; shift; timeout ${TL:-60} "$@" > $L/smoke-$name.log 2>&1; local rc=$?; el "smoke $name rc=$rc $(tail -n 1 $L/smoke-$name.log | cut -c1-220)"; }
sm train node bin/gue.js train --out /tmp/s-run $S --epochs 1 --max-steps 4 --json
sm train-at node bin/gue.js train --out /tmp/s-at $S --game at --epochs 1 --max-steps 2 --json
sm poison node bin/gue.js poison --generator /tmp/s-run --out /tmp/s-pz $S --json
for d in none mixup cutmix cutout jpeg bitdepth blur; do sm eval-$d node bin/gue.js evaluate --data /tmp/s-pz $S --epochs 1 --defense $d --json; done
sm eval-at node bin/gue.js evaluate --data /tmp/s-pz $S --epochs 1 --at pgd --at-steps 3 --robust-eval --json
sm eval-trades node bin/gue.js evaluate --data /tmp/s-pz $S --epochs 1 --at trades --at-steps 3 --json
for m in random em-sample em-class tap lsp ar deepconfuse shortcutgen rem; do
  TL=45 sm attack-$m node bin/gue.js attack --method $m --out /tmp/s-a-$m $S --json &
done; wait $(jobs -p | grep -v "^$LONG$") 2>/dev/null
el "smoke done; waiting for the long run"
wait $LONG
node bin/gue.js poison --generator /tmp/long --out /tmp/pz $D --train-size 10000 --device cuda --json > $L/poison.log 2>&1; el "poison rc=$? $(tail -n 1 $L/poison.log | cut -c1-200)"
for w in pz clean; do
  src="--data /tmp/pz"; [ $w = clean ] && src="--clean"
  node bin/gue.js evaluate $src $D --train-size 10000 --epochs 8 --milestones 6,7 --device cuda --out /tmp/ev-$w --json > $L/eval-$w.log 2>&1; el "eval $w rc=$? $(tail -n 1 $L/eval-$w.log | cut -c1-300)"
done
cat /tmp/long/proxy.jsonl 2>/dev/null | cut -c1-250
cp -r /tmp/ev-pz /tmp/ev-clean $L/ 2>/dev/null
tar -cf $OUT/long.tar -C /tmp long/generator.safetensors long/generator.json long/options.json long/metrics.jsonl long/proxy.jsonl long/summary.json L 2>&1 | head -3
el "done"; ls -la $OUT
