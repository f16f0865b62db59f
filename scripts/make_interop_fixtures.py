"""Make the committed fixtures of test/interop-official.test.ts: small random-weight models in the
official MATPAC key layout, saved with torch.save, and their PyTorch outputs.

Usage: /usr/bin/python3 scripts/make_interop_fixtures.py [OUT_DIR]   (default test/fixtures/interop)
Needs torch and numpy. With MATPAC_OFFICIAL=<aurianworld/matpac checkout>/inference_matpac (and timm,
einops importable) it also runs the official `matpac_wrapper` on the same weights and checks that
scripts/matpac_reference.py agrees with it.

Writes, for each model NAME:
  NAME.pt            torch.save of the state dict as the official files hold it (extra keys included)
  NAME.json          {config, outputs: {precise, precise_layers, fast, fast_layers, precise_frames}} for
                     the log-mel in input.npy (float32, [80, 150]), all float32 values as lists
"""
import json
import os
import sys

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(__file__))
from matpac_reference import MatpacReference, sincos_2d  # noqa: E402

OUT = sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(__file__), "..", "test", "fixtures", "interop")
os.makedirs(OUT, exist_ok=True)
torch.manual_seed(1337)

MODELS = {
    # a MATPAC-like release file: the whole model's state dict, including keys the encoder does not use
    "official-w32-d2": dict(dim=32, depth=2, heads=4, n_t=64, extra=True, wrap=None),
    # a MATPAC++ "_enconly" file: encoder keys only, the paper's 608-frame crop, nested under "model"
    "enconly-w32-d3": dict(dim=32, depth=3, heads=2, n_t=608, extra=False, wrap="model"),
}

x = torch.randn(1, 80, 150) * 1.5 - 0.3  # a normalised log-mel: 150 frames (1.5 s)
np.save(os.path.join(OUT, "input.npy"), x[0].numpy().astype(np.float32))


def randomise(model):
    with torch.no_grad():
        for name, p in model.named_parameters():
            if name == "pos_embed":
                continue
            if name.endswith("norm1.weight") or name.endswith("norm2.weight") or name.endswith("norm.weight"):
                p.copy_(1 + 0.2 * torch.randn_like(p))
            else:
                p.copy_(torch.randn_like(p) * (0.5 if p.dim() == 1 else 1 / p.shape[-1] ** 0.5 if p.dim() == 2 else 0.05))
        fb = model.fbins
        model.pos_embed.copy_(sincos_2d(model.pos_embed.shape[-1], fb, (model.pos_embed.shape[1] - 1) // fb).float()[None])


def official_outputs(sd, spec):
    """The official matpac_wrapper on the same weights, when it can be imported."""
    path = os.environ.get("MATPAC_OFFICIAL")
    if not path:
        return None
    sys.path.insert(0, path)
    from matpac.encoder import encoder_layers_config  # noqa
    # the official general_config uses this dataclass instance as a default, which Python ≥ 3.11
    # refuses as a mutable default unless the class is hashable (the package targets 3.9)
    encoder_layers_config.__hash__ = object.__hash__
    from matpac.model import general_config, matpac_wrapper  # noqa
    cfg = general_config(encoder=encoder_layers_config(embed_dim=spec["dim"], depth=spec["depth"], num_heads=spec["heads"]), n_t=spec["n_t"])
    out = {}
    for mode in ("precise", "fast"):
        m = matpac_wrapper(inference_type=mode, cfg=cfg)
        m.load_state_dict(sd, strict=False)
        m.eval()
        with torch.no_grad():
            fwd = m.forward_precise if mode == "precise" else m.forward_fast
            emb, lr = fwd(x)
        out[mode] = (emb.mean(1), lr.mean(2))
    return out


for name, spec in MODELS.items():
    model = MatpacReference(dim=spec["dim"], depth=spec["depth"], heads=spec["heads"], n_t=spec["n_t"])
    randomise(model)
    model.eval()
    with torch.no_grad():
        precise = model.precise(x)
        fast = model.fast(x)
    sd = model.state_dict()
    off = official_outputs(sd, spec)
    if off is not None:
        for mode, lr in (("precise", precise), ("fast", fast)):
            e, l = off[mode]
            assert torch.allclose(e, lr[:, -1].mean(1), atol=1e-5, rtol=1e-5), f"{name} {mode}: reference ≠ official"
            assert torch.allclose(l, lr.mean(2), atol=1e-5, rtol=1e-5), f"{name} {mode} layers: reference ≠ official"
        print(f"{name}: reference model == official matpac_wrapper (precise and fast)")
    if spec["extra"]:
        sd["decoder.mask_token"] = torch.randn(1, 1, 16)
        sd["cls_head_loss.center"] = torch.zeros(1, 1, 8)
        sd["_ema"] = {"norm.weight": torch.ones(spec["dim"]), "norm.bias": torch.zeros(spec["dim"])}
        sd["num_updates"] = 12
    torch.save({spec["wrap"]: sd} if spec["wrap"] else sd, os.path.join(OUT, f"{name}.pt"))
    f32 = lambda t: [float(v) for v in t.reshape(-1).numpy().astype(np.float32)]
    outputs = {
        "precise": f32(precise[0, -1].mean(0)),
        "precise_layers": f32(precise[0].mean(1)),
        "fast": f32(fast[0, -1].mean(0)),
        "fast_layers": f32(fast[0].mean(1)),
        "precise_frames": f32(precise[0, -1]),
    }
    shapes = {"precise_frames": list(precise[0, -1].shape), "precise_layers": list(precise[0].mean(1).shape)}
    with open(os.path.join(OUT, f"{name}.json"), "w") as fh:
        json.dump({"torch": torch.__version__, "config": spec, "shapes": shapes, "outputs": outputs}, fh)
    print(f"{name}: precise {tuple(precise.shape)}, fast {tuple(fast.shape)}")

# every construct the reader supports, with the values it must read (test/interop-torch-file.test.ts)
base = torch.arange(24, dtype=torch.float32).reshape(4, 6) / 8 - 1
lin = torch.nn.Linear(3, 2)
with torch.no_grad():
    lin.weight.copy_(torch.tensor([[1.0, -2.0, 0.5], [0.25, 3.0, -1.0]]))
    lin.bias.copy_(torch.tensor([0.125, -0.5]))
constructs = {
    "state": lin.state_dict(),  # an OrderedDict with _metadata (BUILD)
    "transposed": base.t(),  # strides (1, 6)
    "sliced": base[1:3, 2:5],  # storage offset 8, strides (6, 1), shares the storage of "transposed"
    "half": torch.tensor([1.5, -2.25, 65504.0, 6.1e-5], dtype=torch.float16),
    "bfloat": torch.tensor([1.5, -3.0e38, 0.1], dtype=torch.bfloat16),
    "double": torch.tensor([[1 / 3, -2.0]], dtype=torch.float64),
    "long": torch.tensor([-3, 2 ** 40, 7]),
    "scalar": torch.tensor(2.5),
    "param": torch.nn.Parameter(torch.tensor([0.5, -0.5])),
    "other": {"int": 3, "big": 2 ** 40, "neg": -7, "float": 0.1, "flag": True, "none": None, "text": "é", "list": [1, 2.0], "tuple": (1, "a")},
}
torch.save(constructs, os.path.join(OUT, "constructs.pt"))
expect = {k: {"shape": list(v.shape), "values": [float(x) for x in v.detach().double().reshape(-1)]} for k, v in constructs.items() if isinstance(v, torch.Tensor)}
expect.update({f"state.{k}": {"shape": list(v.shape), "values": [float(x) for x in v.double().reshape(-1)]} for k, v in lin.state_dict().items()})
with open(os.path.join(OUT, "constructs.json"), "w") as fh:
    json.dump(expect, fh)
torch.save({"w": torch.ones(2)}, os.path.join(OUT, "legacy.pt"), _use_new_zipfile_serialization=False)
print("constructs.pt, legacy.pt")
