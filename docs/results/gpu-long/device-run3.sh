#!/bin/bash
# Third device run: the RNG fix, then the long GUE run on CUDA (resumed in chunks), then poison + victims.
set -u
exec > >(tee -a $OUT/log.txt) 2>&1
T0=$(date +%s); el() { echo "[$(( $(date +%s) - T0 )) s] $*"; }
BUDGET=${BUDGET:-540}
left() { echo $(( T0 + BUDGET - $(date +%s) )); }
L=/tmp/L; mkdir -p $L
K=/tmp/kit; mkdir -p $K/bin
xz -dc .dev/node.xz > $K/bin/node && chmod +x $K/bin/node; export PATH=$K/bin:$PATH
tar -xJf .dev/dist.tar.xz
mkdir -p node_modules && cp -r .dev/nm/* node_modules/
export LIBTORCH=$(python3 -c 'import torch,os;print(os.path.dirname(torch.__file__))')
FL="node scripts/find-libtorch.mjs"; mkdir -p native/build/Release
g++ -std=c++17 -O2 -fPIC -shared -fexceptions -frtti -Wno-deprecated-declarations -DNAPI_VERSION=8 -DNAPI_CPP_EXCEPTIONS -DNODE_ADDON_API_DISABLE_DEPRECATED -DBUILDING_NODE_EXTENSION \
  -I.dev/nodeinc -Inode_modules/node-addon-api $($FL include | tr ' ' '\n' | sed 's/^/-I/') $($FL cflags) \
  native/src/binding.cc -o native/build/Release/gue_native.node $($FL ldflags) $($FL libs) > $L/build.log 2>&1
el "build rc=$?"
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
