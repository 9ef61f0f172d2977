"""The synthetic song renderer: onsets follow the objects, seeds are deterministic, kiai is louder,
and render_set / the CLI write Songs-style folders that the audio front end decodes."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from scipy.ndimage import maximum_filter1d, median_filter
from scipy.signal import resample_poly

from osuT5.audio import MS_PER_FRAME, SAMPLE_RATE, load_audio, log_mel_spectrogram
from osuT5.beatmap import Beatmap, TimingIndex, parse_beatmap_file
from osuT5.data.collection import set_key
from osuT5.data.render import main, render_set, render_song, song_length_ms

RENDER_RATE = 22050
STD_MAP = "std/eternity-beatmap-database/ClariS - Hitorigoto -TV MIX - Doormat - Hard.osu"
TAIKO_MAP = "taiko/ppy-osu/Soleily - Renatus - MMzz - Muzukashii.osu"
MANIA_MAP = "mania/eternity-beatmap-database/antiPLUR - Runengon - Raveille - Normal.osu"
SHORT_MAP = "std/eternity-beatmap-database/Will Stetson - Harumachi Clover - Swing Arrangement - Will Stetson - Chancis Expert.osu"
EXCERPT_MS = 25000.0
TOLERANCE_MS = 30.0


def _map(corpus_dir: Path, name: str) -> Beatmap:
    return parse_beatmap_file(corpus_dir / "beatmaps" / name)


def onset_strength(audio: np.ndarray) -> np.ndarray:
    """Positive spectral flux of the log-mel spectrogram, one value per 8 ms frame."""
    mel = log_mel_spectrogram(resample_poly(audio, SAMPLE_RATE, RENDER_RATE)).numpy()
    return np.concatenate([[0.0], np.maximum(np.diff(mel, axis=1), 0.0).sum(axis=0)])


def pick_onsets_ms(strength: np.ndarray) -> np.ndarray:
    """Local maxima (±24 ms) that rise half a standard deviation above the median of ±240 ms."""
    peaks = strength == maximum_filter1d(strength, 7)
    threshold = median_filter(strength, 61) + 0.5 * strength.std()
    return np.flatnonzero(peaks & (strength > threshold)) * float(MS_PER_FRAME)


def fraction_near(times_ms: np.ndarray, onsets_ms: np.ndarray) -> float:
    index = np.clip(np.searchsorted(onsets_ms, times_ms), 1, len(onsets_ms) - 1)
    distance = np.minimum(np.abs(times_ms - onsets_ms[index]), np.abs(times_ms - onsets_ms[index - 1]))
    return float(np.mean(distance <= TOLERANCE_MS))


def strength_at(strength: np.ndarray, times_ms: np.ndarray) -> float:
    frames = np.round(times_ms / MS_PER_FRAME).astype(int)
    return float(np.maximum.reduce([strength[frames - 1], strength[frames], strength[frames + 1]]).mean())


@pytest.mark.parametrize(("name", "seed"), [(STD_MAP, 0), (TAIKO_MAP, 1), (MANIA_MAP, 2)])
def test_onsets_follow_objects(corpus_dir, name, seed):
    beatmap = _map(corpus_dir, name)
    starts = np.sort([o.time for o in beatmap.hit_objects])
    start_ms = float(starts[len(starts) // 3])
    audio = render_song(beatmap, seed, start_ms=start_ms, end_ms=start_ms + EXCERPT_MS)
    assert audio.dtype == np.float32 and audio.ndim == 1
    assert len(audio) == round(EXCERPT_MS * RENDER_RATE / 1000)
    assert 0.5 < np.max(np.abs(audio)) <= 0.9

    strength = onset_strength(audio)
    onsets = pick_onsets_ms(strength)
    objects = starts[(starts >= start_ms + 100) & (starts < start_ms + EXCERPT_MS - 100)] - start_ms
    rng = np.random.default_rng(0)
    random_times = rng.uniform(100, EXCERPT_MS - 100, 1000)
    hit_rate, random_rate = fraction_near(objects, onsets), fraction_near(random_times, onsets)
    contrast = strength_at(strength, objects) / strength_at(strength, random_times)
    print(f"{Path(name).name}: {len(objects)} objects, onset within ±30 ms for {hit_rate:.1%} "
          f"(random times {random_rate:.1%}), strength at objects / random {contrast:.2f}")  # fmt: skip
    assert hit_rate >= 0.8
    assert hit_rate >= random_rate + 0.25
    assert contrast >= 1.5


def test_seeds_are_deterministic_and_distinct(corpus_dir):
    beatmap = _map(corpus_dir, STD_MAP)
    first = render_song(beatmap, 7, start_ms=20000, end_ms=30000)
    again = render_song(beatmap, 7, start_ms=20000, end_ms=30000)
    other = render_song(beatmap, 8, start_ms=20000, end_ms=30000)
    assert np.array_equal(first, again)
    assert first.shape == other.shape
    assert abs(np.corrcoef(first, other)[0, 1]) < 0.5


def test_hitsound_samples_are_optional(corpus_dir):
    beatmap = _map(corpus_dir, TAIKO_MAP)
    samples = corpus_dir / "samples"
    differs = []
    for seed in (0, 4):
        plain = render_song(beatmap, seed, start_ms=30000, end_ms=34000)
        with_samples = render_song(beatmap, seed, samples_dir=samples, start_ms=30000, end_ms=34000)
        assert plain.shape == with_samples.shape and np.all(np.isfinite(with_samples))
        differs.append(not np.array_equal(plain, with_samples))
    assert any(differs)  # some palettes mix the skin's WAVs in, some leave them out


def test_kiai_is_louder(corpus_dir):
    beatmap = _map(corpus_dir, STD_MAP)
    timing = TimingIndex(beatmap.timing_points)
    assert any(p.kiai for p in timing.points)
    audio = render_song(beatmap, 3)
    frame = RENDER_RATE // 10
    n_frames = len(audio) // frame
    rms = np.sqrt(np.mean(audio[: n_frames * frame].reshape(n_frames, frame) ** 2, axis=1))
    times = (np.arange(n_frames) + 0.5) * 100.0
    first, last = beatmap.hit_objects[0].time, beatmap.objects_end_time()
    playing = (times >= first) & (times <= last)
    for start, end in beatmap.breaks:
        playing &= (times < start) | (times > end)
    kiai = np.array([timing.kiai_at(t) for t in times])
    ratio = rms[playing & kiai].mean() / rms[playing & ~kiai].mean()
    print(f"kiai / non-kiai RMS: {ratio:.2f}")
    assert ratio > 1.2


def test_render_set_writes_songs_folders(corpus_dir, tmp_path, capsys):
    src = tmp_path / "src"
    src.mkdir()
    source = corpus_dir / "beatmaps" / SHORT_MAP
    (src / source.name).write_bytes(source.read_bytes())
    (src / "broken.osu").write_text("this is not a beatmap")
    out = tmp_path / "out"

    written = render_set(src, out, variants=2, seed=5)
    assert sorted(p.parent.name for p in written) == [f"{source.stem}_v0", f"{source.stem}_v1"]
    assert "broken.osu" in capsys.readouterr().err
    original = parse_beatmap_file(source)
    decoded = []
    for path in written:
        copy = parse_beatmap_file(path)
        assert copy.audio_filename == "audio.ogg"
        assert copy.hit_objects == original.hit_objects
        audio = load_audio(path.parent / copy.audio_filename)
        assert abs(len(audio) / SAMPLE_RATE - song_length_ms(original) / 1000) < 0.05
        decoded.append(audio)
    assert not np.array_equal(decoded[0], decoded[1])

    before = {p: p.stat().st_mtime_ns for p in out.rglob("*")}
    assert render_set(src, out, variants=2, seed=5) == []  # existing output is kept, not overwritten
    assert "already holds rendered output" in capsys.readouterr().err
    assert {p: p.stat().st_mtime_ns for p in out.rglob("*")} == before


def test_cli(corpus_dir, tmp_path, capsys):
    source = corpus_dir / "beatmaps" / SHORT_MAP
    assert (
        main([str(source), str(tmp_path / "out"), "--variants", "1", "--seed", "3", "--format", "wav"]) == 0
    )
    assert (tmp_path / "out" / f"{source.stem}_v0" / "audio.wav").is_file()
    assert "wrote 1 song folders" in capsys.readouterr().out

    # The real entry point: one line on stderr and exit code 1 for a folder that does not exist.
    missing = subprocess.run(
        [sys.executable, "-m", "osuT5.data.render", str(tmp_path / "nope"), str(tmp_path / "out2")],
        capture_output=True,
        text=True,
    )
    assert missing.returncode == 1
    assert missing.stderr.count("\n") == 1 and "not found" in missing.stderr
    assert not (tmp_path / "out2").exists()


def test_cli_leaves_out_excluded_sets(corpus_dir, tmp_path, capsys):
    """--exclude-sets keeps a model's held-out sets out of a new training render."""
    std = sorted((corpus_dir / "beatmaps" / "std").rglob("*.osu"))[:20]
    keys = {p: set_key(parse_beatmap_file(p), p) for p in std}
    first, other = std[0], next(p for p in std if keys[p] != keys[std[0]])
    src = tmp_path / "src"
    src.mkdir()
    for path in (first, other):
        (src / path.name).write_bytes(path.read_bytes())
    held_out = tmp_path / "held_out_sets.json"
    held_out.write_text(json.dumps([keys[first]]))

    argv = [str(src), str(tmp_path / "out"), "--format", "wav", "--exclude-sets", str(held_out)]
    assert main(argv) == 0
    assert [p.name for p in (tmp_path / "out").iterdir()] == [f"{other.stem}_v0"]

    held_out.write_text('{"set:1": true}')
    assert main([*argv[:2], "--exclude-sets", str(held_out)]) == 1
    assert "expected a JSON list of set keys" in capsys.readouterr().err
