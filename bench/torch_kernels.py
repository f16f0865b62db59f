"""PyTorch CPU figures for the same kernels as bench/compare.bench.ts (same shapes, float32).

Usage: /usr/bin/python3 bench/torch_kernels.py [THREADS]   → prints one JSON object per line:
{"task": ..., "impl": "pytorch-cpu-<n>t", "ms": ..., "gflops": ...}
"""
import json
import os
import sys
import time

import torch

threads = int(sys.argv[1]) if len(sys.argv) > 1 else 1
torch.set_num_threads(threads)
torch.manual_seed(0)


def bench(fn, min_time=1.0):
    fn()
    n, t0 = 0, time.perf_counter()
    while time.perf_counter() - t0 < min_time:
        fn()
        n += 1
    return (time.perf_counter() - t0) / n * 1e3


def report(task, ms, flops):
    print(json.dumps({"task": task, "impl": f"pytorch {torch.__version__} CPU {threads} thread(s) (OpenBLAS: {os.environ.get('OPENBLAS_NUM_THREADS', 'all cores')})", "ms": ms, "gflops": flops / ms / 1e6}), flush=True)


with torch.no_grad():
    for n in (256, 512, 1024):
        a, b = torch.randn(n, n), torch.randn(n, n)
        report(f"matmul {n}x{n}x{n}", bench(lambda: a @ b), 2 * n**3)
    # attention block: B=32, H=4, N=60 tokens, head dim 32 (the tiny preset's size class)
    B, H, N, dh = 32, 4, 60, 32
    q, k, v = (torch.randn(B, H, N, dh) for _ in range(3))
    att = lambda: torch.softmax(q @ k.transpose(-1, -2) * dh**-0.5, -1) @ v
    report(f"attention B{B} H{H} N{N} d{dh}", bench(att), 4 * B * H * N * N * dh + 5 * B * H * N * N)
    x = torch.randn(2048, 192)
    ln = torch.nn.LayerNorm(192, eps=1e-6)
    report("layer_norm [2048,192]", bench(lambda: ln(x)), 7 * x.numel())
    report("softmax [2048,192]", bench(lambda: torch.softmax(x, -1)), 5 * x.numel())
