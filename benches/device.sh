#!/bin/sh
# oddity against the PyTorch baseline on a lent GPU, in one device call, so both figures come
# from the same machine and the same minutes (machines are shared and noisy).
#
# On your machine, once:   ../shared/gpu/prepare.sh && cargo build --release \
#                          && mkdir -p .bench && cp ../shared/bench/*.py .bench/
# Then the device tool:    run  command: sh benches/device.sh
#                               carry:   [".gl", "target/release/oddity", ".bench"]
#
# Runs oddity's bench (the paper's configuration: 60000 x 784, DAE_uai 784-256-64-8, batch 256,
# 5000 pretrain steps, k 10, 100 steps per round, budget 1000) beside its PyTorch peers,
# ROUNDS times (default 2), and writes every JSON line to $OUT (or ./oddity-device). The first
# round runs oddity five ways: f32 data with the default GEMM kernels (--gemm auto), f32 with
# the tiled kernels only (--gemm tiled: no sliced K, no 128x128 tiles; the reference for what
# those kernels change), f32 with each product's kernel timed on the device (--gemm tuned,
# which also sweeps every GEMM kernel over every product: --sweep 20), f16 data with the
# default kernels, and f32 auto with ODDITY_SUBGROUPS=off (the reductions' workgroup trees);
# then eager PyTorch (torch_uai.py), PyTorch whose step is one CUDA graph
# (torch_uai_graph.py, the peer to beat; FP32, then with --tf32) and cuBLAS's time for each
# of the step's GEMM products (gemm_floor.py). Later rounds repeat what the comparison rests
# on: oddity f32 and f16 auto and the CUDA-graph peer in FP32. Not yet timed on a GPU as a
# whole (estimated from the figures in ../shared/GPU.md at about four minutes for two
# rounds).
# `oddity bench` flags can be added after the script's name, e.g. `sh benches/device.sh --profile 1`.
#
# The device tool brings back at most 8 files, so $OUT gets two: summary.jsonl (every run's
# last line, in order, each prefixed by its name) and oddity-device.tgz (every output and log).
set -e
. .gl/activate.sh
out=${OUT:-oddity-device}
raw="$out/raw"
mkdir -p "$raw"
bin=target/release/oddity
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
# DA3D=1: also one seed of DA3D, its simple variant and A3 on Fashion-MNIST 0-4 against 5-9
# at the paper's batch and rate, 100 epochs a phase (estimated, not yet timed: a few minutes
# each on an H100; Fashion-MNIST must be under /usr/share/datasets/fashion-mnist there).
if [ "${DA3D:-0}" = 1 ]; then
    record "da3d-fmnist" "$bin" repro da3d --datasets fmnist --seeds 1 --pollution 0 \
        --models da3d,da3d-simple,a3 --json
fi
tar -C "$out" -czf "$out/oddity-device.tgz" raw
rm -rf "$raw"
