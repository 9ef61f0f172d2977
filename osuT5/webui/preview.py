"""A generated map as the preview page draws it: objects with times, positions and slider paths."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from osuT5.beatmap import HoldNote, Slider, Spinner, parse_beatmap_file
from osuT5.beatmap.slider_path import SliderPath

MAX_PATH_POINTS = 48  # enough to draw a slider's shape; keeps a long map's JSON small


def _kind(obj: Any) -> str:
    if isinstance(obj, Slider):
        return "slider"
    if isinstance(obj, Spinner):
        return "spinner"
    if isinstance(obj, HoldNote):
        return "hold"
    return "circle"


def _slider_path(slider: Slider, format_version: int) -> list[list[float]]:
    try:
        vertices = SliderPath.from_slider(slider, format_version).vertices
    except ValueError:  # a degenerate curve: draw the head alone
        return [[slider.x, slider.y]]
    step = max(1, len(vertices) // MAX_PATH_POINTS)
    points = list(vertices[::step]) + [vertices[-1]]
    return [[round(float(x), 1), round(float(y), 1)] for x, y in points]


def preview_data(path: Path) -> dict[str, Any]:
    """The map at `path` as JSON for the page's playfield and timeline (times in ms, osu! pixels)."""
    beatmap = parse_beatmap_file(path)
    objects = []
    for obj in beatmap.hit_objects:
        item = {
            "t": obj.time,
            "end": obj.end_time,
            "x": obj.x,
            "y": obj.y,
            "kind": _kind(obj),
            "nc": obj.new_combo,
            "hitsound": obj.hitsound,  # taiko: whistle or clap make a kat (blue), else a don (red)
        }
        if isinstance(obj, Slider):
            item["path"] = _slider_path(obj, beatmap.format_version)
            item["slides"] = obj.slides
        objects.append(item)
    return {
        "name": path.name,
        "mode": int(beatmap.mode),
        "title": beatmap.title,
        "version": beatmap.version,
        "circle_size": beatmap.circle_size,
        "approach_rate": beatmap.approach_rate,
        "keys": beatmap.keycount,
        "redlines": [{"t": p.time, "beat_ms": p.ms_per_beat} for p in beatmap.uninherited_points],
        "objects": objects,
    }
