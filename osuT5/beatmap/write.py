"""Write a `Beatmap` back to .osu text: the mirror image of `parse`, section by section."""

from __future__ import annotations

from pathlib import Path

from osuT5.files import atomic_write_text

from .objects import (
    TYPE_CIRCLE,
    TYPE_HOLD_NOTE,
    TYPE_NEW_COMBO,
    TYPE_SLIDER,
    TYPE_SPINNER,
    Beatmap,
    Circle,
    HitObject,
    HitSample,
    HoldNote,
    Slider,
    Spinner,
    TimingPoint,
)

# General and Editor write "Key: value"; Metadata and Difficulty write "Key:value", as osu! does.
_SPACED_SECTIONS = ("General", "Editor")


def format_number(value: float) -> str:
    """Integers without a decimal point; other floats in the shortest form that reads back exactly."""
    if value != value:  # NaN (an inherited point's beat length, kept as osu! keeps it); int() would fail
        return "NaN"
    if value == int(value) and abs(value) < 1e15:
        return str(int(value))
    return repr(float(value))


def beatmap_to_text(beatmap: Beatmap) -> str:
    out: list[str] = [f"osu file format v{beatmap.format_version}", ""]
    for name, section in (
        ("General", beatmap.general),
        ("Editor", beatmap.editor),
        ("Metadata", beatmap.metadata),
        ("Difficulty", beatmap.difficulty),
    ):
        if not section:
            continue
        sep = ": " if name in _SPACED_SECTIONS else ":"
        out.append(f"[{name}]")
        out.extend(f"{key}{sep}{value}" for key, value in section.items())
        out.append("")
    out.append("[Events]")
    out.extend(beatmap.events)
    out.append("")
    out.append("[TimingPoints]")
    out.extend(_timing_point_line(tp) for tp in beatmap.timing_points)
    out.append("")
    if beatmap.colours:
        out.append("[Colours]")
        out.extend(f"{key} : {','.join(str(c) for c in rgb)}" for key, rgb in beatmap.colours.items())
        out.append("")
    for name, lines in beatmap.extra_sections.items():
        out.append(f"[{name}]")
        out.extend(lines)
        out.append("")
    out.append("[HitObjects]")
    out.extend(hit_object_line(obj) for obj in beatmap.hit_objects)
    return "\r\n".join(out) + "\r\n"


def write_beatmap_file(beatmap: Beatmap, path: str | Path, overwrite: bool = False) -> Path:
    """Write atomically; never replaces an existing file unless `overwrite` is given."""
    return atomic_write_text(path, beatmap_to_text(beatmap), overwrite=overwrite)


def _timing_point_line(tp: TimingPoint) -> str:
    fields = [
        format_number(tp.time),
        format_number(tp.beat_length),
        str(tp.meter),
        str(tp.sample_set),
        str(tp.sample_index),
        str(tp.volume),
        "1" if tp.uninherited else "0",
        str(tp.effects),
    ]
    return ",".join(fields)


def hit_sample_text(sample: HitSample) -> str:
    return f"{sample.normal_set}:{sample.addition_set}:{sample.index}:{sample.volume}:{sample.filename}"


def _type_bits(obj: HitObject) -> int:
    if isinstance(obj, Slider):
        bits = TYPE_SLIDER
    elif isinstance(obj, Spinner):
        bits = TYPE_SPINNER
    elif isinstance(obj, HoldNote):
        bits = TYPE_HOLD_NOTE
    else:
        bits = TYPE_CIRCLE
    if obj.new_combo:
        bits |= TYPE_NEW_COMBO
    return bits | (obj.combo_skip & 7) << 4


def _curve_text(slider: Slider) -> str:
    tokens = [slider.curve_type]
    types = slider.point_types or [None] * len(slider.curve_points)
    for (x, y), letter in zip(slider.curve_points, types, strict=True):
        if letter:
            tokens.append(letter)
        tokens.append(f"{format_number(x)}:{format_number(y)}")
    return "|".join(tokens)


def hit_object_line(obj: HitObject) -> str:
    head = [
        format_number(obj.x),
        format_number(obj.y),
        format_number(obj.time),
        str(_type_bits(obj)),
        str(obj.hitsound),
    ]
    sample = hit_sample_text(obj.hit_sample)
    if isinstance(obj, Circle):
        return ",".join([*head, sample])
    if isinstance(obj, Spinner):
        return ",".join([*head, format_number(obj.spinner_end), sample])
    if isinstance(obj, HoldNote):
        return ",".join([*head, f"{format_number(obj.hold_end)}:{sample}"])
    assert isinstance(obj, Slider)
    edge_sounds = "|".join(str(sound) for sound in obj.edge_sounds)
    edge_sets = "|".join(f"{normal}:{addition}" for normal, addition in obj.edge_sets)
    return ",".join(
        [*head, _curve_text(obj), str(obj.slides), format_number(obj.length), edge_sounds, edge_sets, sample]
    )
