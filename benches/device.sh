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
# over every product (--sweep 20: which kernel is fastest for each, on this GPU), and the first
# round adds f32 auto with ODDITY_SUBGROUPS=off (the reductions' workgroup trees: what the
# subgroup kernels change).
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
i=1
while [ "$i" -le "${ROUNDS:-2}" ]; do
    for run in f32-auto f32-tiled f32-tuned f16-auto f32-auto-nosg; do
        p=$(echo "$run" | cut -d- -f1)
        g=$(echo "$run" | cut -d- -f2)
        sg=on
        case $run in
            *-nosg) [ "$i" -eq 1 ] || continue; sg=off ;;
        esac
        sweep=0
        if [ "$run" = f32-tuned ] && [ "$i" -eq 1 ]; then sweep=20; fi
        ODDITY_SUBGROUPS=$sg "$bin" bench --json --precision "$p" --gemm "$g" --sweep "$sweep" "$@" \
            > "$raw/oddity-$run-$i.txt" 2> "$raw/oddity-$run-$i.err"
        echo "oddity-$run-$i $(tail -n 1 "$raw/oddity-$run-$i.txt")" | tee -a "$out/summary.jsonl"
    done
    python3 .bench/torch_uai.py > "$raw/torch-$i.json" 2> "$raw/torch-$i.err"
    echo "torch-$i $(tail -n 1 "$raw/torch-$i.json")" | tee -a "$out/summary.jsonl"
    i=$((i + 1))
done
tar -C "$out" -czf "$out/oddity-device.tgz" raw
rm -rf "$raw"
