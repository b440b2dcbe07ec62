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
# ROUNDS times each (default 2), with the dataset stored as f32 and then as f16, and writes
# every JSON line to $OUT (or ./oddity-device).
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
    for p in f32 f16; do
        "$bin" bench --json --precision "$p" "$@" > "$out/oddity-$p-$i.txt" 2> "$out/oddity-$p-$i.err"
        tail -n 1 "$out/oddity-$p-$i.txt"
    done
    python3 .bench/torch_uai.py > "$out/torch-$i.json" 2> "$out/torch-$i.err"
    cat "$out/torch-$i.json"
    i=$((i + 1))
done
