"""A whole MaiMod review: options -> beatmap and song -> teacher-forced passes (the map, then the
timing) -> suggestions. `review(options)` is what `mai_mod.py` and the web UI call."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

import torch

from osuT5.audio import duration_ms, load_audio, log_mel_spectrogram
from osuT5.beatmap import Beatmap, GameMode, parse_beatmap_file
from osuT5.data.beatmap_events import map_events, timing_events
from osuT5.errors import OsuT5Error
from osuT5.events import ContextType, group_time_ms
from osuT5.inference.decoding import Decoder
from osuT5.inference.maimod.offsets import (
    beat_evidence,
    fold_moved_beats,
    offset_suggestions,
    snapping_evidence,
)
from osuT5.inference.maimod.options import MaiModOptions, validate_mai_mod
from osuT5.inference.maimod.report import MaiModReport, Suggestion
from osuT5.inference.maimod.scoring import score_stream
from osuT5.inference.maimod.suggest import new_combo_suggestions, token_suggestions
from osuT5.inference.passes import GivenBlock, PassRunner, Stream
from osuT5.inference.pipeline import AUDIO_EXTENSIONS, load_model, select_device, star_rating
from osuT5.inference.windows import plan_windows
from osuT5.model import OsuT5Model
from osuT5.style import conditions_from_beatmap

GAME_MODES = ("0", "1", "2", "3")
NEEDED_CONTEXTS = (ContextType.MAP, ContextType.TIMING)


def _inputs(o: MaiModOptions) -> tuple[Beatmap, Path]:
    path = Path(str(o.beatmap_path)).expanduser()
    if path.suffix.lower() != ".osu":
        raise OsuT5Error(f"{path}: beatmap_path must be an .osu file")
    beatmap = parse_beatmap_file(path)  # BeatmapError names the file and line
    mode = beatmap.general.get("Mode", "0").strip()
    if mode not in GAME_MODES:
        raise OsuT5Error(
            f"{path}: Mode {mode} is not a game mode this model reviews (0 std, 1 taiko, 2 catch, 3 mania)"
        )
    if o.audio_path:
        audio = Path(o.audio_path).expanduser()
    elif beatmap.audio_filename:
        audio = path.parent / beatmap.audio_filename
    else:
        raise OsuT5Error(f"{path}: names no AudioFilename; pass audio_path")
    if audio.suffix.lower() not in AUDIO_EXTENSIONS:
        raise OsuT5Error(f"{audio}: not an audio file this reads ({', '.join(AUDIO_EXTENSIONS)})")
    if not audio.is_file():
        raise OsuT5Error(f"{audio}: audio file not found (the beatmap's song; pass audio_path)")
    return beatmap, audio


def _check_model(model: OsuT5Model, o: MaiModOptions) -> None:
    for context in NEEDED_CONTEXTS:
        if context not in model.tokenizer.contexts:
            raise OsuT5Error(
                f"{o.model_path}: this model has no {context.value} context; it cannot review maps"
            )


def select_shown(candidates: list[Suggestion], per_category: int) -> list[Suggestion]:
    """The `per_category` highest scores of each category, in time order."""
    shown = []
    for category in dict.fromkeys(s.category for s in candidates):
        ranked = sorted((s for s in candidates if s.category == category), key=lambda s: -s.score)
        shown += sorted(ranked[:per_category], key=lambda s: s.time_ms)
    return shown


def review(
    o: MaiModOptions, progress_factory: Callable[[int, str], Callable[[int], None]] | None = None
) -> MaiModReport:
    """Review one beatmap as the options say. Raises OsuT5Error (one line) for any bad input, before
    the model runs. Writes nothing."""
    started = time.perf_counter()
    validate_mai_mod(o)
    beatmap, audio_path = _inputs(o)
    torch.manual_seed(o.seed)
    device = select_device(o.device)
    samples = load_audio(audio_path)  # AudioError names the file; checked before the model loads
    model = load_model(o.model_path, o.lora_path, o.precision, device)
    _check_model(model, o)
    mel = log_mel_spectrogram(samples).numpy()
    song_ms = duration_ms(samples)
    report = MaiModReport(str(beatmap.path), str(audio_path))

    stars = star_rating(beatmap) if beatmap.hit_objects else None
    conditions = conditions_from_beatmap(beatmap, stars, song_ms)
    runner = PassRunner(Decoder(model, max_batch_rows=o.max_batch_size), mel, song_ms)
    objects = map_events(beatmap)
    timing = timing_events(beatmap, end_ms=song_ms)
    last_ms = max((t for t in group_time_ms(objects + timing) if t is not None), default=0)
    windows = plan_windows(runner.window_ms, 0, max(song_ms, last_ms + 1), o.lookback, o.lookahead)
    tick = progress_factory(2 * len(windows), "windows") if progress_factory else (lambda n: None)

    map_stream = Stream(ContextType.MAP, conditions, [GivenBlock(ContextType.TIMING, timing)])
    combos = beatmap.mode in (GameMode.STD, GameMode.CATCH)  # the modes with new combos
    map_scores = score_stream(runner, map_stream, objects, windows, o.max_batch_size, combos, tick)
    timing_scores = score_stream(
        runner, Stream(ContextType.TIMING, conditions), timing, windows, o.max_batch_size, False, tick
    )
    candidates = (
        token_suggestions(beatmap, objects, map_scores.tokens, o.threshold)
        + new_combo_suggestions(beatmap, objects, map_scores.new_combos, o.threshold)
        + token_suggestions(beatmap, timing, timing_scores.tokens, o.threshold)
        + offset_suggestions(
            snapping_evidence(beatmap, objects, map_scores.tokens)
            + beat_evidence(timing, timing_scores.tokens),
            beatmap,
            o.threshold,
        )
    )
    candidates = fold_moved_beats(candidates, beatmap)
    report.suggestions = select_shown(candidates, o.per_category)
    report.candidates = len(candidates)
    report.scored_events = len(map_scores.tokens) + len(map_scores.new_combos) + len(timing_scores.tokens)
    report.unscored_events = map_scores.unscored + timing_scores.unscored
    if report.unscored_events:
        report.warnings.append(
            f"{report.unscored_events} events did not fit the model's {model.config.max_target_tokens}"
            " decoder positions and were not scored (very dense windows)"
        )
    report.seconds = time.perf_counter() - started
    return report
