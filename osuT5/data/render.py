"""Synthetic songs from real beatmaps: procedural instruments on the hit objects over a backing track
that follows the timing points, so the default model can be trained where no real songs can be had."""

from __future__ import annotations

import argparse
import dataclasses
import functools
import io
import math
import multiprocessing
import sys
import zlib
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import numpy as np
import soundfile as sf
from scipy import signal

from osuT5.beatmap import (
    Beatmap,
    GameMode,
    HoldNote,
    Slider,
    Spinner,
    TimingIndex,
    mania_column,
    parse_beatmap_file,
    write_beatmap_file,
)
from osuT5.beatmap.objects import HITSOUND_CLAP, HITSOUND_FINISH, HITSOUND_WHISTLE
from osuT5.data.beatmap_events import ResolvedSample, object_samples
from osuT5.data.collection import read_set_keys, set_key
from osuT5.errors import OsuT5Error
from osuT5.files import atomic_write_bytes

AudioFormat = Literal["ogg", "wav", "mp3"]
_SOUNDFILE_FORMATS = {"ogg": ("OGG", "VORBIS"), "wav": ("WAV", "PCM_16"), "mp3": ("MP3", "MPEG_LAYER_III")}
# libvorbis overflows its stack on one large write: audio goes to soundfile in blocks of this many frames.
WRITE_BLOCK_FRAMES = 65536
TAIL_MS = 2000.0  # audio continues this long after the last object ends
MAX_SONG_MS = 20 * 60 * 1000.0  # longer maps (marathons) would need gigabytes of buffers
PEAK_LEVEL = 0.89  # peak normalisation leaves 1 dB of headroom
MAX_SUSTAIN_MS = 15000.0
# The backing groove is laid out on 16th notes of a beat kept between these lengths (by octaves).
MIN_BEAT_MS, MAX_BEAT_MS = 250.0, 1200.0
DISTRACTOR_CLEARANCE_MS = 100.0  # distractor notes keep this far from every object

_SCALES = (
    (0, 2, 4, 5, 7, 9, 11),
    (0, 2, 3, 5, 7, 8, 10),
    (0, 2, 3, 5, 7, 9, 10),
    (0, 2, 4, 7, 9),
    (0, 3, 5, 7, 10),
)
_PROGRESSIONS = ((0, 4, 5, 3), (0, 5, 3, 4), (5, 3, 0, 4), (0, 3, 4, 4), (0, 0, 3, 4), (0, 6, 5, 4))
_MELODIC = ("pluck", "piano", "bell", "epiano", "lead", "square", "mallet", "tom")
_SUSTAINED = ("pad", "organ", "strings")
# 16th-note steps of a 4/4 bar carrying a kick or a snare.
_KICK_PATTERNS = ((0, 4, 8, 12), (0, 8, 10), (0, 6, 10), (0, 7, 8), (0,))
_SNARE_PATTERNS = ((4, 12), (8,), (4, 12, 14))
_SET_NAMES = {1: "normal", 2: "soft", 3: "drum"}
_ADDITIONS = ((HITSOUND_WHISTLE, "whistle"), (HITSOUND_FINISH, "finish"), (HITSOUND_CLAP, "clap"))

Key = tuple  # a distinct waveform: ("kick",), ("piano", midi), ("sample", "soft-hitclap"), ...


@dataclass(frozen=True)
class Palette:
    """One song's random choices: key and scale, instruments, groove, mixing levels and effects."""

    wave_seed: int
    root_midi: int
    scale: tuple[int, ...]
    progression: tuple[int, ...]
    lead: str  # every object's note
    accent: str  # whistle layer, an octave up
    sustain: str  # slider bodies, hold notes and spinners
    pad: str
    kick_steps: tuple[int, ...]
    snare_steps: tuple[int, ...]
    hats_outside_kiai: bool
    tone: dict[str, float]
    levels: dict[str, float]
    kiai_gain: float
    break_gain: float
    distractor_rate_hz: float
    mania_step: int
    mania_offset: int
    taiko_melody: bool
    use_samples: bool
    reverb_s: float
    reverb_wet: float
    eq: tuple[float, float, float, float]  # high-pass Hz, low-pass Hz, low-shelf gain, high-shelf gain
    noise_db: float

    def midi(self, degree: int) -> int:
        octave, step = divmod(int(degree), len(self.scale))
        return self.root_midi + 12 * octave + self.scale[step]


def choose_palette(rng: np.random.Generator) -> Palette:
    def pick(options):
        return options[int(rng.integers(len(options)))]

    u = rng.uniform
    tone = {
        "pluck_damp": u(0.990, 0.998), "pluck_soft": u(0.0, 0.6),
        "piano_tilt": u(0.8, 1.8), "piano_decay_s": u(0.4, 1.2), "piano_inharm": u(0.0, 4e-4),
        "bell_ratio": pick((1.4, 2.76, 3.5)), "bell_index": u(1.5, 4.0), "bell_decay_s": u(0.6, 1.6),
        "epiano_index": u(1.0, 3.0), "lead_bright": u(3.0, 12.0),
        "kick_hz": u(45, 65), "kick_sweep": u(2.0, 4.0), "kick_decay_s": u(0.15, 0.4),
        "snare_hz": u(160, 260), "snare_decay_s": u(0.06, 0.18),
        "hat_hz": u(5000, 9000), "hat_decay_s": u(0.015, 0.05), "crash_decay_s": u(0.6, 1.4),
        "don_hz": u(120, 240), "kat_hz": u(500, 1200),
        "pad_detune": u(0.002, 0.008), "pad_bright": u(2.0, 6.0),
    }  # fmt: skip
    levels = {
        "objects": 1.0, "drums": u(0.25, 0.6), "bass": u(0.2, 0.5), "pad": u(0.06, 0.2),
        "distractors": u(0.3, 0.7), "samples": u(0.3, 0.8), "sustain": u(0.15, 0.4),
    }  # fmt: skip
    return Palette(
        wave_seed=int(rng.integers(2**31)),
        root_midi=int(rng.integers(48, 60)),
        scale=pick(_SCALES),
        progression=pick(_PROGRESSIONS),
        lead=pick(_MELODIC),
        accent=pick(_MELODIC[:6]),
        sustain=pick(_SUSTAINED),
        pad=pick(_SUSTAINED),
        kick_steps=pick(_KICK_PATTERNS),
        snare_steps=pick(_SNARE_PATTERNS),
        hats_outside_kiai=bool(rng.random() < 0.7),
        tone=tone,
        levels=levels,
        kiai_gain=u(1.4, 2.0),
        break_gain=u(0.15, 0.4),
        distractor_rate_hz=u(0.2, 1.2),
        mania_step=int(rng.integers(1, 3)),
        mania_offset=int(rng.integers(0, 4)),
        taiko_melody=bool(rng.random() < 0.5),
        use_samples=bool(rng.random() < 0.5),
        reverb_s=u(0.3, 1.5),
        reverb_wet=u(0.05, 0.3),
        eq=(u(20, 80), u(5000, 10000), u(-0.3, 0.5), u(-0.3, 0.4)),
        noise_db=u(-55, -35),
    )


# -- instruments: each returns float32 peaking at 1 --


def _midi_hz(midi: int) -> float:
    return 440.0 * 2.0 ** ((midi - 69) / 12)


def _normalised(x: np.ndarray) -> np.ndarray:
    peak = float(np.max(np.abs(x))) or 1.0
    return (x / peak).astype(np.float32)


def _partials(f: float, n: int, sr: int, ratios, amps, taus) -> np.ndarray:
    """Sum of exponentially decaying sines; partials at or above 0.45 sr are dropped (no aliasing)."""
    ratios, amps, taus = (
        np.broadcast_to(np.asarray(a, float), np.shape(ratios)) for a in (ratios, amps, taus)
    )
    keep = ratios * f < 0.45 * sr
    t = np.arange(n) / sr
    waves = np.sin(2 * np.pi * f * ratios[keep, None] * t) * np.exp(-t / taus[keep, None])
    return amps[keep] @ waves


def _onset(n: int, sr: int, attack_s: float = 0.002) -> np.ndarray:
    return np.minimum(np.arange(n) / (attack_s * sr), 1.0)


def _filtered_noise(rng, n: int, sr: int, kind: str, hz) -> np.ndarray:
    hz = np.minimum(hz, 0.45 * sr)
    return signal.sosfilt(signal.butter(2, hz, kind, fs=sr, output="sos"), rng.uniform(-1, 1, n))


def _sweep(f_start: float, f_end: float, tau_s: float, n: int, sr: int) -> np.ndarray:
    """A sine gliding exponentially from f_start to f_end (drum bodies)."""
    t = np.arange(n) / sr
    freq = f_end + (f_start - f_end) * np.exp(-t / tau_s)
    return np.sin(2 * np.pi * np.cumsum(freq) / sr)


def _pluck(f, sr, rng, tone):
    """Karplus-Strong: a noise burst circulating in a damped delay line, as one IIR filter."""
    period = max(2, round(sr / f - 0.5))  # the two-tap average adds half a sample of delay
    n = int(1.5 * sr)
    burst = signal.lfilter([1 - tone["pluck_soft"]], [1, -tone["pluck_soft"]], rng.uniform(-1, 1, period))
    a = np.zeros(period + 2)
    a[0], a[period], a[period + 1] = 1.0, -tone["pluck_damp"] / 2, -tone["pluck_damp"] / 2
    x = np.zeros(n)
    x[:period] = burst
    return signal.lfilter([1.0], a, x)


def _piano(f, sr, rng, tone):
    n = int(2.0 * sr)
    k = np.arange(1, 13)
    decay_s = tone["piano_decay_s"] * min(2.0, max(0.4, (262.0 / f) ** 0.5))
    body = _partials(
        f,
        n,
        sr,
        k * np.sqrt(1 + tone["piano_inharm"] * k**2),
        k ** -tone["piano_tilt"],
        decay_s / (1 + 0.3 * (k - 1)),
    )
    hammer = rng.uniform(-1, 1, n) * np.exp(-np.arange(n) / (0.004 * sr)) * 0.3
    return (body + hammer) * _onset(n, sr, 0.001)


def _fm(f, sr, ratio, index, index_tau_s, decay_s, length_s):
    n = int(length_s * sr)
    t = np.arange(n) / sr
    modulator = index * np.exp(-t / index_tau_s) * np.sin(2 * np.pi * ratio * f * t)
    return np.sin(2 * np.pi * f * t + modulator) * np.exp(-t / decay_s) * _onset(n, sr)


def _bell(f, sr, rng, tone):
    return _fm(f, sr, tone["bell_ratio"], tone["bell_index"], 0.4, tone["bell_decay_s"], 2.5)


def _epiano(f, sr, rng, tone):
    return _fm(f, sr, 1.0, tone["epiano_index"], 0.12, 0.7, 1.5)


def _lead(f, sr, rng, tone, odd_only=False):
    n = int(0.45 * sr)
    k = np.arange(1, 24, 2 if odd_only else 1)
    t = np.arange(n) / sr
    tone_ = _partials(f, n, sr, k, np.exp(-k / tone["lead_bright"]) / k, np.full(k.shape, 1e9))
    envelope = (0.5 + 0.5 * np.exp(-t / 0.08)) * np.clip((0.45 - t) / 0.08, 0, 1) * _onset(n, sr, 0.003)
    return tone_ * envelope


def _mallet(f, sr, rng, tone):
    return _partials(f, int(1.0 * sr), sr, (1.0, 3.93, 9.2), (1.0, 0.35, 0.1), (0.5, 0.1, 0.03))


def _tom(f, sr, rng, tone):
    n = int(0.6 * sr)
    return _sweep(1.6 * f, f, 0.03, n, sr) * np.exp(-np.arange(n) / (0.25 * sr))


_MELODIC_SYNTHS = {
    "pluck": _pluck, "piano": _piano, "bell": _bell, "epiano": _epiano, "lead": _lead,
    "square": functools.partial(_lead, odd_only=True), "mallet": _mallet, "tom": _tom,
}  # fmt: skip


def _drum(name: str, sr: int, rng, tone) -> np.ndarray:
    def decay(tau_s, length_s):
        return np.exp(-np.arange(int(length_s * sr)) / (tau_s * sr))

    if name in ("kick", "don", "bigdon"):
        f_end, length_s = {"kick": (tone["kick_hz"], 0.5), "don": (tone["don_hz"], 0.4)}.get(
            name, (0.6 * tone["don_hz"], 0.8)
        )
        env = decay(tone["kick_decay_s"] if name == "kick" else length_s / 3, length_s)
        body = _sweep(f_end * tone["kick_sweep"], f_end, 0.02, len(env), sr) * env
        return body + 0.3 * rng.uniform(-1, 1, len(env)) * decay(0.003, length_s)
    if name == "snare":
        env = decay(tone["snare_decay_s"], 0.35)
        body = np.sin(2 * np.pi * tone["snare_hz"] * np.arange(len(env)) / sr) * decay(0.05, 0.35)
        return 0.5 * body + _filtered_noise(rng, len(env), sr, "bandpass", (1000, 8000)) * env * 2
    if name in ("hat", "openhat"):
        env = decay(tone["hat_decay_s"], 0.12) if name == "hat" else decay(0.15, 0.5)
        return _filtered_noise(rng, len(env), sr, "highpass", tone["hat_hz"]) * env
    if name == "clap":
        t = np.arange(int(0.4 * sr)) / sr
        env = sum(np.where(t >= d, np.exp(-(t - d) / 0.004), 0) for d in (0.0, 0.01, 0.02))
        env = env + 0.5 * np.where(t >= 0.02, np.exp(-(t - 0.02) / 0.08), 0)
        return _filtered_noise(rng, len(t), sr, "bandpass", (800, 3000)) * env
    if name == "crash":
        env = decay(tone["crash_decay_s"], 2.0) * _onset(int(2.0 * sr), sr, 0.001)
        return _filtered_noise(rng, len(env), sr, "highpass", 3000) * env
    if name == "kat":
        env = decay(0.02, 0.25)
        click = _filtered_noise(rng, len(env), sr, "bandpass", (2000, 5000)) * env
        return click + np.sin(2 * np.pi * tone["kat_hz"] * np.arange(len(env)) / sr) * decay(0.04, 0.25)
    raise ValueError(f"unknown drum {name!r}")


def _bass(f, sr, rng, tone):
    n = int(0.8 * sr)
    k = np.arange(1, 9)
    return _partials(f, n, sr, k, np.exp(-k / 2.5) / k, np.full(k.shape, 0.4)) * _onset(n, sr, 0.005)


def synth_hit(key: Key, palette: Palette, sr: int) -> np.ndarray:
    """The waveform of a one-shot voice; noise is seeded by the key, so a waveform never depends on
    which other notes a render contains."""
    rng = np.random.default_rng([palette.wave_seed, zlib.crc32(repr(key).encode())])
    if len(key) == 1:
        return _normalised(_drum(key[0], sr, rng, palette.tone))
    synth = _bass if key[0] == "bass" else _MELODIC_SYNTHS[key[0]]
    return _normalised(synth(_midi_hz(key[1]), sr, rng, palette.tone))


def synth_sustain(key: Key, palette: Palette, sr: int, n: int) -> np.ndarray:
    """`n` samples of a steady tone (pads, slider bodies), read from a one-cycle wavetable."""
    name, f = key[0], _midi_hz(key[1])
    rng = np.random.default_rng([palette.wave_seed, zlib.crc32(repr(key).encode())])
    n_harmonics = max(1, min(12, int(0.45 * sr / (f * 1.01))))
    k = np.arange(1, n_harmonics + 1)
    if name == "organ":
        amps, detunes = np.where(np.isin(k, (1, 2, 3, 4, 6, 8)), rng.uniform(0.2, 1.0, k.shape), 0), (1.0,)
    else:
        bright = palette.tone["pad_bright"] * (1.5 if name == "strings" else 1.0)
        d = palette.tone["pad_detune"]
        amps, detunes = np.exp(-k / bright) / k, (1.0, 1 + d, 1 - d)
    table_size = 2048
    phase = np.arange(table_size) / table_size
    table = amps @ np.sin(2 * np.pi * k[:, None] * phase + rng.uniform(0, 2 * np.pi, (len(k), 1)))
    t = np.arange(n)
    out = sum(
        table[(t * (f * det * table_size / sr) + rng.integers(table_size)).astype(np.int64) % table_size]
        for det in detunes
    )
    if name == "strings":  # slow bowing swell
        out = out * (0.85 + 0.15 * np.sin(2 * np.pi * 5.5 * t / sr))
    return _normalised(out)


@functools.lru_cache(maxsize=8)
def load_hitsounds(folder: str, sample_rate: int) -> dict[str, np.ndarray]:
    """`<set>-hit<kind>` WAVs of a skin folder as mono float32 at `sample_rate`; missing files are left out."""
    out = {}
    for set_name in _SET_NAMES.values():
        for kind in ("normal", "whistle", "finish", "clap"):
            path = Path(folder) / f"{set_name}-hit{kind}.wav"
            if not path.is_file():
                continue
            try:
                data, rate = sf.read(path, dtype="float32", always_2d=True)
            except (sf.LibsndfileError, RuntimeError) as e:
                raise OsuT5Error(f"{path}: cannot read hitsound sample ({e})") from None
            mono = data.mean(axis=1)
            if rate != sample_rate:
                g = math.gcd(rate, sample_rate)
                mono = signal.resample_poly(mono, sample_rate // g, rate // g)
            out[f"{set_name}-hit{kind}"] = mono.astype(np.float32)
    return out


# -- the score: which waveform sounds when, how loud --


class _Score:
    """Notes of a song in ms: one-shot hits grouped by waveform, and sustained notes."""

    def __init__(self):
        self.hits: dict[Key, tuple[list[float], list[float]]] = defaultdict(lambda: ([], []))
        self.holds: list[tuple[float, float, Key, float, float]] = []  # time, duration, key, gain, attack s
        self.edges: list[tuple[float, ResolvedSample]] = []  # objects' hitsounds, for skin samples

    def hit(self, key: Key, time_ms: float, gain: float) -> None:
        times, gains = self.hits[key]
        times.append(time_ms)
        gains.append(gain)

    def hit_many(self, key: Key, times_ms: np.ndarray, gains: np.ndarray) -> None:
        if len(times_ms):
            times, out = self.hits[key]
            times.extend(times_ms.tolist())
            out.extend(np.broadcast_to(gains, times_ms.shape).tolist())

    def hold(self, time_ms: float, duration_ms: float, key: Key, gain: float, attack_s: float = 0.01) -> None:
        if duration_ms > 30:
            self.holds.append((time_ms, min(duration_ms, MAX_SUSTAIN_MS), key, gain, attack_s))


def _kiai_mask(timing: TimingIndex, times_ms: np.ndarray) -> np.ndarray:
    """TimingIndex.kiai_at for many times at once."""
    kiai = np.array([p.kiai for p in timing.points] + [False])
    index = np.searchsorted(np.array(timing.times), times_ms, side="right") - 1
    return np.where(index >= 0, kiai[index], False)


def _break_mask(breaks: list[tuple[float, float]], times_ms: np.ndarray) -> np.ndarray:
    mask = np.zeros(times_ms.shape, bool)
    for start, end in breaks:
        mask |= (times_ms >= start) & (times_ms < end)
    return mask


def _object_events(score: _Score, beatmap: Beatmap, timing: TimingIndex, p: Palette, rng) -> None:
    objects = beatmap.hit_objects
    mode = beatmap.mode
    # A random walk over 1.5 octaves of the scale, folded back at its ends.
    span = len(p.scale) * 3 // 2
    walk = np.cumsum(rng.choice((-2, -1, 0, 0, 1, 2), len(objects))) % (2 * span)
    degrees = np.where(walk < span, walk, 2 * span - 1 - walk)
    times = np.array([o.time for o in objects], float)
    gains = (
        p.levels["objects"]
        * rng.lognormal(0.0, 0.15, len(objects))
        * np.where(_kiai_mask(timing, times), 1.1, 1.0)
    )
    column_step = p.mania_step if beatmap.keycount <= 7 else 1
    for obj, degree, gain in zip(objects, degrees.tolist(), gains.tolist(), strict=True):
        samples = object_samples(beatmap, timing, obj)
        if mode == GameMode.MANIA:
            degree = p.mania_offset + column_step * mania_column(obj.x, beatmap.keycount)
        if isinstance(obj, Slider):
            edges = [obj.time + i * obj.span_duration for i in range(len(samples))]
        elif isinstance(obj, Spinner):  # osu! plays a spinner's hitsound when it ends
            edges, samples = [obj.time, obj.end_time], [dataclasses.replace(samples[0], bits=0), samples[0]]
        else:
            edges = [obj.time]
        if mode == GameMode.TAIKO:
            _taiko_object(score, p, obj, degree, samples[0], gain, timing)
            continue
        for i, (time, sample) in enumerate(zip(edges, samples, strict=True)):
            # Repeats alternate between two pitches, as a melody would.
            _note(score, p, time, degree + 2 * (i % 2), sample, gain if i == 0 else 0.8 * gain)
        if isinstance(obj, Slider | Spinner | HoldNote):
            score.hold(
                obj.time, obj.end_time - obj.time, (p.sustain, p.midi(degree)), gain * p.levels["sustain"]
            )


def _note(score: _Score, p: Palette, time: float, degree: int, sample: ResolvedSample, gain: float) -> None:
    """A melodic note with layers for its additions: whistle an octave up, finish a crash and a low
    octave, clap a clap."""
    gain *= 0.35 + 0.65 * sample.volume / 100
    octave = len(p.scale)
    score.hit((p.lead, p.midi(degree)), time, gain)
    if sample.bits & HITSOUND_WHISTLE:
        score.hit((p.accent, p.midi(degree + octave)), time, 0.6 * gain)
    if sample.bits & HITSOUND_FINISH:
        score.hit(("crash",), time, 0.5 * gain)
        score.hit((p.lead, p.midi(degree - octave)), time, 0.6 * gain)
    if sample.bits & HITSOUND_CLAP:
        score.hit(("clap",), time, 0.6 * gain)
    score.edges.append((time, sample))


def _taiko_object(score, p, obj, degree, sample, gain, timing) -> None:
    """Don: a centre drum; kat (whistle or clap): a rim click; finish: a big hit. Drumrolls are fast
    soft hits, denden spinners a held note."""
    kat = bool(sample.bits & (HITSOUND_WHISTLE | HITSOUND_CLAP))
    big = bool(sample.bits & HITSOUND_FINISH)
    gain *= 0.35 + 0.65 * sample.volume / 100
    score.hit(("kat",) if kat else ("don",), obj.time, gain * (1.4 if big else 1.0))
    if big:
        score.hit(("crash",) if kat else ("bigdon",), obj.time, 0.6 * gain)
    if p.taiko_melody:
        score.hit((p.lead, p.midi(degree + (len(p.scale) if kat else 0))), obj.time, 0.4 * gain)
    score.edges.append((obj.time, sample))
    if isinstance(obj, Slider):
        step_ms = timing.redline_at(obj.time).ms_per_beat / 4
        while step_ms < 50:
            step_ms *= 2
        ticks = np.arange(obj.time + step_ms, obj.end_time + 1, step_ms)
        score.hit_many(("don",), ticks, 0.3 * gain)
    elif isinstance(obj, Spinner):
        score.hold(obj.time, obj.end_time - obj.time, (p.sustain, p.midi(degree)), gain * p.levels["sustain"])


def _beat_grid(timing: TimingIndex, end_ms: float) -> dict[str, np.ndarray]:
    """The 16th-note steps of every redline section up to `end_ms`: time, step in the beat, beat in
    the bar, bar number (counted through the song), beat length, meter and section end."""
    redlines = timing.redlines
    pieces = []
    bars_before = 0
    for i, red in enumerate(redlines):
        stop_ms = redlines[i + 1].time if i + 1 < len(redlines) else end_ms
        beat_ms = red.ms_per_beat
        while beat_ms < MIN_BEAT_MS:
            beat_ms *= 2
        while beat_ms > MAX_BEAT_MS:
            beat_ms /= 2
        step_ms = beat_ms / 4
        # Sections start at 0 ms at the earliest (some maps put a redline hours before the song).
        first = math.ceil(-red.time / step_ms) if red.time < 0 else 0
        j = np.arange(first, max(first, math.ceil((stop_ms - red.time) / step_ms)))
        if not len(j):
            continue
        beat, sub = np.divmod(j, 4)
        bar, in_bar = np.divmod(beat, red.beats_per_measure)
        fill = np.ones(len(j))
        pieces.append((red.time + j * step_ms, sub, in_bar, bars_before + bar - bar[0], beat_ms * fill,
                       red.beats_per_measure * fill, stop_ms * fill))  # fmt: skip
        bars_before += int(bar[-1] - bar[0]) + 1
    names = ("time", "sub", "in_bar", "bar", "beat_ms", "meter", "stop_ms")
    return {
        name: np.concatenate(column) for name, column in zip(names, zip(*pieces, strict=True), strict=True)
    }


def _backing_events(
    score: _Score, beatmap: Beatmap, timing: TimingIndex, p: Palette, rng, end_ms: float
) -> None:
    """Drums, bass and pads on the 16th-note grid of every redline (its BPM, offset and meter);
    louder and denser in kiai, quieter in breaks."""
    grid = _beat_grid(timing, end_ms)
    if not grid:
        return
    t, sub, in_bar, bar = grid["time"], grid["sub"], grid["in_bar"], grid["bar"]
    bar_ms = grid["beat_ms"] * grid["meter"]
    kiai = _kiai_mask(timing, t)
    level = np.where(kiai, p.kiai_gain, 1.0) * np.where(_break_mask(beatmap.breaks, t), p.break_gain, 1.0)
    level = level * rng.lognormal(0.0, 0.08, len(t))
    step16 = (in_bar * 4 + sub) % 16
    bar_start = sub + in_bar == 0
    parts = {
        ("kick",): (np.isin(step16, p.kick_steps) | (kiai & (sub == 0)), 1.0),
        ("snare",): (np.isin(step16, p.snare_steps), 0.8),
        ("hat",): (((sub % 2 == 0) & p.hats_outside_kiai) | kiai, 0.35),  # 8ths, 16ths in kiai
        ("openhat",): (kiai & (sub == 2) & (in_bar % 2 == 1), 0.3),
        # A crash where kiai starts and at the top of every 8-bar phrase.
        ("crash",): (bar_start & ((bar % 8 == 0) | (kiai & ~_kiai_mask(timing, t - bar_ms))), 0.5),
    }
    for key, (mask, gain) in parts.items():
        score.hit_many(key, t[mask], gain * p.levels["drums"] * level[mask])
    chord_root = np.array(p.progression)[bar % len(p.progression)]
    bass = (sub == 0) | (kiai & (sub == 2))
    for root in np.unique(chord_root[bass]).tolist():
        mask = bass & (chord_root == root)
        score.hit_many(("bass", p.midi(root) - 12), t[mask], p.levels["bass"] * level[mask])
    for k in np.flatnonzero(bar_start).tolist():
        duration = min(bar_ms[k], grid["stop_ms"][k] - t[k])
        for degree in (0, 2, 4):
            key = (p.pad, p.midi(int(chord_root[k]) + degree))
            score.hold(float(t[k]), duration, key, p.levels["pad"] * float(level[k]), attack_s=0.15)


def _distractor_events(
    score: _Score, beatmap: Beatmap, p: Palette, rng, start_ms: float, end_ms: float
) -> None:
    """Notes that no object follows, at a low random rate and away from every object."""
    n = rng.poisson(p.distractor_rate_hz * max(0.0, end_ms - start_ms) / 1000)
    times = np.sort(rng.uniform(start_ms, end_ms, n))
    voices = (p.lead, p.accent, "tom", ("clap",), ("openhat",), _MELODIC[int(rng.integers(len(_MELODIC)))])
    choices = rng.integers(len(voices), size=n)
    degrees = rng.integers(0, 12, size=n)
    gains = p.levels["distractors"] * rng.uniform(0.4, 1.0, n)
    objects = np.sort([o.time for o in beatmap.hit_objects])
    nearest = np.searchsorted(objects, times)
    distance = np.minimum(
        np.abs(times - objects[np.clip(nearest, 0, len(objects) - 1)]),
        np.abs(times - objects[np.clip(nearest - 1, 0, len(objects) - 1)]),
    )
    far = distance > DISTRACTOR_CLEARANCE_MS
    for time, choice, degree, gain in zip(times[far], choices[far], degrees[far], gains[far], strict=True):
        voice = voices[choice]
        score.hit(voice if isinstance(voice, tuple) else (voice, p.midi(degree)), float(time), float(gain))


def _sample_events(score: _Score, p: Palette, hitsounds: dict[str, np.ndarray]) -> None:
    """The skin's hitsound WAVs on every object edge: the normal sound plus each addition."""
    for time, sample in score.edges:
        gain = p.levels["samples"] * sample.volume / 100
        names = [f"{_SET_NAMES[sample.normal_set]}-hitnormal"]
        names += [
            f"{_SET_NAMES[sample.addition_set]}-hit{kind}" for bit, kind in _ADDITIONS if sample.bits & bit
        ]
        for name in names:
            if name in hitsounds:
                score.hit(("sample", name), time, gain)


# -- rendering and mixing --


def _place(buf: np.ndarray, wave: np.ndarray, offsets: np.ndarray, gains: np.ndarray) -> None:
    """Add `wave` scaled by each gain at each sample offset, clipped to the buffer."""
    n, m = len(buf), len(wave)
    keep = (offsets < n) & (offsets + m > 0)
    for offset, gain in zip(offsets[keep].tolist(), gains[keep].tolist(), strict=True):
        a, b = max(offset, 0), min(offset + m, n)
        buf[a:b] += gain * wave[a - offset : b - offset]


def _render_score(score: _Score, p: Palette, sr: int, start_ms: float, n: int, hitsounds) -> np.ndarray:
    buf = np.zeros(n, np.float32)
    for key, (times, gains) in score.hits.items():
        wave = hitsounds[key[1]] if key[0] == "sample" else synth_hit(key, p, sr)
        offsets = np.round((np.array(times) - start_ms) * sr / 1000).astype(np.int64)
        _place(buf, wave, offsets, np.array(gains, np.float32))
    # Each sustained voice is synthesised once, as long as its longest note, and sliced per note.
    holds = [
        (round((t - start_ms) * sr / 1000), round(d * sr / 1000), k, g, a) for t, d, k, g, a in score.holds
    ]
    holds = [h for h in holds if h[0] < n and h[0] + h[1] > 0]
    longest: dict[Key, int] = {}
    for _, length, key, _, _ in holds:
        longest[key] = max(longest.get(key, 0), length)
    tones = {key: synth_sustain(key, p, sr, length) for key, length in longest.items()}
    for offset, length, key, gain, attack_s in holds:
        release = min(int(0.1 * sr), length // 3)
        envelope = np.minimum(np.arange(length) / max(1.0, attack_s * sr), 1.0)
        envelope[length - release :] *= np.linspace(1.0, 0.0, release)
        _place(buf, (tones[key][:length] * envelope).astype(np.float32), np.array([offset]), np.array([gain]))
    return buf


def _master(mix: np.ndarray, p: Palette, sr: int, rng: np.random.Generator) -> np.ndarray:
    """Reverb (a convolution with a decaying noise tail), EQ, background noise, peak normalisation."""
    n = len(mix)
    tail = np.arange(int(p.reverb_s * sr))
    pre_delay = int(rng.uniform(0.01, 0.03) * sr)
    impulse = np.concatenate(
        [np.zeros(pre_delay), rng.standard_normal(len(tail)) * np.exp(-6.9 * tail / len(tail))]
    )
    impulse = signal.lfilter([0.5], [1, -0.5], impulse)  # a darker tail
    impulse /= np.sqrt(np.sum(impulse**2))
    send = signal.sosfilt(signal.butter(2, 250, "highpass", fs=sr, output="sos"), mix)  # keep the lows dry
    out = mix + p.reverb_wet * signal.oaconvolve(send, impulse.astype(np.float32))[:n]
    high_pass_hz, low_pass_hz, low_gain, high_gain = p.eq
    out = signal.sosfilt(signal.butter(2, high_pass_hz, "highpass", fs=sr, output="sos"), out)
    out = signal.sosfilt(signal.butter(2, min(low_pass_hz, 0.45 * sr), "lowpass", fs=sr, output="sos"), out)
    out += low_gain * signal.sosfilt(signal.butter(2, 300, "lowpass", fs=sr, output="sos"), out)
    out += high_gain * signal.sosfilt(signal.butter(2, 3000, "highpass", fs=sr, output="sos"), out)
    white = rng.standard_normal(n)
    noise = 0.3 * white + signal.lfilter([0.1], [1, -0.98], white)  # some hiss, mostly rumble
    rms = float(np.sqrt(np.mean(out**2))) if n else 0.0
    out += noise * (rms * 10 ** (p.noise_db / 20) / (float(np.std(noise)) or 1.0))
    peak = float(np.max(np.abs(out))) if n else 0.0
    return (out * (PEAK_LEVEL / peak if peak > 0 else 1.0)).astype(np.float32)


def song_length_ms(beatmap: Beatmap) -> float:
    """Until the last object ends plus TAIL_MS, and at least to the last timing point."""
    last_point = max((tp.time for tp in beatmap.timing_points), default=0.0)
    return max(beatmap.objects_end_time() + TAIL_MS, last_point)


def unrenderable_reason(beatmap: Beatmap) -> str | None:
    """Why `beatmap` cannot be rendered, or None when it can."""
    if not beatmap.hit_objects:
        return "the beatmap has no hit objects"
    if not beatmap.uninherited_points:
        return "the beatmap has no uninherited timing point"
    if song_length_ms(beatmap) > MAX_SONG_MS:
        return f"the beatmap is longer than {MAX_SONG_MS / 60000:.0f} minutes"
    return None


def render_song(
    beatmap: Beatmap,
    seed: int,
    samples_dir: Path | None = None,
    sample_rate: int = 22050,
    start_ms: float | None = None,
    end_ms: float | None = None,
) -> np.ndarray:
    """Render a synthetic song whose notes follow `beatmap`: mono float32 of shape (n_samples,) at
    `sample_rate` Hz, sample 0 at beatmap time `start_ms` (default 0), peak PEAK_LEVEL, lasting
    `song_length_ms` unless `end_ms` cuts it. The same (beatmap, seed) gives the same audio; an excerpt
    plays the same notes as the whole song (only the reverb tail from before it, the noise and the level differ), quicker for
    tests. `samples_dir` optionally holds osu! hitsound WAVs (`soft-hitclap.wav`, ...) that some
    palettes mix on the objects. Raises OsuT5Error for a beatmap `unrenderable_reason` rejects."""
    reason = unrenderable_reason(beatmap)
    if reason:
        raise OsuT5Error(f"{beatmap.path or '<beatmap>'}: {reason}")
    length_ms = song_length_ms(beatmap)
    start_ms = max(0.0, start_ms or 0.0)
    end_ms = length_ms if end_ms is None else min(end_ms, length_ms)
    if end_ms <= start_ms:
        raise ValueError(f"empty excerpt: start {start_ms} ms, end {end_ms} ms (song {length_ms:.0f} ms)")
    # Separate streams: the arrangement never depends on the excerpt, the mix noise never on the notes.
    score_rng, mix_rng = (np.random.default_rng(s) for s in np.random.SeedSequence(seed).spawn(2))
    palette = choose_palette(score_rng)
    timing = TimingIndex(beatmap.timing_points)
    score = _Score()
    _object_events(score, beatmap, timing, palette, score_rng)
    _backing_events(score, beatmap, timing, palette, score_rng, length_ms)
    _distractor_events(score, beatmap, palette, score_rng, max(0.0, timing.redlines[0].time), length_ms)
    hitsounds: dict[str, np.ndarray] = {}
    if samples_dir is not None and palette.use_samples:
        hitsounds = load_hitsounds(str(samples_dir), sample_rate)
        taiko_dir = Path(samples_dir) / "taiko-ruleset"
        if beatmap.mode == GameMode.TAIKO and taiko_dir.is_dir():
            hitsounds = {**hitsounds, **load_hitsounds(str(taiko_dir), sample_rate)}
        _sample_events(score, palette, hitsounds)
    n_samples = round((end_ms - start_ms) * sample_rate / 1000)
    return _master(
        _render_score(score, palette, sample_rate, start_ms, n_samples, hitsounds),
        palette,
        sample_rate,
        mix_rng,
    )


# -- Songs-style output folders and the command line --


def write_audio(path: Path, audio: np.ndarray, sample_rate: int, audio_format: AudioFormat) -> Path:
    """Encode mono float32 audio in blocks (see WRITE_BLOCK_FRAMES) and write it atomically."""
    container, subtype = _SOUNDFILE_FORMATS[audio_format]
    buffer = io.BytesIO()
    with sf.SoundFile(
        buffer, "w", samplerate=sample_rate, channels=1, format=container, subtype=subtype
    ) as f:
        for start in range(0, len(audio), WRITE_BLOCK_FRAMES):
            f.write(audio[start : start + WRITE_BLOCK_FRAMES])
    return atomic_write_bytes(path, buffer.getvalue())


@dataclass(frozen=True)
class _RenderJob:
    path: Path
    folder: Path
    seed: int
    samples: Path | None
    sample_rate: int
    audio_format: AudioFormat


def _render_job(job: _RenderJob) -> Path:
    """Render one song and write it with a copy of its beatmap (the copy names the new audio)."""
    beatmap = parse_beatmap_file(job.path)
    audio_name = f"audio.{job.audio_format}"
    # AudioFilename keeps its place, or leads [General] when the map had none.
    general = {"AudioFilename": audio_name, **beatmap.general}
    general["AudioFilename"] = audio_name
    copy = dataclasses.replace(beatmap, general=general)
    audio = render_song(beatmap, job.seed, job.samples, job.sample_rate)
    write_audio(job.folder / audio_name, audio, job.sample_rate, job.audio_format)
    return write_beatmap_file(copy, job.folder / job.path.name)


def variant_seed(seed: int, name: str, variant: int) -> int:
    """A seed per (run seed, beatmap, variant), stable across runs and machines."""
    return int(np.random.SeedSequence([seed, zlib.crc32(name.encode()), variant]).generate_state(1)[0])


def render_set(
    src_dir: str | Path,
    out_dir: str | Path,
    variants: int,
    seed: int,
    samples_dir: str | Path | None = None,
    audio_format: AudioFormat = "ogg",
    sample_rate: int = 22050,
    progress: bool = False,
    workers: int = 1,
    exclude_sets: set[str] | None = None,
) -> list[Path]:
    """Render `variants` songs for every .osu under `src_dir` (or for one .osu file) into
    `out_dir/<name>_v<k>/`: the audio plus a copy of the beatmap naming it. Returns the written .osu
    paths. Beatmaps that cannot be read or rendered, and folders that already hold output, are
    skipped with a warning line on stderr; nothing is overwritten. `workers` > 1 renders songs in
    that many processes; every song keeps its own seed, so the output does not depend on it.
    Beatmaps whose set key (`osuT5.data.collection.set_key`) is in `exclude_sets` are left out: a
    model's held-out sets stay unseen when it is trained further on a new render."""
    from tqdm import tqdm

    src, out = Path(src_dir), Path(out_dir)
    if not src.exists():
        raise OsuT5Error(f"{src}: not found")
    if samples_dir is not None and not Path(samples_dir).is_dir():
        raise OsuT5Error(f"{samples_dir}: hitsound samples folder not found")
    if audio_format not in _SOUNDFILE_FORMATS:
        raise OsuT5Error(
            f"unknown audio format {audio_format!r}; choose one of {', '.join(_SOUNDFILE_FORMATS)}"
        )
    if variants < 1:
        raise OsuT5Error(f"--variants must be at least 1, got {variants}")
    paths = [src] if src.is_file() else sorted(src.rglob("*.osu"))
    if not paths:
        raise OsuT5Error(f"{src}: no .osu files found")
    samples = Path(samples_dir) if samples_dir is not None else None
    audio_name = f"audio.{audio_format}"
    written = []
    bar = tqdm(total=len(paths) * variants, unit="song", disable=not progress, file=sys.stderr)

    def warn(message: str) -> None:
        tqdm.write(f"warning: {message}", file=sys.stderr)

    jobs: list[_RenderJob] = []
    for path in paths:
        try:
            beatmap = parse_beatmap_file(path)
        except OsuT5Error as e:
            warn(f"{e}; skipped")
            bar.update(variants)
            continue
        if exclude_sets and set_key(beatmap, path) in exclude_sets:
            bar.update(variants)
            continue
        if reason := unrenderable_reason(beatmap):
            warn(f"{path}: {reason}; skipped")
            bar.update(variants)
            continue
        name = path.name if path == src else path.relative_to(src).as_posix()
        for k in range(variants):
            folder = out / f"{path.stem}_v{k}"
            if (folder / path.name).exists() or (folder / audio_name).exists():
                warn(f"{folder}: already holds rendered output; skipped")
                bar.update(1)
            else:
                jobs.append(
                    _RenderJob(path, folder, variant_seed(seed, name, k), samples, sample_rate, audio_format)
                )
    if workers > 1 and len(jobs) > 1:
        with multiprocessing.get_context("spawn").Pool(workers) as pool:
            for osu_path in pool.imap(_render_job, jobs):
                written.append(osu_path)
                bar.update(1)
    else:
        for job in jobs:
            written.append(_render_job(job))
            bar.update(1)
    bar.close()
    return written


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m osuT5.data.render",
        description="Render synthetic songs that follow each beatmap into Songs-style folders.",
    )
    parser.add_argument("src", help="a folder of .osu files (searched recursively) or one .osu file")
    parser.add_argument("out", help="where the Songs-style folders <name>_v<k>/ are written")
    parser.add_argument("--variants", type=int, default=1, help="songs rendered per beatmap (default 1)")
    parser.add_argument("--seed", type=int, default=0, help="run seed; the same seed renders the same songs")
    parser.add_argument("--samples", help="folder of osu! hitsound WAVs (<set>-hit<kind>.wav) to mix in")
    parser.add_argument("--format", choices=sorted(_SOUNDFILE_FORMATS), default="ogg", help="audio format")
    parser.add_argument("--sample-rate", type=int, choices=(22050, 44100), default=22050)
    parser.add_argument("--workers", type=int, default=1, help="songs rendered in parallel processes")
    parser.add_argument(
        "--exclude-sets",
        metavar="JSON",
        help="leave out the beatmap sets listed in this JSON list of set keys (a model's held_out_sets.json)",
    )
    args = parser.parse_args(argv)
    try:
        excluded = read_set_keys(args.exclude_sets) if args.exclude_sets else None
        written = render_set(
            args.src,
            args.out,
            args.variants,
            args.seed,
            args.samples,
            args.format,
            args.sample_rate,
            progress=True,
            workers=args.workers,
            exclude_sets=excluded,
        )
    except OsuT5Error as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    print(f"wrote {len(written)} song folders to {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
