"""Slider paths: hand-checkable geometry, osu!'s edge rules, and osu!'s own expected conversions."""

from __future__ import annotations

import contextlib
import json
import math
import re
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest

from osuT5.beatmap.slider_path import SliderPath, path_segments

CORPUS = Path(__file__).resolve().parents[1].parent / "shared" / "corpus"

# osu!lazer v128 slider with an inline type before most points (osu-parser-rs test map).
LAZER_LINE = (
    "365.61703,73.53191,45,2,0,B|L|434.38297:226.72342|B|299.57446:152.51062|C|202.21277:243.06384"
    "|P|219.91489:121.19149|78.29788:283.23404|C|324.0851:303.65958|B|276.42554:68.085106"
    "|L|31.319153:265.53192|P|381.27658:329.53192,1,500,0:0:0:0:"
)


def parse_slider(line: str, time_ms: float | None = None) -> SimpleNamespace:
    """A slider from a HitObjects line, enough for path tests (the real parser lives elsewhere)."""
    fields = line.split(",")
    tokens = fields[5].split("|")
    points, types, pending = [], [], None
    for token in tokens[1:]:
        if token[:1].isalpha():
            pending = token
            continue
        x, y = token.split(":")[:2]
        points.append((float(x), float(y)))
        types.append(pending)
        pending = None
    return SimpleNamespace(
        x=float(fields[0]),
        y=float(fields[1]),
        time=float(fields[2]) if time_ms is None else time_ms,
        curve_type=tokens[0],
        curve_points=points,
        point_types=types if any(types) else [],
        slides=int(fields[6]),
        length=float(fields[7]),
    )


def read_osu(path: Path) -> SimpleNamespace:
    """Format version, slider lines, timing points and slider multiplier of a .osu file."""
    text = path.read_text(encoding="utf-8-sig", errors="replace")
    version = re.search(r"file format v(\d+)", text[:200])
    parts = re.split(r"^\[(\w+)\][ \t]*$", text, flags=re.MULTILINE)
    sections = dict(zip(parts[1::2], parts[2::2], strict=True))
    multiplier = re.search(r"^SliderMultiplier:\s*([\d.]+)", sections.get("Difficulty", ""), re.MULTILINE)
    timing = []
    for line in sections.get("TimingPoints", "").splitlines():
        fields = line.split(",")
        with contextlib.suppress(ValueError, IndexError):  # malformed lines are the real parser's business
            timing.append((float(fields[0]), float(fields[1]), len(fields) < 7 or fields[6].strip() != "0"))
    slider_lines = []
    for line in sections.get("HitObjects", "").splitlines():
        fields = line.split(",", 5)
        if len(fields) == 6 and fields[3].strip().isdigit() and int(fields[3]) & 2:
            slider_lines.append(line.strip())
    return SimpleNamespace(
        version=int(version.group(1)) if version else 14,
        slider_lines=slider_lines,
        timing=timing,
        multiplier=float(multiplier.group(1)) if multiplier else 1.4,
    )


def parse_sliders(lines: list[str]) -> list[SimpleNamespace]:
    sliders = []
    for line in lines:
        with contextlib.suppress(ValueError, IndexError):
            sliders.append(parse_slider(line))
    return sliders


def path_of(head, curve_type, points, length=None, point_types=None, format_version=14) -> SliderPath:
    return SliderPath(path_segments(head, curve_type, points, point_types, format_version), length)


# -- hand-checkable geometry --


def test_linear_slider_ends_at_its_length():
    path = path_of((100, 100), "L", [(300, 100)], length=100)
    assert path.calculated_length_px == 200
    assert path.length_px == 100
    np.testing.assert_allclose(path.end_position, [200, 100])
    np.testing.assert_allclose(path.position_at(0.25), [125, 100])


def test_longer_path_is_trimmed_to_the_length():
    path = path_of((0, 0), "L", [(100, 0), (100, 100)], length=150)
    np.testing.assert_allclose(path.vertices, [[0, 0], [100, 0], [100, 50]])
    np.testing.assert_allclose(path.cumulative_length, [0, 100, 150])
    np.testing.assert_allclose(path.end_position, [100, 50])
    np.testing.assert_allclose(path.position_at_distance(120), [100, 20])


def test_short_path_extends_its_last_straight_piece():
    np.testing.assert_allclose(path_of((0, 0), "L", [(50, 0)], length=80).end_position, [80, 0])
    # A bezier ending downwards continues 30 px along its last (nearly vertical) polyline piece.
    curve = path_of((0, 0), "B", [(100, 0), (100, 100)])
    extended = path_of((0, 0), "B", [(100, 0), (100, 100)], length=curve.length_px + 30)
    np.testing.assert_allclose(extended.vertices[:-1], curve.vertices[:-1])
    np.testing.assert_allclose(extended.end_position, [100, 130], atol=0.3)


def test_extension_rule_looks_at_the_last_two_path_points():
    # A linear path ending on a repeated point is not extended (osu!-stable's rule)...
    stopped = path_of((0, 0), "L", [(50, 0), (50, 0)], length=100)
    assert stopped.length_px == 50
    np.testing.assert_allclose(stopped.end_position, [50, 0])
    # ...but a bezier whose last control point repeats still ends in two distinct path points, so it is.
    bezier = path_of((0, 0), "B", [(100, 0), (100, 0)], length=150)
    assert bezier.length_px == 150
    np.testing.assert_allclose(bezier.end_position, [150, 0], atol=1e-9)


def test_quarter_circle_lies_on_its_circle():
    # (250,200) → (230,240) → (200,250): a quarter of the circle of radius 50 around (200,200).
    segments = path_segments((250, 200), "P", [(230, 240), (200, 250)])
    assert [kind for kind, _ in segments] == ["P"]
    path = SliderPath(segments)
    np.testing.assert_allclose(np.hypot(*(path.vertices - [200, 200]).T), 50, atol=1e-9)
    # Chords of at most 0.1 px sagitta: slightly shorter than the arc.
    assert 25 * math.pi - 0.1 < path.length_px < 25 * math.pi
    np.testing.assert_allclose(path.position_at(0.5), [200 + 50 / math.sqrt(2)] * 2, atol=0.05)
    np.testing.assert_allclose(path.end_position, [200, 250], atol=1e-9)


def test_half_circle_trimmed_to_a_quarter_ends_at_its_midpoint():
    path = path_of((100, 200), "P", [(200, 300), (300, 200)], length=50 * math.pi)
    assert 100 * math.pi - 0.2 < path.calculated_length_px < 100 * math.pi
    np.testing.assert_allclose(path.end_position, [200, 300], atol=0.15)


def test_collinear_perfect_circle_falls_back():
    # Stable draws three collinear points as a line; lazer keeps 'P' but cannot fit an arc, so bezier.
    stable = path_segments((0, 0), "P", [(50, 50), (100, 100)])
    lazer = path_segments((0, 0), "P", [(50, 50), (100, 100)], format_version=128)
    assert [kind for kind, _ in stable] == ["L"]
    assert [kind for kind, _ in lazer] == ["B"]
    for segments in (stable, lazer):
        np.testing.assert_allclose(SliderPath(segments, 50 * math.sqrt(2)).end_position, [50, 50])
    # osu!'s colinear-perfect-curve test map: P|224:170|244:-10 from (219,215) is straight.
    path = SliderPath.from_slider(parse_slider("219,215,118858,2,0,P|224:170|244:-10,1,187"))
    np.testing.assert_allclose(path.end_position, [239.6507, 29.1437378], atol=1e-3)


def test_perfect_circle_needs_exactly_three_points():
    assert [k for k, _ in path_segments((0, 0), "P", [(50, 50)])] == ["B"]
    assert [k for k, _ in path_segments((0, 0), "P", [(50, 50), (100, 0), (150, 50)])] == ["B"]


def test_bezier_red_anchor_splits_into_two_segments():
    segments = path_segments((0, 0), "B", [(100, 0), (100, 0), (100, 100)])
    assert [kind for kind, _ in segments] == ["B", "B"]
    np.testing.assert_array_equal(segments[0][1], [[0, 0], [100, 0]])
    np.testing.assert_array_equal(segments[1][1], [[100, 0], [100, 100]])
    path = SliderPath(segments)
    assert path.length_px == pytest.approx(200)
    np.testing.assert_allclose(path.position_at(0.5), [100, 0])


def test_red_anchor_on_the_head_or_the_last_point_does_not_split():
    head = path_segments((0, 0), "B", [(0, 0), (100, 0), (100, 100)])
    np.testing.assert_array_equal(head[0][1], [[0, 0], [100, 0], [100, 100]])
    tail = path_segments((0, 0), "B", [(100, 0), (100, 100), (100, 100)])
    np.testing.assert_array_equal(tail[0][1], [[0, 0], [100, 0], [100, 100], [100, 100]])


def test_catmull_passes_smoothly_through_its_points():
    points = [(100, 50), (200, 0), (300, 50)]
    path = path_of((0, 0), "C", points)
    for point in [(0, 0), *points]:
        assert np.hypot(*(path.vertices - point).T).min() < 1e-9
    distinct = path.vertices[np.r_[True, np.any(np.diff(path.vertices, axis=0) != 0, axis=1)]]
    directions = np.arctan2(*np.diff(distinct, axis=0).T[::-1])
    turns = np.abs((np.diff(directions) + math.pi) % (2 * math.pi) - math.pi)
    assert np.degrees(turns).max() < 5


def test_catmull_red_anchors_split_only_in_lazer_files():
    points = [(100, 0), (100, 0), (200, 100)]
    assert len(path_segments((0, 0), "C", points)) == 1
    assert [k for k, _ in path_segments((0, 0), "C", points, format_version=128)] == ["C", "C"]


def test_lazer_inline_types_start_segments_at_the_following_point():
    slider = parse_slider(LAZER_LINE)
    assert slider.point_types[:2] == ["L", "B"]
    segments = path_segments(
        (slider.x, slider.y), slider.curve_type, slider.curve_points, slider.point_types, format_version=128
    )
    assert [kind for kind, _ in segments] == ["B", "L", "B", "C", "P", "C", "B", "L"]
    # The head opens the first segment; each typed point opens the next; boundaries are shared.
    np.testing.assert_array_equal(segments[0][1], [[365.61703, 73.53191], [434.38297, 226.72342]])
    np.testing.assert_array_equal(
        segments[4][1], [[219.91489, 121.19149], [78.29788, 283.23404], [324.0851, 303.65958]]
    )
    for (_, before), (_, after) in zip(segments, segments[1:], strict=False):
        np.testing.assert_array_equal(before[-1], after[0])
    # The letter before the last point opens no segment; stable files truncate coordinates.
    np.testing.assert_array_equal(segments[-1][1][-1], [381.27658, 329.53192])
    stable = path_segments((slider.x, slider.y), slider.curve_type, slider.curve_points, slider.point_types)
    np.testing.assert_array_equal(stable[0][1], [[365, 73], [434, 226]])
    path = SliderPath.from_slider(slider, format_version=128)
    assert path.length_px == 500
    assert np.isfinite(path.vertices).all()


def test_bspline_degrees():
    points = [(0, 0), (100, 0), (100, 100), (0, 100)]
    linear = SliderPath([("B1", points)])
    np.testing.assert_allclose(linear.vertices, points)
    cubic = SliderPath([("B3", points)])
    np.testing.assert_allclose(cubic.vertices, SliderPath([("B", points)]).vertices)
    quadratic = SliderPath([("B2", points)])
    assert 200 < quadratic.length_px < cubic.length_px + 100
    np.testing.assert_allclose(quadratic.vertices[[0, -1]], [[0, 0], [0, 100]])


def test_positions_clamp_and_a_lone_head_is_a_point():
    path = path_of((10, 20), "L", [(110, 20)])
    np.testing.assert_allclose(path.position_at(-1), [10, 20])
    np.testing.assert_allclose(path.position_at(2), [110, 20])
    lone = SliderPath.from_slider(
        SimpleNamespace(x=5, y=6, curve_type="B", curve_points=[], point_types=[], length=-1)
    )
    assert lone.length_px == 0
    np.testing.assert_allclose(lone.end_position, [5, 6])


def test_invalid_input_is_rejected():
    with pytest.raises(ValueError, match="not finite"):
        path_segments((0, 0), "L", [(math.nan, 0)])
    with pytest.raises(ValueError, match="point_types"):
        path_segments((0, 0), "L", [(1, 0), (2, 0)], ["L"])
    with pytest.raises(ValueError, match="segment"):
        SliderPath([("X", [(0, 0), (1, 0)])])
    with pytest.raises(ValueError, match="expected_length_px"):
        SliderPath([("L", [(0, 0), (1, 0)])], -5)


# -- the corpus --


def corpus_or_skip() -> Path:
    if not CORPUS.is_dir():
        pytest.skip(f"corpus not found at {CORPUS}")
    return CORPUS


def test_corpus_sliders_build():
    corpus = corpus_or_skip()
    files = sorted(corpus.glob("beatmaps/*/*/*.osu"))
    # Every third map, every malformed edge case and every lazer-format map (the whole corpus takes a minute).
    lazer = [path for path in files if re.search(r"v(\d{3,})", path.open("rb").read(64).decode("latin-1"))]
    sample = sorted(set(files[::3] + lazer + sorted(corpus.glob("edge_cases/*.osu"))))
    checked = 0
    for path in sample:
        beatmap = read_osu(path)
        # A handful of sliders spread over each map.
        for slider in parse_sliders(beatmap.slider_lines[:: max(1, len(beatmap.slider_lines) // 10)]):
            built = SliderPath.from_slider(slider, beatmap.version)
            assert np.isfinite(built.vertices).all(), (path.name, slider.time)
            assert np.all(np.diff(built.cumulative_length) >= 0), (path.name, slider.time)
            assert len(built.vertices) == len(built.cumulative_length)
            if slider.length > 0 and built.length_px != slider.length:
                # Only the osu!-stable "no extension" rule (or a lone point) leaves the path shorter.
                assert built.length_px == built.calculated_length_px < slider.length, (path.name, slider.time)
            np.testing.assert_allclose(built.end_position, built.vertices[-1], atol=1e-6)
            checked += 1
    assert checked > 2000


def expected_conversions(corpus: Path) -> list[tuple[Path, Path]]:
    """(expected JSON, .osu it was converted from) pairs, as listed in the corpus' SOURCES.md."""
    pairs = []
    for row in (corpus / "SOURCES.md").read_text(encoding="utf-8").splitlines():
        match = re.match(r"\| (expected/osu/\S+\.json) \|[^|]*\|[^|]*\| (\S+\.osu)", row)
        if match and (corpus / match.group(2)).is_file():
            pairs.append((corpus / match.group(1), corpus / match.group(2)))
    return pairs


def span_ms(slider: SimpleNamespace, beatmap: SimpleNamespace) -> float:
    """One span's duration from the timing points (for finding the first repeat among nested objects)."""
    beat_ms = next((b for t, b, red in reversed(beatmap.timing) if red and t <= slider.time), None)
    beat_ms = beat_ms or next(b for _, b, red in beatmap.timing if red)
    velocity = 1.0
    for time_ms, beat, red in beatmap.timing:
        if time_ms > slider.time:
            break
        velocity = min(10.0, max(0.1, -100 / beat)) if not red and beat < 0 else 1.0
    return slider.length * beat_ms / (100 * beatmap.multiplier * velocity)


def test_end_positions_match_osu_expected_conversion():
    corpus = corpus_or_skip()
    pairs = expected_conversions(corpus)
    assert len(pairs) >= 10, "SOURCES.md no longer maps expected/osu/*.json to corpus beatmaps"
    errors = []
    for json_path, osu_path in pairs:
        beatmap = read_osu(osu_path)
        nested = {m["StartTime"]: m["Objects"] for m in json.loads(json_path.read_text())["Mappings"]}
        for slider in parse_sliders(beatmap.slider_lines):
            objects = nested.get(slider.time, [])
            if len(objects) < 2:
                continue
            if slider.slides % 2:
                # The tail (listed last) sits at the path's end after an odd number of spans.
                end = objects[-1]
            else:
                span = span_ms(slider, beatmap)
                if not math.isfinite(span):
                    continue
                end = min(objects[1:], key=lambda o: abs(o["StartTime"] - slider.time - span))
            # Positions are stacked; the head's offset from the file's position is the stack offset.
            head = (
                np.array([slider.x, slider.y]) if beatmap.version >= 128 else np.trunc([slider.x, slider.y])
            )
            stack = np.array([objects[0]["X"], objects[0]["Y"]]) - head
            expected = np.array([end["X"], end["Y"]]) - stack
            path = SliderPath.from_slider(slider, beatmap.version)
            errors.append(float(np.hypot(*(path.end_position - expected))))
    errors = np.array(errors)
    assert len(errors) > 1000
    assert np.mean(errors <= 1.0) >= 0.99, f"max error {errors.max():.2f} px"
