"""Is a generated map playable? Counts of what would make osu! or a player reject it."""

from __future__ import annotations

from dataclasses import dataclass

from osuT5.beatmap import Beatmap, GameMode, Slider, Spinner, beatmap_to_text, column_clashes, time_clashes
from osuT5.beatmap.slider_path import SliderPath


@dataclass
class Validity:
    objects: int = 0
    outside_playfield: int = 0  # std / catch: heads or slider ends off the 512 x 384 field
    column_overlaps: int = 0  # mania: a note starting while its column is still held (or twice at once)
    time_overlaps: int = 0  # std, taiko, catch: an object on top of the previous one (`time_clashes`)
    outside_song: int = 0  # starting before 0 or ending after the audio
    out_of_order: int = 0  # start times going backwards
    rosu_loads: bool = True

    @property
    def ok(self) -> bool:
        return self.rosu_loads and not (
            self.outside_playfield
            or self.column_overlaps
            or self.time_overlaps
            or self.outside_song
            or self.out_of_order
        )


def check_validity(beatmap: Beatmap, song_ms: float) -> Validity:
    import rosu_pp_py as rosu

    objects = beatmap.hit_objects
    report = Validity(objects=len(objects))
    report.out_of_order = sum(b.time < a.time for a, b in zip(objects, objects[1:], strict=False))
    report.outside_song = sum(h.time < 0 or h.end_time > song_ms for h in objects)
    if beatmap.mode in (GameMode.STD, GameMode.CATCH):
        for h in objects:
            if isinstance(h, Spinner):
                continue
            points = [(h.x, h.y)]
            if isinstance(h, Slider):
                points.append(tuple(SliderPath.from_slider(h).end_position))
            report.outside_playfield += any(not (0 <= x <= 512 and 0 <= y <= 384) for x, y in points)
    if beatmap.mode == GameMode.MANIA:
        report.column_overlaps = sum(column_clashes(objects, beatmap.keycount))
    else:
        report.time_overlaps = sum(time_clashes(objects))
    try:
        stars = rosu.Difficulty().calculate(rosu.Beatmap(content=beatmap_to_text(beatmap))).stars
        report.rosu_loads = stars == stars  # not NaN
    except Exception:  # rosu raises its own ParseError types
        report.rosu_loads = False
    return report
