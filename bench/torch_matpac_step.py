"""A PyTorch implementation of one MATPAC training step with the same shapes and FLOPs as
matpac-ts's (models/matpac.ts `trainStep`), for the step-time comparison in
bench/train-step.bench.ts. Reads the MatpacConfig JSON on stdin; prints one JSON line per
thread count: {"impl", "ms_per_step", "steps"}.

Same computation: patch embedding (linear on flattened 16×16 patches) + fixed sin-cos positions,
per-sample random masking (ratio from the config), student ViT on CLS + visible tokens, teacher
ViT (no grad) on CLS + masked tokens, predictor (linear, mask tokens, unshuffle, own positions,
blocks, LayerNorm, linear back), L_pred = 2 − 2 cos, student/teacher heads (3-layer GELU MLP,
L2 normalise, weight-normalised last layer), L_cls with centring and temperatures, total loss,
backward, global-norm clipping 3.0, AdamW, EMA of the teacher encoder and head, centre update.
"""
import ctypes
import json
import math
import os
import sys
import time

import torch
import torch.nn as nn
import torch.nn.functional as F

cfg = json.load(sys.stdin)
threads_list = [int(t) for t in sys.argv[1:]] or [1]


def blas_in_use():
    """The BLAS library this process really loaded (Debian's libblas.so.3 alternative may be the slow
    reference BLAS), and OpenBLAS's kernel set (its CPU detection can pick generic kernels)."""
    with open("/proc/self/maps") as f:
        libs = sorted({line.split()[-1] for line in f if "blas" in line.split()[-1].lower()})
    for lib in libs:
        try:
            core = ctypes.CDLL(lib).openblas_get_corename
            core.restype = ctypes.c_char_p
            return f"OpenBLAS {core().decode()} kernels, {lib}"
        except (OSError, AttributeError):
            pass
    return f"not OpenBLAS: {', '.join(libs) or 'no BLAS library found'}"


class Block(nn.Module):
    def __init__(self, d, heads, ratio, eps):
        super().__init__()
        self.norm1, self.norm2 = nn.LayerNorm(d, eps=eps), nn.LayerNorm(d, eps=eps)
        self.qkv, self.proj = nn.Linear(d, 3 * d), nn.Linear(d, d)
        self.fc1, self.fc2 = nn.Linear(d, ratio * d), nn.Linear(ratio * d, d)
        self.h = heads

    def forward(self, x):
        B, N, D = x.shape
        qkv = self.qkv(self.norm1(x)).reshape(B, N, 3, self.h, D // self.h).permute(2, 0, 3, 1, 4)
        q, k, v = qkv[0], qkv[1], qkv[2]
        a = torch.softmax(q @ k.transpose(-1, -2) * (D // self.h) ** -0.5, -1)
        x = x + self.proj((a @ v).transpose(1, 2).reshape(B, N, D))
        return x + self.fc2(F.gelu(self.fc1(self.norm2(x))))


class Encoder(nn.Module):
    def __init__(self, t, eps):
        super().__init__()
        self.blocks = nn.ModuleList([Block(t["dim"], t["heads"], t["mlpRatio"], eps) for _ in range(t["depth"])])
        self.norm = nn.LayerNorm(t["dim"], eps=eps)

    def forward(self, x):
        for b in self.blocks:
            x = b(x)
        return self.norm(x)


class Head(nn.Module):
    def __init__(self, d, h):
        super().__init__()
        dims = [d] + [h["hiddenDim"]] * (h["layers"] - 1) + [h["bottleneckDim"]]
        layers = []
        for i in range(h["layers"]):
            layers.append(nn.Linear(dims[i], dims[i + 1]))
            if i < h["layers"] - 1:
                layers.append(nn.GELU())
        self.mlp = nn.Sequential(*layers)
        self.last = nn.utils.weight_norm(nn.Linear(h["bottleneckDim"], h["numClasses"], bias=False))

    def forward(self, z):
        return self.last(F.normalize(self.mlp(z), dim=-1))


def sincos(d, F_, T_):
    def one(d1, pos):
        om = 1.0 / 10000 ** (torch.arange(d1 // 2, dtype=torch.float64) / (d1 / 2))
        o = pos[:, None].double() * om[None]
        return torch.cat([o.sin(), o.cos()], 1)
    f, t = torch.meshgrid(torch.arange(F_), torch.arange(T_), indexing="ij")
    return torch.cat([one(d // 2, t.flatten()), one(d // 2, f.flatten())], 1).float()


D, P = cfg["encoder"]["dim"], cfg["patchSize"]
Fg, Tg = cfg["nMels"] // P, cfg["cropFrames"] // P
N = Fg * Tg
Nv = int(N * (1 - cfg["maskRatio"]))
Nm = N - Nv
B = cfg["batchSize"]
Dp = cfg["predictor"]["dim"]
eps = cfg["lnEps"]


def run(threads):
    torch.set_num_threads(threads)
    torch.manual_seed(0)
    student = nn.ModuleDict(dict(
        patch=nn.Linear(P * P, D), enc=Encoder(cfg["encoder"], eps), embed=nn.Linear(D, Dp),
        pred=Encoder(cfg["predictor"], eps), out=nn.Linear(Dp, D), head=Head(D, cfg["head"])))
    cls = nn.Parameter(torch.randn(1, 1, D) * 0.02)
    mask_token = nn.Parameter(torch.randn(1, 1, Dp) * 0.02)
    teacher_enc, teacher_head = Encoder(cfg["encoder"], eps), Head(D, cfg["head"])
    for p in list(teacher_enc.parameters()) + list(teacher_head.parameters()):
        p.requires_grad_(False)
    params = list(student.parameters()) + [cls, mask_token]
    opt = torch.optim.AdamW(params, lr=1e-4, betas=(0.9, 0.95), eps=1e-6, weight_decay=0.05)
    pos, pos_p = sincos(D, Fg, Tg), sincos(Dp, Fg, Tg)
    centre = torch.zeros(cfg["head"]["numClasses"])
    x = torch.randn(B, cfg["nMels"], cfg["cropFrames"])

    def step():
        nonlocal centre
        patches = x.reshape(B, Fg, P, Tg, P).permute(0, 1, 3, 2, 4).reshape(B, N, P * P)
        tok = student["patch"](patches) + pos
        order = torch.rand(B, N).argsort(1)
        vis, msk = order[:, :Nv], order[:, Nv:]
        g = lambda t, i: torch.gather(t, 1, i[..., None].expand(-1, -1, t.shape[-1]))
        c = cls.expand(B, -1, -1)
        zv = student["enc"](torch.cat([c, g(tok, vis)], 1))
        with torch.no_grad():
            zm = teacher_enc(torch.cat([c, g(tok, msk)], 1))[:, 1:]
            pm = teacher_head(zm)
        y = student["embed"](zv)
        full = torch.cat([y[:, 1:], mask_token.expand(B, Nm, -1)], 1)
        unshuffled = g(full, order.argsort(1)) + pos_p
        h = student["pred"](torch.cat([y[:, :1], unshuffled], 1))[:, 1:]
        zhat = student["out"](g(h, msk))
        l_pred = (2 - 2 * F.cosine_similarity(zhat, zm, dim=-1)).mean()
        pt = torch.softmax((pm - centre) / 0.05, -1)
        l_cls = -(pt * torch.log_softmax(student["head"](zhat) / 0.1, -1)).sum(-1).mean()
        loss = 0.5 * l_cls + 0.5 * l_pred
        opt.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(params, 3.0)
        opt.step()
        with torch.no_grad():
            for t_, s_ in zip(teacher_enc.parameters(), student["enc"].parameters()):
                t_.mul_(0.99).add_(s_, alpha=0.01)
            for t_, s_ in zip(teacher_head.parameters(), student["head"].parameters()):
                t_.mul_(0.99).add_(s_, alpha=0.01)
            centre = 0.9 * centre + 0.1 * pt.mean((0, 1))
        return loss.item()

    for _ in range(2):
        step()
    n, t0 = 0, time.perf_counter()
    while n < 3 or time.perf_counter() - t0 < 5:
        step()
        n += 1
    ms = (time.perf_counter() - t0) / n * 1e3
    # torch.set_num_threads sets PyTorch's own (OpenMP) threads; OpenBLAS's pthread pool, which runs
    # the matmuls, follows OPENBLAS_NUM_THREADS and otherwise uses every core
    blas = f"{blas_in_use()}, threads: {os.environ.get('OPENBLAS_NUM_THREADS', 'all cores')}"
    print(json.dumps({"impl": f"PyTorch {torch.__version__} CPU, {threads} thread(s) ({blas})", "ms_per_step": ms, "steps": n}), flush=True)


for t in threads_list:
    run(t)
