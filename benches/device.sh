#!/bin/sh
# oddity against the PyTorch baseline on a lent GPU, in one device call, so both figures come
# from the same machine and the same minutes (machines are shared and noisy).
#
# On your machine, once:   ../shared/gpu/prepare.sh && cargo build --release \
#                          && mkdir -p .bench && cp ../shared/bench/torch_uai.py .bench/
# Then the device tool:    run  command: sh benches/device.sh
#                               carry:   [".gl", "target/release/oddity", ".bench/torch_uai.py"]
#
# Runs oddity's bench (the paper's configuration: 60000 x 784, DAE_uai 784-256-64-8, batch 256,
# 5000 pretrain steps, k 10, 100 steps per round, budget 1000) and torch_uai.py alternately,
# ROUNDS times each (default 2), and writes every JSON line to $OUT (or ./oddity-device). Each
# round runs oddity four ways: f32 data with the default GEMM kernels (--gemm auto), f32 with
# the tiled kernels only (--gemm tiled: no sliced K, no 128x128 tiles; the reference for what
# those kernels change), f32 with each product's kernel timed on the device (--gemm tuned), and
# f16 data with the default kernels. The first round's tuned run also sweeps every GEMM kernel
# over every product (--sweep 20: which kernel is fastest for each, on this GPU).
# `oddity bench` flags can be added after the script's name, e.g. `sh benches/device.sh --profile 1`.
set -e
. .gl/activate.sh
out=${OUT:-oddity-device}
mkdir -p "$out"
bin=target/release/oddity
nvidia-smi --query-gpu=name,driver_version,clocks.max.sm,memory.total --format=csv \
    > "$out/gpu.csv" 2>&1 || true
"$bin" info --json > "$out/info.json" 2> "$out/info.err"
i=1
while [ "$i" -le "${ROUNDS:-2}" ]; do
    for run in f32-auto f32-tiled f32-tuned f16-auto; do
        p=${run%-*}
        g=${run#*-}
        sweep=0
        if [ "$run" = f32-tuned ] && [ "$i" -eq 1 ]; then sweep=20; fi
        "$bin" bench --json --precision "$p" --gemm "$g" --sweep "$sweep" "$@" \
            > "$out/oddity-$run-$i.txt" 2> "$out/oddity-$run-$i.err"
        tail -n 1 "$out/oddity-$run-$i.txt"
    done
    python3 .bench/torch_uai.py > "$out/torch-$i.json" 2> "$out/torch-$i.err"
    cat "$out/torch-$i.json"
    i=$((i + 1))
done
