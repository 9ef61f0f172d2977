"""Training samples: a window of log-mel frames and its token sequence, drawn from a collection.

Each beatmap is parsed once and its song decoded once (mel frames cached on disk). A sample is one
window of the song plus either a timing-pass sequence (out: TIMING) or a map-pass sequence (in:
TIMING, out: MAP), with the reference's augmentations: lookback events given as input, time jitter
on decoder inputs, and metadata dropout to "unknown". Deterministic for (seed, epoch, index).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import rosu_pp_py as rosu
import torch
from torch.utils.data import Dataset

from osuT5.audio import MS_PER_FRAME, mel_window
from osuT5.beatmap import parse_beatmap_file
from osuT5.data.beatmap_events import map_events, timing_events
from osuT5.data.collection import BeatmapEntry
from osuT5.data.mel_cache import cached_mel
from osuT5.data.sequence import IGNORE_INDEX, ContextBlock, build_sequence, lookback_count
from osuT5.events import ContextType, Event, EventType, group_time_ms, slice_events
from osuT5.style import Conditions, condition_events, conditions_from_beatmap
from osuT5.tokenizer import PAD_ID, Tokenizer

log = logging.getLogger(__name__)

# Window starts are multiples of 40 ms: whole mel frames (8 ms) and whole time steps (10 ms).
WINDOW_START_QUANTUM_FRAMES = 5
DROPPABLE_CONDITIONS = (
    "difficulty_stars",
    "mapper",
    "year",
    "circle_size",
    "hold_note_ratio",
    "scroll_speed_ratio",
    "descriptors",
)


@dataclass
class DataConfig:
    window_frames: int = 2048
    max_tokens: int = 2048
    timing_pass_prob: float = 0.2  # share of samples that teach the timing pass
    lookback_prob: float = 0.5
    lookback_fraction: float = 0.2
    time_jitter_steps: int = 2
    condition_dropout: float = 0.2
    random_offset: bool = True
    seed: int = 0


@dataclass
class PreparedBeatmap:
    entry: BeatmapEntry
    mel: np.ndarray  # (n_mels, n_frames) float16
    conditions: Conditions
    map_events: list[Event]
    map_times: list[int | None]
    timing_events: list[Event]
    timing_times: list[int | None]


def star_rating(path: Path) -> float:
    return float(rosu.Difficulty().calculate(rosu.Beatmap(path=str(path))).stars)


def prepare(entry: BeatmapEntry, cache_dir: Path | None) -> PreparedBeatmap:
    beatmap = parse_beatmap_file(entry.osu_path)
    mel = cached_mel(entry.audio_path, cache_dir)
    song_length_ms = mel.shape[1] * MS_PER_FRAME
    conditions = conditions_from_beatmap(beatmap, star_rating(entry.osu_path), song_length_ms)
    events = map_events(beatmap)
    timing = timing_events(beatmap, end_ms=song_length_ms)
    return PreparedBeatmap(
        entry, mel, conditions, events, group_time_ms(events), timing, group_time_ms(timing)
    )


class BeatmapWindows(Dataset):
    """All windows of all beatmaps, back to back; `set_epoch` moves their random offsets."""

    def __init__(self, beatmaps: list[PreparedBeatmap], tokenizer: Tokenizer, config: DataConfig):
        self.beatmaps = beatmaps
        self.tokenizer = tokenizer
        self.config = config
        self.epoch = 0
        if config.window_frames * MS_PER_FRAME > tokenizer.config.window_ms:
            raise ValueError("window_frames is longer than the tokenizer's window")
        self.index: list[tuple[int, int]] = []
        for b, prepared in enumerate(beatmaps):
            n_frames = prepared.mel.shape[1]
            for start in range(0, max(n_frames, 1), config.window_frames):
                self.index.append((b, start))

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def __len__(self) -> int:
        return len(self.index)

    def __getitem__(self, i: int) -> dict[str, torch.Tensor]:
        config = self.config
        rng = np.random.default_rng([config.seed, self.epoch, i])
        b, start_frame = self.index[i]
        prepared = self.beatmaps[b]
        if config.random_offset:
            start_frame += int(rng.integers(0, config.window_frames // 2))
        start_frame -= start_frame % WINDOW_START_QUANTUM_FRAMES
        mels = mel_window(prepared.mel, start_frame, config.window_frames)
        start_ms = start_frame * MS_PER_FRAME
        end_ms = start_ms + config.window_frames * MS_PER_FRAME
        lookback_end = (
            start_ms + int(config.lookback_fraction * (end_ms - start_ms))
            if rng.random() < config.lookback_prob
            else start_ms
        )
        timing = slice_events(prepared.timing_events, start_ms, end_ms, prepared.timing_times)
        if rng.random() < config.timing_pass_prob:
            inputs = []
            outputs = [ContextBlock(ContextType.TIMING, timing, lookback_count(timing, lookback_end))]
        else:
            events = slice_events(prepared.map_events, start_ms, end_ms, prepared.map_times)
            inputs = [ContextBlock(ContextType.TIMING, timing)]
            outputs = [ContextBlock(ContextType.MAP, events, lookback_count(events, lookback_end))]
        conditions = self._drop_conditions(prepared.conditions, rng)
        song_position = start_ms / max(prepared.mel.shape[1] * MS_PER_FRAME, 1)
        prefix = condition_events(conditions, self.tokenizer, song_position)
        seq = build_sequence(self.tokenizer, start_ms, prefix, inputs, outputs, max_tokens=config.max_tokens)
        input_ids = self._jitter_times(seq.input_ids, len(prefix), rng)
        return {
            "mels": torch.from_numpy(mels.astype(np.float32)),
            "input_ids": torch.tensor(input_ids, dtype=torch.long),
            "labels": torch.tensor(seq.labels, dtype=torch.long),
        }

    def _drop_conditions(self, conditions: Conditions, rng: np.random.Generator) -> Conditions:
        dropped = [name for name in DROPPABLE_CONDITIONS if rng.random() < self.config.condition_dropout]
        return conditions.without(*dropped) if dropped else conditions

    def _jitter_times(self, input_ids: list[int], n_prefix: int, rng: np.random.Generator) -> list[int]:
        """Shift decoder-input time steps by a few steps (labels untouched): the model must read
        onsets from the audio instead of copying the previous time token."""
        if not self.config.time_jitter_steps:
            return input_ids
        first, last = self.tokenizer.type_range(EventType.TIME_SHIFT)
        ids = np.array(input_ids)
        is_time = (ids >= first) & (ids <= last)
        is_time[:n_prefix] = False
        k = self.config.time_jitter_steps
        ids[is_time] = np.clip(ids[is_time] + rng.integers(-k, k + 1, size=int(is_time.sum())), first, last)
        return ids.tolist()


def collate(samples: list[dict[str, torch.Tensor]]) -> dict[str, torch.Tensor]:
    """Stack windows; right-pad token sequences (PAD inputs, ignored labels)."""
    length = max(len(s["input_ids"]) for s in samples)
    input_ids = torch.full((len(samples), length), PAD_ID, dtype=torch.long)
    labels = torch.full((len(samples), length), IGNORE_INDEX, dtype=torch.long)
    attention = torch.zeros((len(samples), length), dtype=torch.long)
    for row, s in enumerate(samples):
        n = len(s["input_ids"])
        input_ids[row, :n] = s["input_ids"]
        labels[row, :n] = s["labels"]
        attention[row, :n] = 1
    return {
        "mels": torch.stack([s["mels"] for s in samples]),
        "decoder_input_ids": input_ids,
        "labels": labels,
        "decoder_attention_mask": attention,
    }
