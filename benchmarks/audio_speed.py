"""Speed of the audio front end on one core: mp3/ogg decoding and log-mel features for a synthetic song."""

from __future__ import annotations

import argparse
import tempfile
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import soundfile as sf
import torch
from timing import median_seconds  # benchmarks/timing.py

from osuT5.audio import SAMPLE_RATE, load_audio, log_mel_spectrogram

SOURCE_RATE = 44100


def synthesize_song(duration_s: float, seed: int = 0) -> np.ndarray:
    """Stereo float32 of shape (n, 2) at SOURCE_RATE: pink-ish noise under a sequence of tones."""
    rng = np.random.default_rng(seed)
    t = np.arange(int(duration_s * SOURCE_RATE)) / SOURCE_RATE
    noise = np.cumsum(rng.standard_normal((len(t), 2)), axis=0)
    noise -= np.convolve(noise[:, 0], np.ones(64) / 64, mode="same")[:, None]  # crude high-pass
    noise *= 0.05 / np.std(noise)
    # A new note every half second, so codecs see changing content rather than one steady tone.
    notes_hz = 220.0 * 2 ** (rng.integers(0, 24, int(duration_s * 2) + 1) / 12)
    tone = 0.3 * np.sin(2 * np.pi * np.cumsum(notes_hz[(t * 2).astype(int)]) / SOURCE_RATE)
    return (noise + tone[:, None]).astype(np.float32)


def write_mp3(path: Path, stereo: np.ndarray) -> None:
    with av.open(str(path), mode="w") as container:
        stream = container.add_stream("libmp3lame", rate=SOURCE_RATE, layout="stereo")
        frame = av.AudioFrame.from_ndarray(np.ascontiguousarray(stereo.T), format="fltp", layout="stereo")
        frame.sample_rate = SOURCE_RATE
        frame.pts, frame.time_base = 0, Fraction(1, SOURCE_RATE)
        container.mux(stream.encode(frame))
        container.mux(stream.encode(None))


def write_ogg(path: Path, stereo: np.ndarray) -> None:
    # One large soundfile.write to OGG overflows libvorbis' stack: write in blocks.
    with sf.SoundFile(path, "w", samplerate=SOURCE_RATE, channels=2, format="OGG", subtype="VORBIS") as f:
        for start in range(0, len(stereo), 65536):
            f.write(stereo[start : start + 65536])


def report(label: str, seconds: float, duration_s: float) -> None:
    print(f"{label:<24} {seconds:8.3f} s   {duration_s / seconds:8.1f}x real time")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--duration-s", type=float, default=180.0, help="length of the synthetic song")
    parser.add_argument("--runs", type=int, default=5, help="timed runs per measurement (median reported)")
    parser.add_argument("--threads", type=int, default=1, help="torch intra-op threads")
    args = parser.parse_args()

    torch.set_num_threads(args.threads)
    stereo = synthesize_song(args.duration_s)
    with tempfile.TemporaryDirectory() as folder:
        mp3_path, ogg_path = Path(folder) / "song.mp3", Path(folder) / "song.ogg"
        write_mp3(mp3_path, stereo)
        write_ogg(ogg_path, stereo)
        print(f"song: {args.duration_s:.0f} s stereo at {SOURCE_RATE} Hz; torch threads: {args.threads}")
        report(
            "decode mp3 (load_audio)",
            median_seconds(lambda: load_audio(mp3_path), args.runs),
            args.duration_s,
        )
        report(
            "decode ogg (load_audio)",
            median_seconds(lambda: load_audio(ogg_path), args.runs),
            args.duration_s,
        )
        samples = load_audio(mp3_path)

    features = log_mel_spectrogram(samples)
    log_mel_s = median_seconds(lambda: log_mel_spectrogram(samples), args.runs)
    report("log-mel spectrogram", log_mel_s, len(samples) / SAMPLE_RATE)
    print(
        f"log-mel shape: {tuple(features.shape)}; target >= 100x real time: {'met' if log_mel_s * 100 <= len(samples) / SAMPLE_RATE else 'NOT met'}"
    )


if __name__ == "__main__":
    main()
