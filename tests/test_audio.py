"""Tests for osuT5.audio: decoding real encoded files, log-mel features and the time helpers."""

from __future__ import annotations

import math
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import pytest
import soundfile as sf
import torch
from hypothesis import given
from hypothesis import strategies as st
from scipy.signal import correlate, get_window, resample_poly

from osuT5.audio import (
    F_MAX_HZ,
    F_MIN_HZ,
    HOP_LENGTH,
    MS_PER_FRAME,
    N_FFT,
    N_MELS,
    SAMPLE_RATE,
    TOKEN_STEP_MS,
    duration_ms,
    frame_to_ms,
    load_audio,
    log_mel_spectrogram,
    mel_filters,
    ms_to_frame,
    ms_to_token_step,
    n_frames_for,
    token_step_to_ms,
)
from osuT5.errors import AudioError

SOURCE_RATE = 44100
DURATION_S = 3.0
# Lossy encoders add priming/padding samples; allow a few tens of ms either way.
LOSSY_LENGTH_TOLERANCE = int(0.05 * SAMPLE_RATE)


def _source_signal() -> np.ndarray:
    """3 s of stereo at 44.1 kHz, shape (n, 2): distinct tone mixes per channel plus a shared chirp."""
    t = np.arange(int(DURATION_S * SOURCE_RATE)) / SOURCE_RATE
    chirp = np.sin(2 * np.pi * (100 * t + (6000 - 100) / (2 * DURATION_S) * t**2))
    left = 0.3 * np.sin(2 * np.pi * 440 * t) + 0.2 * np.sin(2 * np.pi * 1234 * t) + 0.3 * chirp
    right = 0.3 * np.sin(2 * np.pi * 660 * t) + 0.2 * np.sin(2 * np.pi * 3100 * t) + 0.3 * chirp
    return np.stack([left, right], axis=1).astype(np.float32)


def _oracle(stereo: np.ndarray) -> np.ndarray:
    """Independent path to 16 kHz mono: channel mean, then polyphase resampling (441 -> 160)."""
    return resample_poly(stereo.mean(axis=1), SAMPLE_RATE // 100, SOURCE_RATE // 100)


def _write_pyav(path: Path, samples: np.ndarray, codec: str, rate: int = SOURCE_RATE) -> None:
    """Encode `samples` of shape (n, channels) with an FFmpeg encoder, as a user's tools would."""
    layout = {1: "mono", 2: "stereo"}[samples.shape[1]]
    with av.open(str(path), mode="w") as container:
        stream = container.add_stream(codec, rate=rate, layout=layout)
        frame = av.AudioFrame.from_ndarray(np.ascontiguousarray(samples.T), format="fltp", layout=layout)
        frame.sample_rate = rate
        # Timestamps let the encoder mark its priming samples (edit list / gapless info) for the decoder.
        frame.pts, frame.time_base = 0, Fraction(1, rate)
        container.mux(stream.encode(frame))
        container.mux(stream.encode(None))


def _write_ogg(path: Path, stereo: np.ndarray) -> None:
    # One big soundfile.write to OGG can overflow libvorbis' stack; write in blocks.
    with sf.SoundFile(path, "w", samplerate=SOURCE_RATE, channels=2, format="OGG", subtype="VORBIS") as f:
        for start in range(0, len(stereo), 65536):
            f.write(stereo[start : start + 65536])


def _write(path: Path, stereo: np.ndarray) -> None:
    if path.suffix in (".wav", ".flac"):
        sf.write(path, stereo, SOURCE_RATE, subtype="PCM_16")
    elif path.suffix == ".ogg":
        _write_ogg(path, stereo)
    else:
        _write_pyav(path, stereo, {".mp3": "libmp3lame", ".m4a": "aac"}[path.suffix])


def _aligned_correlation(decoded: np.ndarray, reference: np.ndarray, max_lag: int) -> tuple[int, float]:
    """(lag, Pearson correlation) after shifting `decoded` by the best lag within +-max_lag samples."""
    xcorr = correlate(decoded, reference, mode="full", method="fft")
    lags = np.arange(-len(reference) + 1, len(decoded))
    window = np.abs(lags) <= max_lag
    lag = int(lags[window][np.argmax(xcorr[window])])
    if lag >= 0:
        a, b = decoded[lag:], reference
    else:
        a, b = decoded, reference[-lag:]
    n = min(len(a), len(b))
    return lag, float(np.corrcoef(a[:n], b[:n])[0, 1])


@pytest.fixture(scope="module")
def source() -> np.ndarray:
    return _source_signal()


@pytest.mark.parametrize(
    ("suffix", "min_correlation", "length_tolerance", "max_lag"),
    [
        (".wav", 0.99, 2, 0),
        (".flac", 0.99, 2, 0),
        (".mp3", 0.9, LOSSY_LENGTH_TOLERANCE, LOSSY_LENGTH_TOLERANCE),
        (".ogg", 0.9, LOSSY_LENGTH_TOLERANCE, LOSSY_LENGTH_TOLERANCE),
        (".m4a", 0.9, LOSSY_LENGTH_TOLERANCE, LOSSY_LENGTH_TOLERANCE),
    ],
)
def test_load_audio_decodes_each_format(
    tmp_path: Path,
    source: np.ndarray,
    suffix: str,
    min_correlation: float,
    length_tolerance: int,
    max_lag: int,
) -> None:
    path = tmp_path / f"song{suffix}"
    _write(path, source)
    samples = load_audio(path)
    assert samples.dtype == np.float32 and samples.ndim == 1
    assert abs(len(samples) - DURATION_S * SAMPLE_RATE) <= length_tolerance
    assert np.max(np.abs(samples)) == pytest.approx(1.0, abs=1e-6)
    lag, correlation = _aligned_correlation(samples.astype(np.float64), _oracle(source), max_lag)
    assert correlation > min_correlation
    # Encoder priming must be skipped: a shifted song would shift every note of a beatmap.
    assert abs(lag) <= SAMPLE_RATE // 1000


def test_load_audio_without_normalize_keeps_level(tmp_path: Path, source: np.ndarray) -> None:
    path = tmp_path / "quiet.wav"
    sf.write(path, 0.1 * source, SOURCE_RATE, subtype="FLOAT")
    samples = load_audio(path, normalize=False)
    # Downmix gain differs between FFmpeg ((L+R)/sqrt 2) and a plain mean: check the order of magnitude.
    peak_ratio = np.max(np.abs(samples)) / np.max(np.abs(_oracle(0.1 * source)))
    assert 0.9 < peak_ratio < 1.6


def test_load_audio_other_sample_rate_and_silence(tmp_path: Path) -> None:
    path = tmp_path / "silence.wav"
    sf.write(path, np.zeros((SOURCE_RATE, 2), dtype=np.float32), SOURCE_RATE)
    samples = load_audio(path, sample_rate=22050)
    assert abs(len(samples) - 22050) <= 2
    assert np.all(samples == 0.0)  # silent input is left as is, not divided by zero


def test_load_audio_mono_passthrough(tmp_path: Path) -> None:
    # Already mono float at 16 kHz: PyAV's resampler passes frames through and echoes None on flush.
    path = tmp_path / "mono16k.wav"
    tone = 0.5 * np.sin(2 * np.pi * 440 * np.arange(SAMPLE_RATE) / SAMPLE_RATE).astype(np.float32)
    sf.write(path, tone, SAMPLE_RATE, subtype="FLOAT")
    np.testing.assert_allclose(load_audio(path, normalize=False), tone, atol=1e-6)


def test_load_audio_concatenated_mp3s_with_format_change(tmp_path: Path, source: np.ndarray) -> None:
    # Joined mp3 files: the second file's tag frame is undecodable and its rate and layout differ.
    first, second, joined = tmp_path / "a.mp3", tmp_path / "b.mp3", tmp_path / "joined.mp3"
    _write_pyav(first, source, "libmp3lame")
    mono_22k = resample_poly(source[:, :1], 1, 2).astype(np.float32)
    _write_pyav(second, mono_22k, "libmp3lame", rate=SOURCE_RATE // 2)
    joined.write_bytes(first.read_bytes() + second.read_bytes())
    samples = load_audio(joined)
    assert abs(len(samples) - 2 * DURATION_S * SAMPLE_RATE) <= 4 * LOSSY_LENGTH_TOLERANCE
    first_part = _oracle(source)
    _, correlation = _aligned_correlation(samples[: len(first_part)].astype(np.float64), first_part, 0)
    assert correlation > 0.9


def _bad_file(tmp_path: Path, kind: str) -> Path:
    path = tmp_path / {"text": "notes.txt", "png": "cover.png", "directory": "folder.mp3"}.get(kind, "x.mp3")
    if kind == "empty":
        path.write_bytes(b"")
    elif kind == "corrupt":
        path.write_bytes(np.random.default_rng(0).integers(0, 256, 8192, dtype=np.uint8).tobytes())
    elif kind == "text":
        path.write_text("[General]\nAudioFilename: song.mp3\n" * 50)
    elif kind == "png":
        noise = np.random.default_rng(1).integers(0, 256, 2048, dtype=np.uint8).tobytes()
        path.write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + noise)
    elif kind == "directory":
        path.mkdir()
    return path


@pytest.mark.parametrize("kind", ["missing", "directory", "empty", "corrupt", "text", "png"])
def test_load_audio_bad_files_raise_audio_error(tmp_path: Path, kind: str) -> None:
    path = _bad_file(tmp_path, kind)
    with pytest.raises(AudioError) as info:
        load_audio(path)
    assert str(path) in str(info.value)
    assert info.value.path == str(path)


def test_load_audio_zero_samples_raises(tmp_path: Path) -> None:
    path = tmp_path / "nothing.wav"
    sf.write(path, np.zeros((0, 2), dtype=np.float32), SOURCE_RATE)
    assert path.stat().st_size > 0  # a valid header, but no samples
    with pytest.raises(AudioError, match="zero audio samples"):
        load_audio(path)


def test_mel_filters_have_no_empty_rows() -> None:
    filters = mel_filters()
    assert filters.shape == (N_MELS, N_FFT // 2 + 1)
    assert torch.all(filters.max(dim=1).values > 0)


@pytest.mark.parametrize("n_samples", [0, 1, 100, N_FFT // 2, N_FFT // 2 + 1, 1000, 16000, 16000 + 77])
def test_log_mel_shape_and_finite(n_samples: int) -> None:
    samples = np.random.default_rng(n_samples).standard_normal(n_samples).astype(np.float32)
    features = log_mel_spectrogram(samples)
    assert features.shape == (N_MELS, n_samples // HOP_LENGTH + 1) == (N_MELS, n_frames_for(n_samples))
    assert features.dtype == torch.float32
    assert torch.isfinite(features).all()


def test_log_mel_accepts_tensor_and_rejects_stereo() -> None:
    samples = torch.randn(4000)
    np.testing.assert_array_equal(
        log_mel_spectrogram(samples).numpy(), log_mel_spectrogram(samples.numpy()).numpy()
    )
    with pytest.raises(ValueError, match="mono"):
        log_mel_spectrogram(torch.randn(2, 4000))


def test_log_mel_silence_has_no_nan() -> None:
    features = log_mel_spectrogram(np.zeros(SAMPLE_RATE, dtype=np.float32))
    assert torch.isfinite(features).all()
    assert torch.all(features == features[0, 0])


def _slaney_hz_to_mel(hz: float) -> float:
    # Linear below 1 kHz, logarithmic above (Slaney's Auditory Toolbox).
    if hz < 1000.0:
        return 3.0 * hz / 200.0
    return 15.0 + 27.0 * math.log(hz / 1000.0) / math.log(6.4)


def test_log_mel_sine_lands_in_its_band() -> None:
    t = np.arange(SAMPLE_RATE) / SAMPLE_RATE
    features = log_mel_spectrogram(np.sin(2 * np.pi * 1000.0 * t).astype(np.float32))
    band_energy = features.mean(dim=1)
    # Band k is centred on the (k+1)-th of N_MELS + 2 points evenly spaced in mel.
    centres = np.linspace(_slaney_hz_to_mel(F_MIN_HZ), _slaney_hz_to_mel(F_MAX_HZ), N_MELS + 2)[1:-1]
    expected_band = int(np.argmin(np.abs(centres - _slaney_hz_to_mel(1000.0))))
    assert int(band_energy.argmax()) == expected_band
    assert band_energy[expected_band] > band_energy.median() + 1.0  # > 40 dB above the typical band


def test_log_mel_matches_numpy_reference() -> None:
    """Framing and scaling against a direct numpy computation: frame i centred on sample i * HOP_LENGTH."""
    samples = np.random.default_rng(7).standard_normal(SAMPLE_RATE // 4)
    padded = np.pad(samples, N_FFT // 2, mode="reflect")
    window = get_window("hann", N_FFT)  # periodic, as torch.hann_window
    n_frames = n_frames_for(len(samples))
    frames = np.stack([padded[i * HOP_LENGTH : i * HOP_LENGTH + N_FFT] * window for i in range(n_frames)])
    power = np.abs(np.fft.rfft(frames, axis=1)) ** 2
    mel = mel_filters().double().numpy() @ power.T
    log_spec = np.log10(np.maximum(mel, 1e-10))
    expected = (np.maximum(log_spec, log_spec.max() - 8.0) + 4.0) / 4.0
    np.testing.assert_allclose(log_mel_spectrogram(samples).numpy(), expected, atol=1e-4)


def test_time_constants_agree() -> None:
    assert MS_PER_FRAME == HOP_LENGTH * 1000 / SAMPLE_RATE
    assert TOKEN_STEP_MS % 1 == 0 and TOKEN_STEP_MS > 0


def test_frame_helpers() -> None:
    assert [ms_to_frame(t) for t in (0, 7.99, 8, 15.9, 16)] == [0, 0, 1, 1, 2]
    assert frame_to_ms(3) == 24.0
    assert ms_to_frame(frame_to_ms(1234)) == 1234
    assert n_frames_for(0) == 1 and n_frames_for(HOP_LENGTH) == 2


@given(st.integers(min_value=-1000, max_value=10**7))
def test_token_step_round_trip(step: int) -> None:
    assert ms_to_token_step(token_step_to_ms(step)) == step


@given(st.floats(min_value=0.0, max_value=1e7, allow_nan=False))
def test_token_step_decodes_to_centre(time_ms: float) -> None:
    decoded_ms = token_step_to_ms(ms_to_token_step(time_ms))
    assert abs(decoded_ms - time_ms) <= TOKEN_STEP_MS / 2 + 1e-6
    assert ms_to_frame(time_ms) * MS_PER_FRAME <= time_ms < (ms_to_frame(time_ms) + 1) * MS_PER_FRAME


def test_duration_is_the_audio_not_its_last_frame() -> None:
    """40 s of audio: 5,001 centred frames (40,008 ms of frames), but the song ends at 40,000 ms."""
    samples = np.zeros(40 * SAMPLE_RATE, dtype=np.float32)
    assert n_frames_for(len(samples)) * MS_PER_FRAME == 40_008
    assert duration_ms(samples) == 40_000
    assert duration_ms(samples[:-1]) == 39_999
