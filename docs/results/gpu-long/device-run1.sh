#!/bin/bash
# Device check for gue's CUDA path. Runs in the repo root of the device machine; results under $OUT
# (log.txt: everything; L/: full logs, tarred into $OUT/long.tar at the end with the long run).
source "$(dirname "$0")/setup.sh"
node bin/gue.js info 2>&1
timeout 100 node docs/results/gpu-long/cudacheck.mjs 2>&1; el "cudacheck done"
GUE_NUM_THREADS=8 timeout 150 node --test --test-concurrency=4 dist/test/nn.test.js dist/test/engine-errors.test.js dist/test/engine-dtype.test.js dist/test/game.test.js > $L/tests.log 2>&1
el "tests rc=$?"; grep -E "^# (tests|pass|fail|skipped)|^not ok|round trip|cuda" $L/tests.log | head -20
GUE_BENCH_PYTHON=$(command -v python3) timeout 120 node dist/bench/gue.js --device cuda --seconds 4 --settings fmnist_smallcnn,cifar_resnet18_w64 > $L/bench.txt 2>&1
el "bench rc=$?"; tail -9 $L/bench.txt
# Long GUE run on the cpu/table1 setting (first 10k Fashion-MNIST images, ε 8/255, half-cnn surrogate, width 16)
# in chunks of --max-steps, resumed while time is left; a proxy victim every 1000 steps.
s=$(date +%s)
node bin/gue.js train --out /tmp/long --device cuda --data-dir .dev/fm --train-size 10000 --epochs 250 --batch-size 256 --surrogate half-cnn --gen-width 16 --path fast --seed 3 --eps 8 --checkpoint-every 60 --proxy-every 1000 --max-steps 200 --json > $OUT/train.jsonl 2>&1
el "first 200 steps rc=$? in $(( $(date +%s) - s )) s"; tail -n 1 $OUT/train.jsonl
per=$(( $(date +%s) - s ))
while [ $(left) -gt $(( per * 5 + 75 )) ]; do
  s=$(date +%s); node bin/gue.js train --out /tmp/long --resume --device cuda --max-steps 1000 --proxy-every 1000 --json >> $OUT/train.jsonl 2>&1; rc=$?
  el "chunk rc=$rc $(( $(date +%s) - s )) s"; tail -n 1 $OUT/train.jsonl; [ $rc -ne 0 ] && break
  tail -n 1 $OUT/train.jsonl | grep -q '"finished":true' && break
done
node bin/gue.js poison --generator /tmp/long --out /tmp/pz --data-dir .dev/fm --train-size 10000 --device cuda --json 2>&1 | tail -n 1; el "poison"
for w in pz clean; do
  src="--data /tmp/pz"; [ $w = clean ] && src="--clean"
  node bin/gue.js evaluate $src --data-dir .dev/fm --train-size 10000 --epochs 8 --milestones 6,7 --device cuda --out /tmp/ev-$w --json > $L/eval-$w.log 2>&1; el "eval $w rc=$?"; tail -n 1 $L/eval-$w.log
done
cat /tmp/long/proxy.jsonl 2>/dev/null | cut -c1-300
tar -cf $OUT/long.tar -C /tmp long/generator.safetensors long/generator.json long/options.json long/metrics.jsonl long/proxy.jsonl long/summary.json ev-pz ev-clean L 2>&1 | head -3
el "done"; ls -la $OUT
