"""Audio front end: decoding to 16 kHz mono, log-mel features, and the project's time constants."""

from __future__ import annotations

import functools
import math
from pathlib import Path

import av
import av.error
import numpy as np
import torch
from transformers.audio_utils import mel_filter_bank

from osuT5.errors import AudioError

SAMPLE_RATE = 16000
N_FFT = 1024
HOP_LENGTH = 128  # samples between spectrogram frames
MS_PER_FRAME = 8
N_MELS = 128
F_MIN_HZ = 20.0
F_MAX_HZ = 8000.0
TOKEN_STEP_MS = 10  # quantum of the decoder's time tokens

# Integer frame times keep every ms <-> frame conversion exact.
assert MS_PER_FRAME == HOP_LENGTH * 1000 / SAMPLE_RATE

# Whisper's scaling: keep the top 8 decades (80 dB) of power, then (log10 + 4) / 4, so values span <= 2.0.
_LOG_FLOOR = 1e-10
_DYNAMIC_RANGE_DECADES = 8.0
# Beyond this share of undecodable packets a file is corrupt, not merely a little damaged.
_MAX_BAD_PACKET_FRACTION = 0.01


def ms_to_frame(time_ms: float) -> int:
    """Index of the spectrogram frame that contains `time_ms` (floor)."""
    return math.floor(time_ms / MS_PER_FRAME)


def frame_to_ms(frame: int) -> float:
    """Time in ms of frame `frame`'s centre (the STFT is centred, so frame i sits at i * hop)."""
    return float(frame * MS_PER_FRAME)


def ms_to_token_step(time_ms: float) -> int:
    """Time-token step containing `time_ms` (floor of time_ms / TOKEN_STEP_MS)."""
    return math.floor(time_ms / TOKEN_STEP_MS)


def token_step_to_ms(step: int) -> float:
    """Centre of time-token step `step` in ms; decoding to the centre keeps the round trip unbiased."""
    return float(step * TOKEN_STEP_MS + TOKEN_STEP_MS / 2)


def duration_ms(samples: np.ndarray | torch.Tensor) -> int:
    """Length in whole ms of mono `SAMPLE_RATE` audio. Not frames * MS_PER_FRAME: the centred STFT
    has one frame more than the audio covers, and an object in that last frame is after the song."""
    return len(samples) * 1000 // SAMPLE_RATE


def n_frames_for(n_samples: int) -> int:
    """Number of frames `log_mel_spectrogram` returns for `n_samples` samples (centred STFT)."""
    return n_samples // HOP_LENGTH + 1


def _check_readable(path: Path) -> None:
    # FFmpeg's own messages for these cases are cryptic ("Invalid data found"); name the real cause.
    if not path.exists():
        raise AudioError("file not found", path)
    if path.is_dir():
        raise AudioError("is a directory, not an audio file", path)
    if path.stat().st_size == 0:
        raise AudioError("file is empty (0 bytes)", path)


class _MonoConverter:
    """Resamples decoded frames of one source format to mono float32, about a second at a time.

    Feeding the resampler ~1 s blocks from a FIFO instead of each ~1k-sample codec frame halves decode time.
    """

    def __init__(self, source_format: tuple[str, str, int], sample_rate: int):
        self.source_format = source_format
        self.block_samples = source_format[2]
        self.fifo = av.AudioFifo()
        # One resampler for all formats, so training and inference downmix stereo identically.
        self.resampler = av.AudioResampler(format="flt", layout="mono", rate=sample_rate)

    def push(self, frame: av.AudioFrame) -> list[np.ndarray]:
        frame.pts = None  # the FIFO rejects timestamp gaps; samples are concatenated either way
        self.fifo.write(frame)
        if self.fifo.samples < self.block_samples:
            return []
        return self._resample(self.fifo.read())

    def flush(self) -> list[np.ndarray]:
        rest = self.fifo.read()
        return (self._resample(rest) if rest is not None else []) + self._resample(None)

    def _resample(self, frame: av.AudioFrame | None) -> list[np.ndarray]:
        # A passthrough resampler (input already mono flt at the target rate) echoes None on flush.
        return [out.to_ndarray().reshape(-1) for out in self.resampler.resample(frame) if out is not None]


def _decode(path: Path, sample_rate: int) -> np.ndarray:
    chunks: list[np.ndarray] = []
    n_packets = n_bad_packets = 0
    with av.open(str(path), mode="r") as container:
        if not container.streams.audio:
            raise AudioError("no audio stream (not an audio file?)", path)
        stream = container.streams.audio[0]
        converter = None
        for packet in container.demux(stream):
            n_packets += 1
            try:
                frames = packet.decode()
            except av.error.InvalidDataError:
                # Skip a stray bad packet as FFmpeg does (a concatenated mp3's second tag frame is one).
                n_bad_packets += 1
                continue
            for frame in frames:
                source_format = (frame.format.name, frame.layout.name, frame.sample_rate)
                # The resampler raises on a mid-stream format change (concatenated mp3s): start anew.
                if converter is None or source_format != converter.source_format:
                    if converter is not None:
                        chunks += converter.flush()
                    converter = _MonoConverter(source_format, sample_rate)
                chunks += converter.push(frame)
        if converter is not None:
            chunks += converter.flush()
    if n_bad_packets > _MAX_BAD_PACKET_FRACTION * n_packets + 1:
        raise AudioError(f"corrupt audio: {n_bad_packets} of {n_packets} packets cannot be decoded", path)
    if not chunks:
        return np.zeros(0, dtype=np.float32)
    return np.concatenate(chunks).astype(np.float32, copy=False)


def load_audio(path: str | Path, sample_rate: int = SAMPLE_RATE, normalize: bool = True) -> np.ndarray:
    """Decode any FFmpeg-readable audio file (mp3, ogg, wav, flac, m4a, ...) to mono float32.

    Returns shape (n_samples,) at `sample_rate` Hz; with `normalize`, peak-scaled to max |x| = 1
    unless the file is silent. Raises AudioError naming the file for anything that is not decodable audio.
    """
    path = Path(path)
    _check_readable(path)
    try:
        samples = _decode(path, sample_rate)
    except av.error.FFmpegError as err:  # InvalidDataError & co.; strerror omits the path we add anyway
        raise AudioError(f"cannot decode audio: {err.strerror or err}", path) from err
    except (OSError, ValueError) as err:  # e.g. permissions, or undecodable metadata
        raise AudioError(f"cannot decode audio: {err}", path) from err
    if samples.size == 0:
        raise AudioError("decodes to zero audio samples", path)
    if not np.all(np.isfinite(samples)):
        raise AudioError("decodes to non-finite samples", path)
    if normalize:
        peak = float(np.max(np.abs(samples)))
        if peak > 0.0:
            samples = samples / peak
    return samples


def _slaney_mel(n_fft: int, n_mels: int) -> torch.Tensor:
    """Slaney mel filterbank over F_MIN_HZ..F_MAX_HZ, shape (n_mels, n_fft // 2 + 1)."""
    filters = mel_filter_bank(
        num_frequency_bins=n_fft // 2 + 1,
        num_mel_filters=n_mels,
        min_frequency=F_MIN_HZ,
        max_frequency=F_MAX_HZ,
        sampling_rate=SAMPLE_RATE,
        norm="slaney",
        mel_scale="slaney",
    )
    return torch.from_numpy(filters.T.astype(np.float32))


@functools.lru_cache(maxsize=4)
def mel_filters(device: torch.device | str = "cpu") -> torch.Tensor:
    """The model's mel filterbank, shape (N_MELS, N_FFT // 2 + 1), built once per device; do not modify it."""
    return _slaney_mel(N_FFT, N_MELS).to(device)


@functools.lru_cache(maxsize=4)
def _window(device: torch.device) -> torch.Tensor:
    return torch.hann_window(N_FFT, device=device)


def log_mel_spectrogram(samples: np.ndarray | torch.Tensor) -> torch.Tensor:
    """Whisper-style log-mel features of mono `SAMPLE_RATE` audio.

    `samples`: shape (n_samples,). Returns float32 of shape (N_MELS, n_frames_for(n_samples)),
    frame i centred on sample i * HOP_LENGTH (time frame_to_ms(i)); values span at most 2.0, and
    peak-normalised music tops out near 1.5-2.5 (a larger N_FFT than Whisper's raises the level).
    """
    audio = torch.as_tensor(samples, dtype=torch.float32)
    if audio.ndim != 1:
        raise ValueError(f"expected mono samples of shape (n_samples,), got shape {tuple(audio.shape)}")
    n_frames = n_frames_for(audio.shape[0])
    # Reflect padding needs more than N_FFT // 2 samples; zero-pad short clips and trim frames after.
    min_samples = N_FFT // 2 + 1
    if audio.shape[0] < min_samples:
        audio = torch.nn.functional.pad(audio, (0, min_samples - audio.shape[0]))
    stft = torch.stft(
        audio,
        n_fft=N_FFT,
        hop_length=HOP_LENGTH,
        window=_window(audio.device),
        center=True,
        pad_mode="reflect",
        return_complex=True,
    )
    power = stft[:, :n_frames].abs() ** 2
    mel = mel_filters(audio.device) @ power
    log_spec = torch.clamp(mel, min=_LOG_FLOOR).log10()
    log_spec = torch.maximum(log_spec, log_spec.max() - _DYNAMIC_RANGE_DECADES)
    return (log_spec + 4.0) / 4.0


# Onset envelope: 1 ms steps for timing to well under a frame of the model's 8 ms mel, with a short
# window (16 ms) so a hit's attack is not smeared across a long frame.
ONSET_N_FFT = 256
ONSET_HOP = SAMPLE_RATE // 1000  # 1 ms
ONSET_N_MELS = 64
_ONSET_RANGE_DB = 80.0
_ONSET_BLOCK_FRAMES = 20_000  # 20 s


@functools.lru_cache(maxsize=1)
def _onset_filters() -> torch.Tensor:
    return _slaney_mel(ONSET_N_FFT, ONSET_N_MELS)


def onset_envelope(samples: np.ndarray | torch.Tensor) -> np.ndarray:
    """Spectral flux of mono `SAMPLE_RATE` audio, one value per ms (value i: the rise in log-mel power
    from frame i - 1 to frame i, frames centred on i ms), scaled to a peak of 1. Its peaks are where
    notes start; a peak lags the attack by a few ms (see `beat_alignment.ONSET_LAG_MS`)."""
    audio = torch.as_tensor(samples, dtype=torch.float32)
    if audio.shape[0] <= ONSET_N_FFT // 2:
        return np.zeros(max(audio.shape[0] // ONSET_HOP, 1), dtype=np.float32)
    # Frame i covers padded[i * hop : i * hop + n_fft], i.e. it is centred on sample i * hop.
    padded = torch.nn.functional.pad(audio[None, None], (ONSET_N_FFT // 2,) * 2, mode="reflect")[0, 0]
    n_frames = audio.shape[0] // ONSET_HOP + 1
    window = torch.hann_window(ONSET_N_FFT)
    db = torch.empty((ONSET_N_MELS, n_frames))
    # In blocks: a whole song's 1 ms STFT at once would take hundreds of MB.
    for first in range(0, n_frames, _ONSET_BLOCK_FRAMES):
        last = min(first + _ONSET_BLOCK_FRAMES, n_frames)
        piece = padded[first * ONSET_HOP : (last - 1) * ONSET_HOP + ONSET_N_FFT]
        stft = torch.stft(
            piece, n_fft=ONSET_N_FFT, hop_length=ONSET_HOP, window=window, center=False, return_complex=True
        )
        db[:, first:last] = 10.0 * torch.clamp(_onset_filters() @ (stft.abs() ** 2), min=_LOG_FLOOR).log10()
    db = torch.maximum(db, db.max() - _ONSET_RANGE_DB)
    flux = torch.relu(db[:, 1:] - db[:, :-1]).mean(dim=0)
    flux = torch.cat([torch.zeros(1), flux])
    peak = float(flux.max())
    return (flux / peak).numpy() if peak > 0 else flux.numpy()


def mel_window(mel: np.ndarray, start_frame: int, n_frames: int) -> np.ndarray:
    """`n_frames` frames of a (n_mels, frames) log-mel from `start_frame` (may be negative or run past
    the end); frames outside the song are the song's quietest value, as silence looks after scaling."""
    out = np.full((mel.shape[0], n_frames), mel.min(), dtype=mel.dtype)
    lo, hi = max(start_frame, 0), min(start_frame + n_frames, mel.shape[1])
    if hi > lo:
        out[:, lo - start_frame : hi - start_frame] = mel[:, lo:hi]
    return out
