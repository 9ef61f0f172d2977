"""Generation passes over a song: one output context (TIMING or MAP) for one or more maps at once.

A `Stream` is one context of one map being generated: its conditioning, the blocks it is given
(e.g. the timing for a map pass) and the events it has committed so far. `step_lanes` decodes one
overlapping window for each lane (a run of consecutive windows), each window continuing every stream
from its committed lookback, with all streams (the CFG pair, the difficulties of a spread) and all
lanes decoded as one batch; the map pass walks its lanes with it. `tiled_pass` decodes independent
back-to-back windows, all in batches: the timing pass and super timing use it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import torch

from osuT5.audio import MS_PER_FRAME, mel_window
from osuT5.data.sequence import ContextBlock, build_sequence
from osuT5.events import TYPE_EVENTS, ContextType, Event, EventType, group_time_ms, slice_events, split_groups
from osuT5.inference.decoding import Decoder, DecodeRequest, SamplingOptions
from osuT5.inference.windows import Window
from osuT5.style import Conditions, condition_events
from osuT5.tokenizer import EOS_ID


@dataclass
class GivenBlock:
    """A context the model reads for the whole song (sliced to each window)."""

    context: ContextType
    events: list[Event]
    times: list[int | None] = field(init=False)

    def __post_init__(self) -> None:
        self.times = group_time_ms(self.events)

    def in_window(self, start_ms: int, end_ms: int) -> ContextBlock:
        return ContextBlock(self.context, slice_events(self.events, start_ms, end_ms, self.times))


@dataclass
class Stream:
    context: ContextType  # what it generates
    conditions: Conditions
    given: list[GivenBlock] = field(default_factory=list)
    negative: Conditions | None = None  # the CFG unconditional prompt's conditioning
    committed: list[Event] = field(default_factory=list)  # absolute-time events, time-ordered


def group_starts(events: list[Event]) -> list[tuple[int | None, list[Event]]]:
    """Each event group with the absolute time it starts at (None before the first time shift)."""
    out, time_ms = [], None
    for group in split_groups(events):
        for e in group:
            if e.type == EventType.TIME_SHIFT:
                time_ms = e.value
        out.append((time_ms, group))
    return out


def split_lanes(windows: list[Window], lanes: int) -> list[list[Window]]:
    """`windows` cut into `lanes` runs of consecutive windows, as even as can be."""
    lanes = max(1, min(lanes, len(windows)))
    bounds = [round(i * len(windows) / lanes) for i in range(lanes + 1)]
    return [windows[a:b] for a, b in zip(bounds, bounds[1:], strict=False)]


def join_lanes(parts: list[list[Event]], seam_gap_ms: int) -> list[Event]:
    """The events of consecutive lanes as one list. A lane starts without its lookback (the lane
    before was still being written), so its groups closer than `seam_gap_ms` to the last group of
    the lane before are dropped: they would double a note that lane put at the seam."""
    joined: list[Event] = []
    previous_last: int | None = None
    for events in parts:
        lane_last = previous_last
        for time_ms, group in group_starts(events):
            if previous_last is not None and (time_ms is None or time_ms < previous_last + seam_gap_ms):
                continue
            joined.extend(group)
            lane_last = time_ms if time_ms is not None else lane_last
        previous_last = lane_last
    return joined


def complete_groups(events: list[Event]) -> list[Event]:
    """`events` without a trailing group that never reached its type event."""
    for i in range(len(events) - 1, -1, -1):
        if events[i].type in TYPE_EVENTS:
            return events[: i + 1]
    return []


class PassRunner:
    """Runs passes with one decoder over one song's log-mel."""

    def __init__(self, decoder: Decoder, mel: np.ndarray, song_ms: int):
        self.decoder = decoder
        self.tokenizer = decoder.tokenizer
        self.mel = mel
        self.song_ms = song_ms
        self.window_frames = decoder.model.config.max_source_frames
        self.window_ms = self.window_frames * MS_PER_FRAME

    def prompt(self, stream: Stream, conditions: Conditions, window: Window) -> list[int]:
        end = window.start_ms + self.window_ms
        given = [block.in_window(window.start_ms, end) for block in stream.given]
        lookback = slice_events(stream.committed, window.start_ms, window.commit_from_ms)
        position = max(window.start_ms, 0) / max(self.song_ms, 1)
        prefix = condition_events(conditions, self.tokenizer, position)
        outputs = [ContextBlock(stream.context, lookback, n_lookback=len(lookback))]
        return build_sequence(
            self.tokenizer, window.start_ms, prefix, given, outputs, close_last=False
        ).input_ids

    def _request(self, stream: Stream, window: Window, encoder_row: int, cfg: bool) -> DecodeRequest:
        return DecodeRequest(
            prompt=self.prompt(stream, stream.conditions, window),
            encoder_row=encoder_row,
            stop_ids=frozenset({EOS_ID, self.tokenizer.context_eos(stream.context)}),
            min_time_step=window.min_time_step(),
            stop_time_step=window.stop_time_step(self.window_ms),
            negative_prompt=self.prompt(stream, stream.negative or stream.conditions, window)
            if cfg
            else None,
            strictly_increasing=stream.context == ContextType.TIMING,
        )

    def _commit(self, stream: Stream, window: Window, new_ids: list[int]) -> None:
        events = complete_groups(self.tokenizer.decode_events(new_ids, window.start_ms))
        stream.committed.extend(events)

    def mels(self, windows: list[Window]) -> torch.Tensor:
        return torch.from_numpy(
            np.stack([mel_window(self.mel, w.start_frame, self.window_frames) for w in windows]).astype(
                np.float32
            )
        )

    def step_lanes(
        self, lanes: list[tuple[list[Stream], Window]], options: SamplingOptions, generator: torch.Generator
    ) -> None:
        """One window for each lane (its streams, its window), all decoded as one batch; each stream
        continues from its own committed lookback."""
        cfg = options.cfg_scale > 1
        encoder = self.decoder.encode(self.mels([window for _, window in lanes]))
        targets = [(stream, window, row) for row, (streams, window) in enumerate(lanes) for stream in streams]
        requests = [self._request(stream, window, row, cfg) for stream, window, row in targets]
        new = self.decoder.decode(encoder, requests, options, generator)
        for (stream, window, _), new_ids in zip(targets, new, strict=True):
            self._commit(stream, window, new_ids)

    def tiled_pass(
        self,
        jobs: list[tuple[Stream, list[Window]]],
        options: SamplingOptions,
        generator: torch.Generator,
        on_batch: Callable[[int], None] | None = None,
    ) -> None:
        """Generate independent windows (no lookback), each stream's windows in time order, batched
        across windows and streams."""
        cfg = options.cfg_scale > 1
        tasks = [(stream, window) for stream, windows in jobs for window in windows]
        batch = max(self.decoder.max_batch_rows // (2 if cfg else 1), 1)
        for i in range(0, len(tasks), batch):
            chunk = tasks[i : i + batch]
            encoder = self.decoder.encode(self.mels([w for _, w in chunk]))
            requests = [self._request(s, w, row, cfg) for row, (s, w) in enumerate(chunk)]
            new = self.decoder.decode(encoder, requests, options, generator)
            for (stream, window), new_ids in zip(chunk, new, strict=True):
                self._commit(stream, window, new_ids)
            if on_batch is not None:
                on_batch(len(chunk))
