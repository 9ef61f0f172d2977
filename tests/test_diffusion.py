"""osu_diffusion: points of real maps, two training steps and a resume, the shipped refiner on held-out
corpus maps (grid-snapped and jittered), and the refine hook of `inference.py`."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
from hydra import compose, initialize_config_dir

from osu_diffusion.config import load_config
from osu_diffusion.evaluate import coarsen, out_of_playfield, position_error, slider_length_errors
from osu_diffusion.features import PointType, beatmap_points
from osu_diffusion.model import Refiner
from osu_diffusion.refine import PositionRefiner
from osu_diffusion.trainer import list_checkpoints, train
from osuT5.beatmap import Slider, parse_beatmap_file
from osuT5.beatmap.objects import PLAYFIELD_HEIGHT, PLAYFIELD_WIDTH
from osuT5.beatmap.slider_path import SliderPath
from osuT5.data.collection import set_key
from osuT5.errors import OsuT5Error
from osuT5.inference.options import DEFAULT_MODEL_PATH, DEFAULT_REFINER_PATH, InferenceOptions
from osuT5.inference.pipeline import generate
from osuT5.inference.validity import check_validity
from osuT5.model.ship import held_out_sets

CONFIGS = Path(__file__).resolve().parents[1] / "configs"


def _held_out_maps(corpus_dir: Path, mode: str, count: int) -> list[Path]:
    held_out = held_out_sets(DEFAULT_MODEL_PATH)
    found = []
    for path in sorted((corpus_dir / "beatmaps" / mode).rglob("*.osu")):
        beatmap = parse_beatmap_file(path)
        if set_key(beatmap, path) in held_out and 100 <= len(beatmap.hit_objects) <= 800:
            found.append(path)
        if len(found) == count:
            break
    assert len(found) == count, f"only {len(found)} held-out {mode} maps"
    return found


def test_points_follow_the_map(corpus_dir: Path) -> None:
    [path] = _held_out_maps(corpus_dir, "std", 1)
    beatmap = parse_beatmap_file(path)
    assert any(isinstance(h, Slider) for h in beatmap.hit_objects)
    points = beatmap_points(beatmap)
    assert np.all(np.diff(points.time_ms) >= 0)
    assert set(points.object_index.tolist()) == set(range(len(beatmap.hit_objects)))
    for row in np.flatnonzero(points.types >= PointType.SLIDER_END_1):
        slider = beatmap.hit_objects[points.object_index[row]]
        end = SliderPath.from_slider(slider, beatmap.format_version).end_position
        assert np.allclose(points.positions_px[row], end)
        assert points.time_ms[row] == pytest.approx(slider.end_time)


def test_trains_two_steps_then_resumes(corpus_dir: Path, tmp_path: Path) -> None:
    data = tmp_path / "maps"
    sources = sorted((corpus_dir / "beatmaps" / "std").rglob("*.osu"))[:3]
    sources += sorted((corpus_dir / "beatmaps" / "catch").rglob("*.osu"))[:1]
    for i, source in enumerate(sources):
        (data / str(i)).mkdir(parents=True)
        shutil.copy(source, data / str(i) / source.name)
    held = tmp_path / "held_out.json"
    held.write_text(json.dumps([set_key(parse_beatmap_file(sources[0]), sources[0])]))
    run = tmp_path / "run"

    def cfg(*extra: str):
        with initialize_config_dir(config_dir=str(CONFIGS), version_base="1.3"):
            overrides = [
                "diffusion_debug=fast",
                f"data.root={data}",
                f"data.held_out_sets={held}",
                f"output_dir={run}",
                *extra,
            ]
            return load_config(compose(config_name="train_diffusion", overrides=overrides))

    metrics = train(cfg())
    assert metrics["step"] == 2 and np.isfinite(metrics["train/loss"]) and np.isfinite(metrics["eval/loss"])
    assert [p.name for p in list_checkpoints(run)] == ["step_00000002"]
    assert isinstance(Refiner.load(run / "final"), Refiner)
    metrics = train(cfg("optim.total_steps=3"))  # continues from step 2
    assert metrics["step"] == 3 and list_checkpoints(run)[-1].name == "step_00000003"
    with pytest.raises(OsuT5Error, match="model.hidden_size"):
        train(cfg("optim.total_steps=4", "model.hidden_size=64"))


@pytest.fixture(scope="module")
def refiner() -> PositionRefiner:
    return PositionRefiner.load(DEFAULT_REFINER_PATH)


def test_shipped_refiner_improves_held_out_maps(corpus_dir: Path, refiner: PositionRefiner) -> None:
    before, after = [], []
    for path in _held_out_maps(corpus_dir, "std", 3) + _held_out_maps(corpus_dir, "catch", 1):
        original = parse_beatmap_file(path)
        coarse = coarsen(original, seed=1)
        refined = refiner.refine(coarse)
        assert [(type(h), h.time, h.end_time) for h in refined.hit_objects] == [
            (type(h), h.time, h.end_time) for h in original.hit_objects
        ]
        assert out_of_playfield(refined) == 0
        points = beatmap_points(refined)
        assert np.all(
            (points.positions_px >= 0) & (points.positions_px <= (PLAYFIELD_WIDTH, PLAYFIELD_HEIGHT))
        )
        assert np.all(slider_length_errors(refined) <= 0.01), path
        before.append(position_error(original, coarse))
        after.append(position_error(original, refined))
    assert np.mean(after) < np.mean(before), (before, after)


def test_inference_refines_std_positions(short_song: Path, tmp_path: Path) -> None:
    song = short_song
    maps = {}
    for refine in (False, True):
        result = generate(
            InferenceOptions(
                audio_path=str(song.parent / "audio.ogg"),
                output_path=str(tmp_path / str(refine)),
                gamemode=0,
                seed=0,
                generate_positions=refine,
            )
        )
        [written] = result.maps
        maps[refine] = parse_beatmap_file(written.path)
        assert check_validity(maps[refine], result.song_ms).ok
    plain, refined = maps[False].hit_objects, maps[True].hit_objects
    assert len(plain) >= 3
    assert [h.time for h in plain] == [h.time for h in refined]
    assert any((a.x, a.y) != (b.x, b.y) for a, b in zip(plain, refined, strict=True))


def test_bad_refiner_path_is_one_error(short_song: Path, tmp_path: Path) -> None:
    song = short_song
    options = InferenceOptions(
        audio_path=str(song.parent / "audio.ogg"),
        output_path=str(tmp_path / "out"),
        gamemode=0,
        generate_positions=True,
        refiner_path=str(tmp_path / "missing"),
    )
    with pytest.raises(OsuT5Error, match="not a refiner folder"):
        generate(options)
    assert not (tmp_path / "out").exists() or not list((tmp_path / "out").iterdir())
