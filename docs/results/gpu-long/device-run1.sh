#!/bin/bash
# Device check for gue's CUDA path. Runs in the repo root of the device machine; results under $OUT
# (log.txt: everything; L/: full logs, tarred into $OUT/long.tar at the end with the long run).
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
el "node $(node -v) cores $(nproc)"; nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader
export LIBTORCH=$(python3 -c 'import torch,os;print(os.path.dirname(torch.__file__))')
python3 -c 'import torch;print("torch",torch.__version__,"cuda",torch.version.cuda,torch.cuda.is_available(),"cxx11abi",torch.compiled_with_cxx11_abi())'
FL="node scripts/find-libtorch.mjs"
mkdir -p native/build/Release
build() { g++ -std=$1 -O2 -fPIC -shared -fexceptions -frtti -Wno-deprecated-declarations -DNAPI_VERSION=8 -DNAPI_CPP_EXCEPTIONS -DNODE_ADDON_API_DISABLE_DEPRECATED -DBUILDING_NODE_EXTENSION \
  -I.dev/nodeinc -Inode_modules/node-addon-api $($FL include | tr ' ' '\n' | sed 's/^/-I/') $($FL cflags) \
  native/src/binding.cc -o native/build/Release/gue_native.node $($FL ldflags) $($FL libs) > $L/build-$1.log 2>&1; }
build c++17; rc=$?; el "build c++17 rc=$rc"; tail -5 $L/build-c++17.log
if [ $rc -ne 0 ]; then build c++20; el "build c++20 rc=$?"; tail -5 $L/build-c++20.log; fi
node bin/gue.js info 2>&1
timeout 100 node .dev/cudacheck.mjs 2>&1; el "cudacheck done"
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
