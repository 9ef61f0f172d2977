"""Songs for tests: held-out corpus maps (sets the shipped model never trained on) rendered to audio
by `osuT5.data.render`, cut to a short excerpt. Shared by the inference, web UI and CLI tests."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from osuT5.beatmap import parse_beatmap_file, write_beatmap_file
from osuT5.data.collection import set_key
from osuT5.data.render import render_song, write_audio
from osuT5.errors import OsuT5Error
from osuT5.inference.options import DEFAULT_MODEL_PATH
from osuT5.model.ship import held_out_sets

SAMPLE_RATE = 22050


def pick_held_out(corpus_dir: Path, mode: str, excerpt_ms: int, min_objects: int = 30) -> Path:
    """The first held-out `mode` map with `min_objects` objects in its first `excerpt_ms`."""
    held_out = held_out_sets(DEFAULT_MODEL_PATH)
    assert held_out, "the shipped model records no held-out sets"
    for path in sorted((corpus_dir / "beatmaps" / mode).rglob("*.osu")):
        try:
            beatmap = parse_beatmap_file(path)
        except OsuT5Error:
            continue
        early = [h for h in beatmap.hit_objects if h.time < excerpt_ms]
        if set_key(beatmap, path) in held_out and len(early) >= min_objects and beatmap.uninherited_points:
            return path
    raise AssertionError(f"no held-out {mode} map with {min_objects} objects in its first {excerpt_ms} ms")


def render_excerpt(source: Path, folder: Path, excerpt_ms: int) -> Path:
    """A Songs folder: the first `excerpt_ms` of a song rendered from `source` (as audio.ogg), and the
    map cut to it; returns the map's path."""
    beatmap = parse_beatmap_file(source)
    audio = render_song(beatmap, seed=0, end_ms=excerpt_ms)
    write_audio(folder / "audio.ogg", audio, SAMPLE_RATE, "ogg")
    general = {**beatmap.general, "AudioFilename": "audio.ogg"}
    excerpt = replace(
        beatmap,
        general=general,
        hit_objects=[h for h in beatmap.hit_objects if h.end_time <= excerpt_ms - 500],
    )
    return write_beatmap_file(excerpt, folder / source.name)
