"""A PyTorch model with the official MATPAC inference model's state-dict layout and forward.

It follows aurianworld/matpac inference_matpac/matpac/model.py (`matpac_wrapper`: `extract_features`,
`forward_precise`, `forward_fast`, `forward` with pull_time_dimension), encoder.py (`encoder_layers`
with return_layers) and utils.py (`PatchEmbed`), with timm's `Block` (qkv bias, exact GELU, LayerNorm
eps 1e-6) written out in plain torch, so that it runs where timm/einops/torchaudio are not installed.
It takes normalised log-mels [B, 80, T] (the front end is checked separately: scripts/torchaudio_reference.py).

When the official package can be imported (MATPAC_OFFICIAL=<checkout>/inference_matpac on a machine with
timm and einops), scripts/make_interop_fixtures.py checks this model against it on the same weights.

Used by scripts/make_interop_fixtures.py and scripts/check_export.py (test/interop-*.test.ts).
"""
import math

import torch
import torch.nn as nn
import torch.nn.functional as F


class Attention(nn.Module):
    def __init__(self, dim, heads):
        super().__init__()
        self.heads = heads
        self.qkv = nn.Linear(dim, 3 * dim, bias=True)
        self.proj = nn.Linear(dim, dim)

    def forward(self, x):
        b, n, c = x.shape
        h = self.heads
        qkv = self.qkv(x).reshape(b, n, 3, h, c // h).permute(2, 0, 3, 1, 4)
        q, k, v = qkv[0], qkv[1], qkv[2]
        a = (q * (c // h) ** -0.5) @ k.transpose(-2, -1)
        o = a.softmax(dim=-1) @ v
        return self.proj(o.transpose(1, 2).reshape(b, n, c))


class Mlp(nn.Module):
    def __init__(self, dim, hidden):
        super().__init__()
        self.fc1 = nn.Linear(dim, hidden)
        self.fc2 = nn.Linear(hidden, dim)

    def forward(self, x):
        return self.fc2(F.gelu(self.fc1(x)))


class Block(nn.Module):
    def __init__(self, dim, heads, mlp_ratio):
        super().__init__()
        self.norm1 = nn.LayerNorm(dim, eps=1e-6)
        self.attn = Attention(dim, heads)
        self.norm2 = nn.LayerNorm(dim, eps=1e-6)
        self.mlp = Mlp(dim, dim * mlp_ratio)

    def forward(self, x):
        x = x + self.attn(self.norm1(x))
        return x + self.mlp(self.norm2(x))


class Encoder(nn.Module):
    def __init__(self, dim, depth, heads, mlp_ratio):
        super().__init__()
        self.blocks = nn.ModuleList([Block(dim, heads, mlp_ratio) for _ in range(depth)])
        self.norm = nn.LayerNorm(dim, eps=1e-6)

    def layers(self, x):
        out = []
        for blk in self.blocks:
            x = blk(x)
            out.append(x)
        out[-1] = self.norm(x)  # the last layer result is the normalised output
        return torch.stack(out, dim=1)


class PatchEmbed(nn.Module):
    def __init__(self, dim, p):
        super().__init__()
        self.proj = nn.Conv2d(1, dim, kernel_size=p, stride=p)

    def forward(self, x):
        return self.proj(x).flatten(2).transpose(1, 2)


def sincos_2d(dim, f, t):
    """get_2d_sincos_pos_embed(dim, (f, t), cls_token=True): [1 + f·t, dim], time first."""
    q = dim // 4
    omega = 1.0 / 10000 ** (torch.arange(q, dtype=torch.float64) / q)
    tt, ff = torch.meshgrid(torch.arange(t, dtype=torch.float64), torch.arange(f, dtype=torch.float64), indexing="xy")
    def half(pos):
        a = pos.reshape(-1)[:, None] * omega[None, :]
        return torch.cat([torch.sin(a), torch.cos(a)], dim=1)
    emb = torch.cat([half(tt), half(ff)], dim=1)
    return torch.cat([torch.zeros(1, dim, dtype=torch.float64), emb], dim=0)


class MatpacReference(nn.Module):
    """State dict: patch_embed.proj.*, cls_token, pos_embed, student_encoder.blocks.N.*, student_encoder.norm.*."""

    def __init__(self, dim=768, depth=12, heads=12, mlp_ratio=4, n_freq=80, n_t=608, patch=16):
        super().__init__()
        self.p, self.n_t, self.fbins = patch, n_t, n_freq // patch
        self.patch_embed = PatchEmbed(dim, patch)
        self.cls_token = nn.Parameter(torch.zeros(1, 1, dim))
        self.pos_embed = nn.Parameter(torch.zeros(1, 1 + self.fbins * (n_t // patch), dim), requires_grad=False)
        self.student_encoder = Encoder(dim, depth, heads, mlp_ratio)

    def extract(self, x):
        """x [b, f, u] → layer results [b, L, 1 + f·t, d] (extract_features)."""
        x = self.patch_embed(x.unsqueeze(1))
        pos = self.pos_embed[:, 1:, :]
        if x.shape[1] < pos.shape[1]:
            d = pos.shape[-1]
            t = x.shape[1] // self.fbins
            pos = pos.reshape(1, self.fbins, -1, d)[:, :, :t, :].reshape(1, self.fbins * t, d)
        x = x + pos
        cls = (self.cls_token + self.pos_embed[:, :1, :]).expand(x.shape[0], -1, -1)
        return self.student_encoder.layers(torch.cat([cls, x], dim=1))

    def concat_freq(self, lr):
        """'b l (f t) d -> b l t (f d)' after dropping CLS."""
        b, l, n, d = lr.shape
        t = (n - 1) // self.fbins
        return lr[:, :, 1:, :].reshape(b, l, self.fbins, t, d).permute(0, 1, 3, 2, 4).reshape(b, l, t, self.fbins * d)

    def precise(self, x):
        """forward_precise: → layer results [b, L, T, f·d] (time in order)."""
        pad = (self.p - x.shape[-1] % self.p) % self.p
        x = F.pad(x, (0, pad))
        n_chunk = math.ceil(x.shape[-1] / self.n_t)
        return torch.cat([self.concat_freq(self.extract(x[..., i * self.n_t:(i + 1) * self.n_t])) for i in range(n_chunk)], dim=2)

    def fast(self, x):
        """forward_fast: whole chunks (zero padding included) → [b, L, n·t, f·d], official (t n) interleaving."""
        b, f, u = x.shape
        n = (u + self.n_t - 1) // self.n_t
        x = F.pad(x, (0, n * self.n_t - u))
        chunks = x.reshape(b, f, n, self.n_t).permute(0, 2, 1, 3).reshape(b * n, f, self.n_t)
        lr = self.concat_freq(self.extract(chunks))  # [(b n), L, t, fd]
        _, l, t, fd = lr.shape
        return lr.reshape(b, n, l, t, fd).permute(0, 2, 3, 1, 4).reshape(b, l, t * n, fd)
