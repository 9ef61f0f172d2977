"""Log-mel frames of a song, decoded once and cached on disk by content hash."""

from __future__ import annotations

import hashlib
import io
from pathlib import Path

import numpy as np

from osuT5.audio import HOP_LENGTH, N_FFT, N_MELS, SAMPLE_RATE, load_audio, log_mel_spectrogram
from osuT5.errors import OsuT5Error
from osuT5.files import atomic_write_bytes

# Part of every cache key: changing the front end invalidates old entries instead of reusing them.
FEATURE_VERSION = f"v1-sr{SAMPLE_RATE}-fft{N_FFT}-hop{HOP_LENGTH}-mels{N_MELS}"


def audio_key(path: str | Path) -> str:
    digest = hashlib.sha1(Path(path).read_bytes()).hexdigest()
    return hashlib.sha1(f"{digest}:{FEATURE_VERSION}".encode()).hexdigest()[:24]


def compute_mel(path: str | Path) -> np.ndarray:
    """(N_MELS, n_frames) float16 log-mel frames of an audio file."""
    return log_mel_spectrogram(load_audio(path)).numpy().astype(np.float16)


def cached_mel(path: str | Path, cache_dir: str | Path | None) -> np.ndarray:
    """`compute_mel`, reading and filling `cache_dir` when one is given."""
    if cache_dir is None:
        return compute_mel(path)
    target = Path(cache_dir) / f"{audio_key(path)}.npy"
    if target.is_file():
        return np.load(target)
    mel = compute_mel(path)
    buffer = io.BytesIO()
    np.save(buffer, mel)
    try:
        atomic_write_bytes(target, buffer.getvalue())
    except OsuT5Error:
        if not target.is_file():  # fine when another worker wrote it first
            raise
    return mel
