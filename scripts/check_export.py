"""Load a `matpac export` .pt into a PyTorch model with the official layout and print its embeddings.

Usage: /usr/bin/python3 scripts/check_export.py ENCODER.pt LOGMEL.npy
Reads the file with torch.load(weights_only=True) (no pickle code runs), takes the architecture from
the config record `matpac_ts/config.json` that matpac export writes, loads the state dict with
strict=True (every official key present, nothing extra) into scripts/matpac_reference.py's model and
prints JSON {"precise": [F·D], "fast": [F·D], "precise_layers": [L, F·D]} for the log-mel [M, T].
The official `matpac_wrapper` takes the same state dict (docs/interop.md shows the snippet).
"""
import json
import os
import sys
import zipfile

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(__file__))
from matpac_reference import MatpacReference  # noqa: E402

path, logmel = sys.argv[1], sys.argv[2]
sd = torch.load(path, map_location="cpu", weights_only=True)
with zipfile.ZipFile(path) as z:
    cfg = json.loads(z.read(next(n for n in z.namelist() if n.endswith("matpac_ts/config.json"))))
enc = cfg["encoder"]
model = MatpacReference(dim=enc["dim"], depth=enc["depth"], heads=enc["heads"], mlp_ratio=enc["mlpRatio"],
                        n_freq=cfg["nMels"], n_t=cfg["cropFrames"], patch=cfg["patchSize"])
model.load_state_dict(sd, strict=True)
model.eval()
x = torch.from_numpy(np.load(logmel, allow_pickle=False))[None]
with torch.no_grad():
    precise = model.precise(x)
    fast = model.fast(x)
out = {"precise": precise[0, -1].mean(0).tolist(), "fast": fast[0, -1].mean(0).tolist(), "precise_layers": precise[0].mean(1).tolist()}
print(json.dumps(out))
