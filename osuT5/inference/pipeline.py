"""A whole generation run: options -> reference and audio -> timing -> map(s) -> .osu files.

`generate(options)` is what `inference.py`, the web UI and the terminal CLI call. Every input is checked
before the model runs, so a bad input costs nothing and writes nothing; outputs are written atomically,
never over an existing file (least of all the reference).
"""

from __future__ import annotations

import copy
import os
import random
import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path

import rosu_pp_py as rosu
import torch

from osu_diffusion.refine import REFINED_MODES, PositionRefiner, RefineSettings
from osuT5.audio import duration_ms, load_audio, log_mel_spectrogram, onset_envelope
from osuT5.beatmap import (
    Beatmap,
    GameMode,
    TimingPoint,
    beatmap_to_text,
    parse_beatmap_file,
    write_beatmap_file,
    write_osz,
)
from osuT5.data.beatmap_events import kiai_toggles, map_events, timing_events
from osuT5.errors import OsuT5Error
from osuT5.events import ContextType, Event
from osuT5.files import atomic_write_bytes
from osuT5.inference.beat_alignment import align_redlines
from osuT5.inference.decoding import Decoder, SamplingOptions
from osuT5.inference.hitsounding import add_hitsounds
from osuT5.inference.options import AUDIO_EXTENSIONS, InferenceOptions, parse_difficulties, validate
from osuT5.inference.passes import GivenBlock, PassRunner, Stream, group_starts, join_lanes, split_lanes
from osuT5.inference.playable import make_playable
from osuT5.inference.postprocess import events_to_beatmap
from osuT5.inference.super_timing import timing_from_passes
from osuT5.inference.windows import WINDOW_QUANTUM_MS, plan_windows, tiled_windows
from osuT5.model import OsuT5Model
from osuT5.style import Conditions, conditions_from_beatmap

MIN_WINDOWS_PER_LANE = 4  # a lane shorter than this spends more on its cold start than it saves
SEAM_GAP_MS = 40  # a lane's notes this close after the previous lane's last one are doubles
DEFAULTS = {"HPDrainRate": 5.0, "CircleSize": 4.0, "OverallDifficulty": 8.0, "ApproachRate": 9.0}
FALLBACK_BPM = 120.0
NO_HS_LOOKAHEAD = 0.6
MAX_NAME_BYTES = 200


@dataclass
class GeneratedMap:
    path: Path
    beatmap: Beatmap
    stars: float
    objects: int


@dataclass
class RunResult:
    maps: list[GeneratedMap] = field(default_factory=list)
    osz_path: Path | None = None
    seed: int = 0
    song_ms: int = 0
    seconds: float = 0.0
    timings: dict[str, float] = field(default_factory=dict)  # seconds per stage
    warnings: list[str] = field(default_factory=list)

    def summary(self) -> str:
        lines = []
        for m in self.maps:
            lines.append(f"wrote {m.path}")
            lines.append(f"  {m.objects} objects, {m.stars:.2f} stars")
        if self.osz_path is not None:
            lines.append(f"wrote {self.osz_path}")
        minutes, seconds = divmod(self.song_ms / 1000, 60)
        lines.append(
            f"song {int(minutes)}:{seconds:04.1f}, seed {self.seed}, took {self.seconds:.1f} s "
            + "("
            + ", ".join(f"{k} {v:.1f} s" for k, v in self.timings.items())
            + ")"
        )
        return "\n".join(lines)


# -- inputs --
def _resolve_paths(o: InferenceOptions) -> tuple[Beatmap | None, Path, Path]:
    reference = None
    if o.beatmap_path:
        path = Path(o.beatmap_path).expanduser()
        if path.suffix.lower() != ".osu":
            raise OsuT5Error(f"{path}: beatmap_path must be an .osu file")
        reference = parse_beatmap_file(path)  # BeatmapError names the file and line
    if o.audio_path:
        audio = Path(o.audio_path).expanduser()
    elif reference is not None:
        if not reference.audio_filename:
            raise OsuT5Error(f"{reference.path}: names no AudioFilename; pass audio_path")
        audio = reference.path.parent / reference.audio_filename
    else:
        raise OsuT5Error("no song given: pass audio_path=SONG (or beatmap_path=MAP.osu)")
    if audio.suffix.lower() not in AUDIO_EXTENSIONS:
        raise OsuT5Error(f"{audio}: not an audio file this reads ({', '.join(AUDIO_EXTENSIONS)})")
    if o.output_path:
        output = Path(o.output_path).expanduser()
    else:
        output = reference.path.parent if reference is not None else audio.parent
    return reference, audio, output


def _check_writable(folder: Path) -> None:
    """Fail before any work if the output folder cannot be created or written."""
    existing = folder
    while not existing.exists():
        existing = existing.parent
    if not existing.is_dir():
        raise OsuT5Error(f"{folder}: output_path is not a folder")
    if not os.access(existing, os.W_OK | os.X_OK):
        raise OsuT5Error(f"{folder}: output folder is not writable")


def select_device(name: str) -> torch.device:
    if name == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        if getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available():
            return torch.device("mps")
        return torch.device("cpu")
    if name == "cuda" and not torch.cuda.is_available():
        raise OsuT5Error("device=cuda but no CUDA GPU is available")
    return torch.device(name)


def load_model(model_path: str, lora_path: str | None, precision: str, device: torch.device) -> OsuT5Model:
    """The model (and LoRA adapter, merged) in the precision asked for; shared by every face that runs it."""
    model = OsuT5Model.from_pretrained(model_path, device=device)
    if lora_path:
        from osuT5.training.lora import load_adapter, merge_lora

        model = merge_lora(load_adapter(model, lora_path)).eval()
    if precision != "fp32" and device.type == "cpu":
        raise OsuT5Error(f"precision={precision} needs a GPU; use precision=fp32 on the CPU")
    # Shipped weights are fp16 on disk; compute in the precision asked for.
    dtype = {"fp32": torch.float32, "bf16": torch.bfloat16, "fp16": torch.float16}[precision]
    return model.to(dtype)


def star_rating(beatmap: Beatmap) -> float:
    return float(rosu.Difficulty().calculate(rosu.Beatmap(content=beatmap_to_text(beatmap))).stars)


def _conditions(
    o: InferenceOptions, reference: Beatmap | None, song_ms: int, stars: float | None
) -> Conditions:
    """The reference's conditions (if any), overridden by every option the user set."""
    if reference is not None:
        base = conditions_from_beatmap(
            reference, star_rating(reference) if reference.hit_objects else None, song_ms
        )
    else:
        base = Conditions(song_length_ms=song_ms)
    overrides = {
        "gamemode": None if o.gamemode is None else GameMode(o.gamemode),
        "difficulty_stars": stars,
        "year": o.year,
        "hitsounded": o.hitsounded,
        "global_sv": o.slider_multiplier,
        "circle_size": o.circle_size,
        "keycount": o.keycount,
        "hold_note_ratio": o.hold_note_ratio,
        "scroll_speed_ratio": o.scroll_speed_ratio,
        "descriptors": tuple(o.descriptors) or None,
    }
    conditions = replace(
        base, **{k: v for k, v in overrides.items() if v is not None}, song_length_ms=song_ms
    )
    if conditions.gamemode == GameMode.MANIA and conditions.keycount is None:
        conditions = replace(conditions, keycount=4)
    return conditions


# -- the template every generated map is written into --
def _template(o: InferenceOptions, reference: Beatmap | None, audio: Path, conditions: Conditions) -> Beatmap:
    if reference is not None:
        beatmap = copy.deepcopy(reference)
        beatmap.hit_objects = []
    else:
        beatmap = Beatmap(
            general={
                "AudioFilename": audio.name,
                "AudioLeadIn": "0",
                "PreviewTime": "-1",
                "Countdown": "0",
                "SampleSet": "Soft",
                "StackLeniency": "0.7",
                "Mode": "0",
            },
            metadata={
                "Title": audio.stem,
                "TitleUnicode": audio.stem,
                "Artist": "Unknown Artist",
                "ArtistUnicode": "Unknown Artist",
                "Creator": "osuT5",
                "Version": "osuT5",
                "Source": "",
                "Tags": "osuT5",
                "BeatmapID": "0",
                "BeatmapSetID": "-1",
            },
            difficulty={
                "HPDrainRate": "5",
                "CircleSize": "4",
                "OverallDifficulty": "8",
                "ApproachRate": "9",
                "SliderMultiplier": "1.4",
                "SliderTickRate": "1",
            },
        )
    beatmap.general["AudioFilename"] = audio.name
    beatmap.general["Mode"] = str(int(conditions.gamemode))
    if conditions.gamemode == GameMode.MANIA:
        beatmap.difficulty["CircleSize"] = str(conditions.keycount)
    elif conditions.circle_size is not None:
        beatmap.difficulty["CircleSize"] = f"{conditions.circle_size:g}"
    if conditions.global_sv is not None:
        beatmap.difficulty["SliderMultiplier"] = f"{conditions.global_sv:g}"
    for option, key in (
        ("hp_drain_rate", "HPDrainRate"),
        ("overall_difficulty", "OverallDifficulty"),
        ("approach_rate", "ApproachRate"),
        ("slider_tick_rate", "SliderTickRate"),
    ):
        if getattr(o, option) is not None:
            beatmap.difficulty[key] = f"{getattr(o, option):g}"
    for option, keys in (
        ("title", ("Title", "TitleUnicode")),
        ("artist", ("Artist", "ArtistUnicode")),
        ("creator", ("Creator",)),
        ("source", ("Source",)),
        ("tags", ("Tags",)),
    ):
        if getattr(o, option) is not None:
            for key in keys:
                beatmap.metadata[key] = str(getattr(o, option))
    if o.preview_time is not None:
        beatmap.general["PreviewTime"] = str(o.preview_time)
    beatmap.metadata["BeatmapID"] = "0"
    return beatmap


def _version(o: InferenceOptions, reference: Beatmap | None, stars: float | None, spread: bool) -> str:
    if o.version and not spread:
        return o.version
    base = o.version or "osuT5"
    if reference is not None and not o.version:
        base = f"{reference.metadata.get('Version', 'osuT5')} (osuT5)"
    return f"{base} {stars:g} stars" if stars is not None else base


def _file_name(beatmap: Beatmap, suffix: str = ".osu") -> str:
    """osu!'s own naming: `Artist - Title (Creator) [Version].osu`; a set's .osz drops the version."""
    m = beatmap.metadata
    name = f"{m.get('Artist', '')} - {m.get('Title', '')} ({m.get('Creator', '')})"
    if suffix == ".osu":
        name += f" [{m.get('Version', '')}]"
    name = re.sub(r'[\\/:*?"<>|]', "_", name)
    # Filesystems cap a name at 255 bytes; leave room for " (2)" and the atomic writer's temp name.
    while len(name.encode()) > MAX_NAME_BYTES:
        name = name[:-1]
    return name.rstrip() + suffix


def _free_path(path: Path, taken: set[Path]) -> Path:
    """`path`, or `name (2).osu` ... when it exists: a run never replaces a file."""
    candidate, n = path, 2
    while candidate.exists() or candidate in taken:
        candidate = path.with_name(f"{path.stem} ({n}){path.suffix}")
        n += 1
    return candidate


# -- timing --
def _reference_redlines(reference: Beatmap) -> list[TimingPoint]:
    return [copy.copy(p) for p in reference.timing_points if p.uninherited]


def _generate_timing(
    o: InferenceOptions,
    runner: PassRunner,
    conditions: Conditions,
    generator: torch.Generator,
    rng: random.Random,
    progress: Callable[[int], None],
) -> list[TimingPoint]:
    window_ms = runner.window_ms
    passes = o.timer_iterations if o.super_timing else 1
    jobs = []
    for i in range(passes):
        shift = 0 if i == 0 else rng.randrange(0, window_ms // WINDOW_QUANTUM_MS) * WINDOW_QUANTUM_MS
        jobs.append((Stream(ContextType.TIMING, conditions), tiled_windows(window_ms, runner.song_ms, shift)))
    sampling = SamplingOptions(temperature=o.timing_temperature, top_p=1.0)
    runner.tiled_pass(jobs, sampling, generator, on_batch=progress)
    return timing_from_passes([stream.committed for stream, _ in jobs])


# -- the run --
def generate(
    o: InferenceOptions, progress_factory: Callable[[int, str], Callable[[int], None]] | None = None
) -> RunResult:
    """Run one generation as the options say; returns what was written. Raises OsuT5Error (one line)
    for any bad input, before anything is written."""
    started = time.perf_counter()
    result = RunResult()
    validate(o)
    reference, audio_path, output = _resolve_paths(o)
    contexts = {str(c).upper() for c in o.in_context} - {"NONE"}
    outputs = {str(c).upper() for c in o.output_type}
    if contexts and reference is None:
        raise OsuT5Error(f"in_context={sorted(contexts)} needs beatmap_path (the reference to take it from)")
    if "GD" in contexts:
        raise OsuT5Error(
            "in_context=GD needs a model trained with guide-difficulty context; this one was not"
        )
    if o.add_to_beatmap:
        contexts |= {"TIMING", "MAP"}
    if "NO_HS" in contexts:  # hitsounding keeps the reference's timing and objects
        contexts |= {"TIMING"}
    _check_writable(output)
    difficulties = parse_difficulties(o.difficulty)

    device = select_device(o.device)
    seed = o.seed if o.seed is not None else random.SystemRandom().randrange(2**31)
    result.seed = seed
    generator = torch.Generator().manual_seed(seed)
    rng = random.Random(seed)

    t = time.perf_counter()
    samples = load_audio(audio_path)  # AudioError names the file; checked before the model loads
    model = load_model(o.model_path, o.lora_path, o.precision, device)
    validate(o, descriptor_names=tuple(model.tokenizer.config.descriptors))
    mel = log_mel_spectrogram(samples).numpy()
    song_ms = duration_ms(samples)
    result.song_ms = song_ms
    result.timings["load"] = time.perf_counter() - t
    if o.start_time is not None and o.start_time >= song_ms:
        raise OsuT5Error(f"option start_time={o.start_time}: the song is only {song_ms} ms long")
    if o.mapper_id is not None:
        result.warnings.append("mapper_id ignored: this model has no mapper table")

    base_conditions = _conditions(o, reference, song_ms, difficulties[0])
    refiner = _load_refiner(o, base_conditions.gamemode, outputs)
    decoder = Decoder(model, max_batch_rows=o.max_batch_size)
    runner = PassRunner(decoder, mel, song_ms)
    start_ms = o.start_time or 0
    end_ms = min(o.end_time, song_ms) if o.end_time is not None else song_ms
    # Hitsounding teacher-forces every object of a band: short bands keep it within the decoder's positions.
    lookahead = NO_HS_LOOKAHEAD if "NO_HS" in contexts else o.lookahead
    map_windows = plan_windows(runner.window_ms, start_ms, end_ms, o.lookback, lookahead)
    timing_given = "TIMING" in contexts
    n_timing = (
        0
        if timing_given
        else len(tiled_windows(runner.window_ms, song_ms)) * (o.timer_iterations if o.super_timing else 1)
    )
    n_map = len(map_windows) * (1 if "NO_HS" in contexts else len(difficulties)) if "MAP" in outputs else 0
    tick = progress_factory(n_timing + n_map, "windows") if progress_factory else (lambda n: None)

    # Timing: the reference's, or generated once and shared by every difficulty.
    t = time.perf_counter()
    if timing_given:
        redlines = _reference_redlines(reference)
    else:
        redlines = _generate_timing(o, runner, base_conditions, generator, rng, tick)
        if o.align_timing:
            redlines = align_redlines(redlines, onset_envelope(samples))
    if not redlines:
        result.warnings.append(f"no beat found in the audio; wrote {FALLBACK_BPM:g} BPM from 0 ms")
        redlines = [TimingPoint(0.0, 60000.0 / FALLBACK_BPM, uninherited=True)]
    result.timings["timing"] = time.perf_counter() - t

    templates = []
    for stars in difficulties:
        conditions = replace(base_conditions, difficulty_stars=stars)
        template = _template(o, reference, audio_path, conditions)
        if not timing_given or not reference.timing_points:
            template.timing_points = [copy.copy(p) for p in redlines]
        template.metadata["Version"] = _version(o, reference, stars, len(difficulties) > 1)
        templates.append((conditions, template))

    t = time.perf_counter()
    beatmaps: list[Beatmap] = []
    if "NO_HS" in contexts:
        sampling = SamplingOptions(temperature=o.temperature, top_p=o.top_p)
        conditions, template = templates[0]
        beatmaps = [
            add_hitsounds(runner, reference, template, conditions, map_windows, sampling, generator, tick)
        ]
    elif "MAP" in outputs:
        beatmaps = _generate_maps(
            o, runner, templates, reference, contexts, map_windows, start_ms, end_ms, generator, tick, refiner
        )
    else:
        for _, template in templates:
            template.timing_points = [copy.copy(p) for p in redlines]
            beatmaps.append(template)
    result.timings["map"] = time.perf_counter() - t

    t = time.perf_counter()
    _write_outputs(o, beatmaps, audio_path, output, reference, result)
    result.timings["write"] = time.perf_counter() - t
    result.seconds = time.perf_counter() - started
    return result


def _generate_maps(
    o: InferenceOptions,
    runner: PassRunner,
    templates: list[tuple[Conditions, Beatmap]],
    reference: Beatmap | None,
    contexts: set[str],
    windows: list,
    start_ms: int,
    end_ms: int,
    generator: torch.Generator,
    tick: Callable[[int], None],
    refiner: PositionRefiner | None = None,
) -> list[Beatmap]:
    """The map pass for every difficulty at once (one batch per window), then post-processing and, with
    a refiner, refined std/catch positions before the final playability fixes."""
    given_timing = GivenBlock(ContextType.TIMING, timing_events(templates[0][1], end_ms=runner.song_ms))
    reference_events = map_events(reference) if reference is not None and "MAP" in contexts else []
    streams = []
    for conditions, _ in templates:
        negative = replace(conditions, descriptors=tuple(o.negative_descriptors)) if o.cfg_scale > 1 else None
        stream = Stream(ContextType.MAP, conditions, [given_timing], negative)
        # With a reference map, its events before start_time are the first window's lookback.
        stream.committed = _before(reference_events, start_ms)
        streams.append(stream)
    sampling = SamplingOptions(temperature=o.temperature, top_p=o.top_p, cfg_scale=o.cfg_scale)
    follow_reference = "MAP" in contexts and not o.add_to_beatmap
    # Lanes: consecutive parts of the song decoded side by side, as many as the batch cap allows.
    rows_per_window = len(streams) * (2 if o.cfg_scale > 1 else 1)
    lane_count = max(
        1, min(o.map_lanes, o.max_batch_size // rows_per_window, len(windows) // MIN_WINDOWS_PER_LANE)
    )
    lane_windows = split_lanes(windows, lane_count)
    lane_streams = [streams] + [
        [replace(s, committed=list(s.committed)) for s in streams] for _ in lane_windows[1:]
    ]
    generated = [[[] for _ in streams] for _ in lane_windows]  # [lane][stream] -> new events
    for step in range(max(len(w) for w in lane_windows)):
        active = [lane for lane, w in enumerate(lane_windows) if step < len(w)]
        before = {lane: [len(s.committed) for s in lane_streams[lane]] for lane in active}
        runner.step_lanes(
            [(lane_streams[lane], lane_windows[lane][step]) for lane in active], sampling, generator
        )
        for lane in active:
            window = lane_windows[lane][step]
            for stream, n, out in zip(lane_streams[lane], before[lane], generated[lane], strict=True):
                out.extend(stream.committed[n:])
                if follow_reference:  # in_context=MAP: each window continues the reference, not our output
                    stream.committed = _before(reference_events, window.commit_to_ms or end_ms)
        tick(len(streams) * len(active))

    joined = [join_lanes([lane[i] for lane in generated], SEAM_GAP_MS) for i in range(len(streams))]
    beatmaps = []
    for events, (conditions, template) in zip(joined, templates, strict=True):
        beatmap = events_to_beatmap(events, template)
        if refiner is not None:
            beatmap = refine_positions(refiner, beatmap, conditions, o)
        make_playable(beatmap, runner.song_ms)
        # Snapping to the timing can carry a note across the edge of the range asked for.
        beatmap.hit_objects = [h for h in beatmap.hit_objects if start_ms <= h.time <= end_ms]
        if reference is not None and o.add_to_beatmap:
            keep = [h for h in reference.hit_objects if not start_ms <= h.time <= end_ms]
            beatmap.hit_objects = sorted(keep + beatmap.hit_objects, key=lambda h: h.time)
            beatmap.timing_points = _merge_greenlines(reference, beatmap, start_ms, end_ms)
        if reference is not None and "KIAI" in contexts:
            _copy_kiai(reference, beatmap)
        beatmaps.append(beatmap)
    return beatmaps


def _load_refiner(o: InferenceOptions, mode: GameMode, outputs: set[str]) -> PositionRefiner | None:
    """The refiner when generate_positions is on and the maps have positions (loaded before decoding,
    so that a bad refiner_path fails at once)."""
    if not o.generate_positions or mode not in REFINED_MODES or "MAP" not in outputs:
        return None
    return PositionRefiner.load(o.refiner_path)


def refine_positions(
    refiner: PositionRefiner, beatmap: Beatmap, conditions: Conditions, o: InferenceOptions
) -> Beatmap:
    """A refined copy of a post-processed map; unknown stars are read off the coarse map itself."""
    if conditions.difficulty_stars is None and beatmap.hit_objects:
        conditions = replace(conditions, difficulty_stars=star_rating(beatmap))
    settings = RefineSettings(start_step=o.refine_start_step, num_steps=o.refine_steps)
    return refiner.refine(beatmap, conditions, settings)


def _before(events: list[Event], ms: int) -> list[Event]:
    return [e for t, g in group_starts(events) if t is None or t < ms for e in g]


def _merge_greenlines(
    reference: Beatmap, generated: Beatmap, start_ms: int, end_ms: int
) -> list[TimingPoint]:
    """Reference redlines and its greenlines outside the range; generated greenlines inside it. A
    generated greenline would otherwise carry its slider velocity past `end_ms`, so the reference's
    own state there (its greenline in effect, or the redline's plain 1.0x) is restored 1 ms after."""
    outside = [p for p in reference.timing_points if p.uninherited or not start_ms <= p.time <= end_ms]
    inside = [p for p in generated.timing_points if not p.uninherited and start_ms <= p.time <= end_ms]
    if inside:
        resume = end_ms + 1
        before = [p for p in reference.timing_points if p.time <= resume]
        in_effect = before[-1] if before else None
        if in_effect is not None and not any(p.time == resume and not p.uninherited for p in outside):
            restored = replace(in_effect, time=float(resume), uninherited=False)
            if in_effect.uninherited:  # no greenline since the redline: plain slider velocity
                restored = replace(restored, beat_length=-100.0)
            outside.append(restored)
    return sorted(outside + inside, key=lambda p: (p.time, not p.uninherited))


def _copy_kiai(reference: Beatmap, beatmap: Beatmap) -> None:
    """in_context=KIAI: the reference's kiai sections replace the generated ones."""
    from osuT5.beatmap import TimingIndex

    toggles = kiai_toggles(reference)
    index = TimingIndex(reference.timing_points)
    points = []
    for p in beatmap.timing_points:
        p = copy.copy(p)
        on = index.kiai_at(p.time)
        p.effects = (p.effects & ~1) | int(on)
        points.append(p)
    for t, on in toggles:  # make sure every toggle has a point to carry it
        if not any(abs(p.time - t) < 1 for p in points):
            base = TimingIndex(points).point_at(t)
            if base is not None:
                points.append(
                    TimingPoint(
                        t,
                        -100.0 / TimingIndex(points).slider_velocity_at(t),
                        base.meter,
                        base.sample_set,
                        base.sample_index,
                        base.volume,
                        False,
                        int(on),
                    )
                )
    beatmap.timing_points = sorted(points, key=lambda p: (p.time, not p.uninherited))


def _write_outputs(o, beatmaps, audio_path: Path, output: Path, reference, result: RunResult) -> None:
    output.mkdir(parents=True, exist_ok=True)
    taken: set[Path] = set()
    for beatmap in beatmaps:
        path = _free_path(output / _file_name(beatmap), taken)
        if (
            reference is not None
            and reference.path is not None
            and path.resolve() == reference.path.resolve()
        ):
            path = _free_path(path.with_name(path.stem + " (osuT5).osu"), taken)
        taken.add(path)
        write_beatmap_file(beatmap, path)
        stars = star_rating(beatmap) if beatmap.hit_objects else 0.0
        result.maps.append(GeneratedMap(path, beatmap, stars, len(beatmap.hit_objects)))
    # A map needs its song beside it to play.
    song_copy = output / audio_path.name
    if not song_copy.exists():
        atomic_write_bytes(song_copy, audio_path.read_bytes())
    if o.export_osz and result.maps:
        first = result.maps[0].beatmap
        osz = _free_path(output / _file_name(first, ".osz"), set())
        files = {audio_path.name: audio_path.read_bytes()}
        result.osz_path = write_osz(osz, {m.path.name: m.beatmap for m in result.maps}, files)
