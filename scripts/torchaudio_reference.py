"""Reference log-mel (and resampling) computed with torchaudio, for comparison with matpac-ts.

Usage: /usr/bin/python3 scripts/torchaudio_reference.py IN.wav OUT.npy
Reads IN.wav (as float64), resamples to 16 kHz with torchaudio's Kaiser-windowed sinc (MATPAC/M2D settings),
computes the MATPAC log-mel exactly as the official code configures torchaudio, and writes the
normalised [80, T] float32 array. Not needed by the project; used to check it (docs/frontend.md).
"""
import sys

import numpy as np
import torch
import torchaudio

wav, sr = torchaudio.load(sys.argv[1])
# float64 throughout: torchaudio's float32 path itself differs from exact arithmetic by ~4e-6 after
# resampling, which the log amplifies in near-silent mel bands
wav = wav.double().mean(0, keepdim=True)
if sr != 16000:
    wav = torchaudio.functional.resample(
        wav, sr, 16000, lowpass_filter_width=64, rolloff=0.9475937167399596,
        resampling_method="sinc_interp_kaiser" if int(torchaudio.__version__.split(".")[0]) >= 2 else "kaiser_window", beta=14.769656459379492)
mel = torchaudio.transforms.MelSpectrogram(
    sample_rate=16000, n_fft=400, win_length=400, hop_length=160, n_mels=80, f_min=50, f_max=8000,
    power=2.0, center=False, norm="slaney", mel_scale="slaney").double()
lms = (torch.log(mel(wav) + torch.finfo(torch.float).eps) + 7.056) / 4.193
np.save(sys.argv[2], lms[0].numpy().astype(np.float32))
