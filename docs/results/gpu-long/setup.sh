#!/bin/bash
# Shared set-up of the device runs (sourced by device-run{1,2,3}.sh; factored out of them after the runs: runs 2
# and 3 had the same commands without the version lines and the C++20 fallback, which run 1 did not need).
# The machine has CUDA, PyTorch and g++ but no Node: the repo's .dev/ (git-ignored, carried) held an xz'd Node 20
# binary, the compiled dist/, node-addon-api's headers, the four N-API headers, stubs for the three npm packages the
# CLI imports but these runs never use (yaml, linkedom, @observablehq/plot), and the first 10k Fashion-MNIST training
# images plus the test set. The binding is built with g++ directly (no node-gyp there) against PyTorch's torch folder
# (LIBTORCH), as scripts/find-libtorch.mjs describes it.
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
