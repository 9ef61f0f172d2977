"""Read .osu text (format v3..v14 and osu!lazer's v128) into a `Beatmap`, leniently as osu! does."""

from __future__ import annotations

import math
import re
from pathlib import Path

from osuT5.errors import BeatmapError

from .objects import (
    TYPE_CIRCLE,
    TYPE_COMBO_SKIP_MASK,
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
from .timing import TimingIndex

HEADER_PREFIX = "osu file format v"
# Line breaks as osu!'s reader splits lines: not str.splitlines(), which also breaks at \x85 and
# U+2028 (found in latin-1 metadata) and would cut a line in two.
LINE_BREAK_RE = re.compile(r"\r\n|\r|\n")
SECTION_RE = re.compile(r"^\[(\w+)\]\s*$")
# osu! refuses coordinates and times beyond these magnitudes.
MAX_COORDINATE = 131072.0
MAX_TIME_MS = 2**31 - 1
MAX_PARSE = 2**31 - 1  # osu!'s limit for any number it parses (int.MaxValue)
MAX_SLIDES = 9000
MAX_VERSION = 2**31 - 1
KEY_VALUE_SECTIONS = {
    "General": "general",
    "Editor": "editor",
    "Metadata": "metadata",
    "Difficulty": "difficulty",
}
CURVE_LETTERS = frozenset("BLPC")
LATEST_VERSION = 14


class _LineError(ValueError):
    """A problem in one line; the parser adds the file and line number."""


def parse_beatmap_file(path: str | Path) -> Beatmap:
    """Parse a .osu file from disk. Raises `BeatmapError` (naming file and line) on bad input."""
    path = Path(path)
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise BeatmapError("file not found", path) from None
    except IsADirectoryError:
        raise BeatmapError("is a directory, not a .osu file", path) from None
    except OSError as e:
        raise BeatmapError(f"cannot read file ({e.strerror})", path) from None
    beatmap = parse_beatmap_bytes(data, path)
    beatmap.path = path
    return beatmap


def parse_beatmap_bytes(data: bytes, path: str | Path | None = None) -> Beatmap:
    try:
        # osu! honours a UTF-16 byte-order mark (files saved by Notepad as "Unicode").
        text = data.decode("utf-16") if data[:2] in (b"\xff\xfe", b"\xfe\xff") else data.decode("utf-8-sig")
    except UnicodeDecodeError:
        # Some very old maps are not UTF-8; osu! reads them with the system code page.
        text = data.decode("latin-1")
    if "\x00" in text:
        raise BeatmapError("binary data, not a .osu text file", path)
    return parse_beatmap_text(text, path)


def parse_beatmap_text(text: str, path: str | Path | None = None) -> Beatmap:
    lines = LINE_BREAK_RE.split(text)
    beatmap = Beatmap(path=Path(path) if path is not None else None)
    start = _read_header(lines, beatmap, path)
    section: str | None = None
    raw_hit_objects: list[tuple[int, str]] = []
    saw_section = False
    for number, raw in enumerate(lines[start:], start=start + 1):
        line = raw.rstrip()
        stripped = line.strip()
        if not stripped or stripped.startswith("//"):
            # Blank or a comment; [Events] keeps its comments (they name the storyboard layers).
            if stripped and section == "Events":
                beatmap.events.append(line)
            continue
        # Like osu!, cut "// comment" off line ends, except in Metadata whose values may hold "//".
        if section != "Metadata" and "//" in stripped:
            stripped = stripped[: stripped.index("//")].rstrip()
        match = SECTION_RE.match(stripped) if stripped[0] == "[" else None
        if match:
            section = match.group(1)
            saw_section = True
            if section not in KEY_VALUE_SECTIONS and section not in (
                "Events",
                "TimingPoints",
                "Colours",
                "HitObjects",
            ):
                beatmap.extra_sections.setdefault(section, [])
                beatmap.warnings.append(f"line {number}: unknown section [{section}] kept verbatim")
            continue
        if section == "Events":
            beatmap.events.append(line)  # verbatim: storyboard lines are indented
            continue
        if section is None:
            continue
        try:
            if section in KEY_VALUE_SECTIONS:
                _read_key_value(getattr(beatmap, KEY_VALUE_SECTIONS[section]), stripped)
            elif section == "TimingPoints":
                _read_timing_line(beatmap, stripped, number)
            elif section == "Colours":
                _read_colour(beatmap, stripped, number)
            elif section == "HitObjects":
                raw_hit_objects.append((number, stripped))
            else:
                beatmap.extra_sections[section].append(line)
        except _LineError as e:
            raise BeatmapError(str(e), path, number) from None
    # A header alone is an (empty) beatmap to osu!; without either, the text is not a beatmap.
    if not saw_section and start == 0:
        raise BeatmapError("no 'osu file format vN' header and no [Section]: not a .osu beatmap", path)
    _read_hit_objects(beatmap, raw_hit_objects, path)
    return beatmap


def _read_header(lines: list[str], beatmap: Beatmap, path) -> int:
    """Return the index of the first line after the header (0 if there is none).

    Like osu!, only a first non-blank line that starts with the header counts; a missing or
    mangled header means the latest version, and a header with an unreadable number is an error.
    """
    for index, line in enumerate(lines):
        line = line.strip().lstrip("\ufeff")
        if not line:
            continue
        if line.startswith(HEADER_PREFIX):
            number = line[len(HEADER_PREFIX) :].strip()
            if not (number.isascii() and number.isdigit() and len(number) < 11) or int(number) > MAX_VERSION:
                raise BeatmapError(f"unreadable format version in header {line!r}", path, index + 1)
            beatmap.format_version = int(number)
            return index + 1
        # osu! falls back to the latest format when the header is absent or mangled.
        beatmap.format_version = LATEST_VERSION
        beatmap.warnings.append(
            f"line {index + 1}: no 'osu file format vN' header, reading as v{LATEST_VERSION}"
        )
        return 0
    raise BeatmapError("empty file", path)


def _read_key_value(section: dict[str, str], line: str) -> None:
    key, sep, value = line.partition(":")
    if not sep:
        return  # osu! ignores lines without a separator
    section[key.strip()] = value.strip()


def _number(text: str, what: str, limit: float | None = None, allow_nan: bool = False) -> float:
    # The hot path of parsing (millions of calls over a corpus): one float() and one comparison.
    try:
        value = float(text)
    except ValueError:
        raise _LineError(f"{what} is not a number: {text.strip()!r}") from None
    if value - value != 0.0:  # NaN or infinite
        if allow_nan and math.isnan(value):
            return value
        raise _LineError(f"{what} is NaN" if math.isnan(value) else f"{what} out of range: {text.strip()!r}")
    if limit is not None and not -limit <= value <= limit:
        raise _LineError(f"{what} out of range: {text.strip()!r}")
    return value


def _integer(text: str, what: str) -> int:
    try:
        value = int(text)  # fast path for the usual plain integer
    except ValueError:
        return int(_number(text, what, limit=2**31))
    if not -(2**31) <= value <= 2**31:
        raise _LineError(f"{what} out of range: {text.strip()!r}")
    return value


def _read_timing_line(beatmap: Beatmap, line: str, number: int) -> None:
    # osu! skips a timing line it cannot read and loads the rest of the map; so do we.
    try:
        beatmap.timing_points.append(_read_timing_point(line, beatmap))
    except _LineError as e:
        beatmap.warnings.append(f"line {number}: timing point skipped: {e}")


def _read_timing_point(line: str, beatmap: Beatmap) -> TimingPoint:
    parts = line.split(",")
    if len(parts) < 2:
        raise _LineError("timing point needs at least a time and a beat length")
    time = _number(parts[0], "timing point time")
    beat_length = _number(parts[1], "beat length", allow_nan=True)
    point = TimingPoint(time=time, beat_length=beat_length, sample_set=beatmap.default_sample_set)
    if len(parts) > 2:
        point.meter = _integer(parts[2], "meter")  # kept as written; users clamp (see TimingPoint)
    if len(parts) > 3:
        point.sample_set = _integer(parts[3], "sample set")
    if len(parts) > 4:
        point.sample_index = _integer(parts[4], "sample index")
    if len(parts) > 5:
        point.volume = _integer(parts[5], "volume")
    # Old files have no "uninherited" field: a negative beat length marks an inherited point.
    point.uninherited = parts[6].strip()[:1] == "1" if len(parts) > 6 else beat_length >= 0
    if len(parts) > 7:
        point.effects = _integer(parts[7], "effects")
    if point.uninherited and math.isnan(beat_length):
        raise _LineError("uninherited timing point has a NaN beat length")
    return point


def _read_colour(beatmap: Beatmap, line: str, number: int) -> None:
    key, sep, value = line.partition(":")
    try:
        rgb = tuple(int(c) for c in value.split(","))
    except ValueError:
        rgb = ()
    if not sep or len(rgb) not in (3, 4) or any(not 0 <= c <= 255 for c in rgb):
        beatmap.warnings.append(f"line {number}: colour {line!r} ignored")
        return
    beatmap.colours[key.strip()] = rgb


def _read_hit_sample(text: str) -> HitSample:
    if text == "0:0:0:0:":  # by far the most common value
        return HitSample()
    parts = text.split(":")
    sample = HitSample()
    try:
        sample.normal_set = int(parts[0]) if parts[0].strip() else 0
        if len(parts) > 1 and parts[1].strip():
            sample.addition_set = int(parts[1])
        if len(parts) > 2 and parts[2].strip():
            sample.index = int(parts[2])
        if len(parts) > 3 and parts[3].strip():
            sample.volume = int(parts[3])
    except ValueError:
        raise _LineError(f"bad hit sample field {text!r}") from None
    if len(parts) > 4:
        # Stripped: a trailing space could not survive a write (lines are stripped when read).
        sample.filename = parts[4].strip()
    return sample


def _read_curve(text: str) -> tuple[str, list[tuple[float, float]], list[str | None]]:
    tokens = text.split("|")
    curve_type = tokens[0].strip()
    if curve_type not in CURVE_LETTERS:
        raise _LineError(f"unknown slider curve type {curve_type!r}")
    points: list[tuple[float, float]] = []
    types: list[str | None] = []
    pending: str | None = None
    for token in tokens[1:]:
        token = token.strip()
        if token in CURVE_LETTERS:
            pending = token
            continue
        x_text, sep, y_text = token.partition(":")
        if not sep:
            raise _LineError(f"bad slider control point {token!r}")
        # Unlike object positions, far-away control points occur in ranked maps (up to 262144):
        # accept up to osu!'s general parse limit, beyond which path geometry overflows.
        points.append(
            (_number(x_text, "control point x", MAX_PARSE), _number(y_text, "control point y", MAX_PARSE))
        )
        types.append(pending)
        pending = None
    if not any(types):
        types = []
    return curve_type, points, types


def _read_hit_object(line: str, version: int) -> HitObject:
    parts = line.split(",")
    if len(parts) < 4:
        raise _LineError(f"hit object needs at least x,y,time,type; got {len(parts)} fields")
    x = _number(parts[0], "x", MAX_COORDINATE)
    y = _number(parts[1], "y", MAX_COORDINATE)
    if version < 128:  # stable truncates coordinates to integers; lazer keeps them
        x, y = float(int(x)), float(int(y))
    time = _number(parts[2], "time", MAX_TIME_MS)
    type_bits = _integer(parts[3], "type")
    hitsound = _integer(parts[4], "hitsound") if len(parts) > 4 and parts[4].strip() else 0
    # Positional (x, y, time, new_combo, combo_skip, hitsound): this runs once per object.
    common = (x, y, time, bool(type_bits & TYPE_NEW_COMBO), (type_bits & TYPE_COMBO_SKIP_MASK) >> 4, hitsound)
    if type_bits & TYPE_CIRCLE:
        obj: HitObject = Circle(*common, _read_hit_sample(parts[5]) if len(parts) > 5 else HitSample())
    elif type_bits & TYPE_SLIDER:
        obj = _read_slider(parts, common)
    elif type_bits & TYPE_SPINNER:
        end = _number(parts[5], "spinner end time", MAX_TIME_MS) if len(parts) > 5 else time
        sample = _read_hit_sample(parts[6]) if len(parts) > 6 else HitSample()
        obj = Spinner(*common, sample, spinner_end=max(time, end))
    elif type_bits & TYPE_HOLD_NOTE:
        end_text, _, sample_text = (parts[5] if len(parts) > 5 else "").partition(":")
        end = _number(end_text, "hold note end time", MAX_TIME_MS) if end_text.strip() else time
        sample = _read_hit_sample(sample_text) if sample_text else HitSample()
        obj = HoldNote(*common, sample, hold_end=max(time, end))
    else:
        raise _LineError(f"unknown hit object type {type_bits}")
    return obj


def _read_slider(parts: list[str], common: tuple) -> Slider:
    if len(parts) < 7:
        raise _LineError("slider needs curve and slide count fields")
    curve_type, points, types = _read_curve(parts[5])
    slides = _integer(parts[6], "slide count")
    if slides > MAX_SLIDES:
        raise _LineError(f"slide count {slides} is too high")
    length = _number(parts[7], "slider length") if len(parts) > 7 and parts[7].strip() else 0.0
    slider = Slider(
        *common,
        _read_hit_sample(parts[10]) if len(parts) > 10 else HitSample(),
        curve_type=curve_type,
        curve_points=points,
        point_types=types,
        slides=max(1, slides),
        length=max(0.0, length),
    )
    # Edges without their own sound or sample sets use the slider's (as osu! does); store them all.
    n_edges = slider.slides + 1
    slider.edge_sounds = [slider.hitsound] * n_edges
    slider.edge_sets = [(slider.hit_sample.normal_set, slider.hit_sample.addition_set)] * n_edges
    if len(parts) > 8 and parts[8].strip():
        for i, text in enumerate(parts[8].split("|")[:n_edges]):
            # osu! reads an unparsable edge sound as 0 (lazer writes a hit sample here).
            slider.edge_sounds[i] = _edge_sound(text)
    if len(parts) > 9 and parts[9].strip():
        for i, pair in enumerate(parts[9].split("|")[:n_edges]):
            normal, _, addition = pair.partition(":")
            slider.edge_sets[i] = (_integer(normal or "0", "edge set"), _integer(addition or "0", "edge set"))
    return slider


def _edge_sound(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        return 0
    return value if -(2**31) <= value < 2**31 else 0


def effective_length(slider: Slider, format_version: int = LATEST_VERSION) -> float:
    """The pixel length osu! plays: the written one, or the path's own length when it is 0."""
    if slider.length > 0:
        return slider.length
    from .slider_path import SliderPath  # geometry is only needed for this rare case

    try:
        return SliderPath.from_slider(slider, format_version).calculated_length_px
    except ValueError:
        return 0.0


def _read_hit_objects(beatmap: Beatmap, raw: list[tuple[int, str]], path) -> None:
    for number, line in raw:
        try:
            beatmap.hit_objects.append(_read_hit_object(line, beatmap.format_version))
        except _LineError as e:
            raise BeatmapError(str(e), path, number) from None
    # Slider end times depend on the timing, which may appear after [HitObjects] in odd files.
    timing = TimingIndex(beatmap.timing_points)
    slider_multiplier = beatmap.slider_multiplier
    for obj in beatmap.hit_objects:
        if isinstance(obj, Slider):
            obj.span_duration = timing.slider_span_duration(
                obj.time, effective_length(obj, beatmap.format_version), slider_multiplier
            )
