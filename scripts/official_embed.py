"""Embeddings of audio files by the official MATPAC inference code, for comparison with `matpac embed`.

Usage: MATPAC_OFFICIAL=<aurianworld/matpac checkout>/inference_matpac \
       python3 scripts/official_embed.py CHECKPOINT.pt [--mode precise|fast] AUDIO...
Needs torch, torchaudio, timm, einops (and pandas) as the official package does. The checkpoint is an
official release file (the base architecture) or a `matpac export` .pt, whose architecture is read
from its config record (docs/interop.md). Prints one JSON line per file: {"file", "embedding"} —
the official time-pooled embedding, as `matpac embed` prints it.
"""
import argparse
import json
import os
import sys
import zipfile

import torch
import torchaudio

sys.path.insert(0, os.environ.get("MATPAC_OFFICIAL", "inference_matpac"))
from matpac.encoder import encoder_layers_config  # noqa: E402

encoder_layers_config.__hash__ = object.__hash__  # the official dataclass default needs it on Python ≥ 3.11
from matpac.model import general_config, matpac_wrapper  # noqa: E402

ap = argparse.ArgumentParser()
ap.add_argument("checkpoint")
ap.add_argument("--mode", default="precise", choices=["precise", "fast"])
ap.add_argument("audio", nargs="+")
args = ap.parse_args()

sd = torch.load(args.checkpoint, map_location="cpu", weights_only=True)
with zipfile.ZipFile(args.checkpoint) as z:
    rec = [n for n in z.namelist() if n.endswith("matpac_ts/config.json")]
    cfg = json.loads(z.read(rec[0])) if rec else None
if cfg:
    enc = cfg["encoder"]
    gc = general_config(encoder=encoder_layers_config(embed_dim=enc["dim"], depth=enc["depth"], num_heads=enc["heads"], mlp_ratio=enc["mlpRatio"]),
                        n_freq=cfg["nMels"], n_t=cfg["cropFrames"], patch_size=cfg["patchSize"])
else:
    gc = general_config()
model = matpac_wrapper(inference_type=args.mode, cfg=gc)
missing, unexpected = model.load_state_dict(sd, strict=False)
missing = [k for k in missing if not k.startswith("log_mel.")]
if missing:
    sys.exit(f"missing keys: {missing}")
model.eval()
for path in args.audio:
    wav, sr = torchaudio.load(path)
    wav = wav.mean(0, keepdim=True)
    if sr != 16000:
        wav = torchaudio.functional.resample(wav, sr, 16000, lowpass_filter_width=64, rolloff=0.9475937167399596,
                                             resampling_method="kaiser_window", beta=14.769656459379492)
    with torch.no_grad():
        emb, _ = model(wav)
    print(json.dumps({"file": path, "embedding": emb[0].tolist()}))
