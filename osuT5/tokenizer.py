"""Event <-> token id mapping. The vocabulary is built from a small config and saved as JSON beside
a model, so a checkpoint always decodes with the ids it was trained with."""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from pathlib import Path

from osuT5.audio import TOKEN_STEP_MS
from osuT5.errors import OsuT5Error
from osuT5.events import (
    MAX_KEYCOUNT,
    MAX_SNAP_DIVISOR,
    MAX_TICK_OFFSET_MS,
    N_HITSOUND_VALUES,
    OBJECT_TYPE_EVENTS,
    POS_NX,
    POS_NY,
    REFINE_N,
    ContextType,
    Event,
    EventType,
)

PAD_ID, SOS_ID, EOS_ID = 0, 1, 2
N_SPECIAL = 3
FIRST_YEAR = 2007
LAST_YEAR = 2039


@dataclass(frozen=True)
class EventRange:
    type: EventType
    min_value: int
    max_value: int

    @property
    def size(self) -> int:
        return self.max_value - self.min_value + 1


@dataclass(frozen=True)
class TokenizerConfig:
    """Everything the vocabulary depends on. Saved with every model."""

    window_ms: int = 16384
    n_mappers: int = 0
    descriptors: tuple[str, ...] = ()
    contexts: tuple[str, ...] = tuple(c.value for c in ContextType)
    version: int = 1


@dataclass(frozen=True)
class ConditionRange:
    """An input-only range; `unknown` is the value used when the condition is not given."""

    type: EventType
    min_value: int
    max_value: int  # the last *known* value; unknown = max_value + 1


@dataclass
class Tokenizer:
    config: TokenizerConfig = field(default_factory=TokenizerConfig)

    def __post_init__(self) -> None:
        self.contexts = [ContextType(c) for c in self.config.contexts]
        self.offset = N_SPECIAL + 2 * len(self.contexts)
        max_step = self.config.window_ms // TOKEN_STEP_MS
        self.output_ranges = [
            EventRange(EventType.TIME_SHIFT, 0, max_step),
            EventRange(EventType.SNAPPING, 0, MAX_SNAP_DIVISOR),
            EventRange(EventType.TICK_OFFSET, -MAX_TICK_OFFSET_MS, MAX_TICK_OFFSET_MS),
            EventRange(EventType.TIME_FINE, 0, TOKEN_STEP_MS - 1),
            EventRange(EventType.POS, 0, POS_NX * POS_NY - 1),
            EventRange(EventType.POS_REFINE, 0, REFINE_N * REFINE_N - 1),
            EventRange(EventType.MANIA_COLUMN, 0, MAX_KEYCOUNT - 1),
            EventRange(EventType.SCROLL_SPEED, 0, 1000),
            EventRange(EventType.HITSOUND, 0, N_HITSOUND_VALUES - 1),
            EventRange(EventType.VOLUME, 0, 100),
            EventRange(EventType.KIAI, 0, 1),
            EventRange(EventType.NEW_COMBO, 0, 0),
            *(EventRange(t, 0, 0) for t in OBJECT_TYPE_EVENTS),
        ]
        self.condition_ranges = [
            ConditionRange(EventType.GAMEMODE, 0, 3),
            ConditionRange(EventType.DIFFICULTY, 0, 23),  # 0.5-star bins up to 12 stars
            ConditionRange(EventType.MAPPER, 0, self.config.n_mappers - 1),
            ConditionRange(EventType.YEAR, FIRST_YEAR, LAST_YEAR),
            ConditionRange(EventType.HITSOUNDED, 0, 1),
            ConditionRange(EventType.SONG_LENGTH, 0, 60),  # 10 s bins up to 10 minutes
            ConditionRange(EventType.SONG_POSITION, 0, 100),  # percent of the song
            ConditionRange(EventType.GLOBAL_SV, 40, 360),  # SliderMultiplier * 100
            ConditionRange(EventType.CIRCLE_SIZE, 0, 20),  # 0.5 CS bins
            ConditionRange(EventType.KEYCOUNT, 1, MAX_KEYCOUNT),
            ConditionRange(EventType.HOLD_NOTE_RATIO, 0, 10),  # tenths
            ConditionRange(EventType.SCROLL_SPEED_RATIO, 0, 10),
            ConditionRange(EventType.DESCRIPTOR, 0, len(self.config.descriptors) - 1),
        ]
        self._start: dict[EventType, tuple[int, int, int]] = {}
        next_id = self.offset
        for r in self.output_ranges:
            self._start[r.type] = (next_id, r.min_value, r.max_value)
            next_id += r.size
        self.vocab_size_out = next_id
        for c in self.condition_ranges:
            # One extra id for "unknown".
            self._start[c.type] = (next_id, c.min_value, c.max_value + 1)
            next_id += c.max_value + 2 - c.min_value
        self.vocab_size_in = next_id
        self._id_to_event: list[Event | None] = [None] * self.vocab_size_in
        for event_type, (first, lo, hi) in self._start.items():
            for value in range(lo, hi + 1):
                self._id_to_event[first + value - lo] = Event(event_type, value)
        self.descriptor_index = {name: i for i, name in enumerate(self.config.descriptors)}

    # -- ids of single events --
    def encode(self, event: Event) -> int:
        first, lo, hi = self._start[event.type]
        if not lo <= event.value <= hi:
            raise ValueError(f"{event.type.value} value {event.value} outside [{lo}, {hi}]")
        return first + event.value - lo

    def encode_clipped(self, event: Event) -> int:
        first, lo, hi = self._start[event.type]
        return first + min(max(event.value, lo), hi) - lo

    def decode(self, token_id: int) -> Event:
        event = self._id_to_event[token_id] if 0 <= token_id < self.vocab_size_in else None
        if event is None:
            raise ValueError(f"token id {token_id} is not an event")
        return event

    def is_event(self, token_id: int) -> bool:
        return 0 <= token_id < self.vocab_size_in and self._id_to_event[token_id] is not None

    def type_range(self, event_type: EventType) -> tuple[int, int]:
        """[first id, last id] of one event type."""
        first, lo, hi = self._start[event_type]
        return first, first + hi - lo

    def unknown(self, event_type: EventType) -> Event:
        return Event(event_type, self._start[event_type][2])

    def condition(self, event_type: EventType, value: int | None) -> Event:
        """A conditioning event; `None` (or a value outside the known range) means unknown."""
        _, lo, unknown = self._start[event_type]
        if value is None or not lo <= value < unknown:
            return Event(event_type, unknown)
        return Event(event_type, value)

    def context_sos(self, context: ContextType) -> int:
        return N_SPECIAL + 2 * self.contexts.index(context)

    def context_eos(self, context: ContextType) -> int:
        return N_SPECIAL + 2 * self.contexts.index(context) + 1

    # -- windows of events --
    @property
    def max_time_step(self) -> int:
        return self._start[EventType.TIME_SHIFT][2]

    def encode_events(self, events: Iterable[Event], window_start_ms: int) -> list[int]:
        """Token ids of events, with absolute TIME_SHIFT ms turned into 10 ms steps from the window
        start (floor; steps outside the window are clipped). Window starts are multiples of 10 ms so
        every window shares one global step grid (the decoder relies on it to snap and refine)."""
        _check_window_start(window_start_ms)
        ids = []
        for event in events:
            if event.type == EventType.TIME_SHIFT:
                step = (event.value - window_start_ms) // TOKEN_STEP_MS
                event = Event(EventType.TIME_SHIFT, min(max(step, 0), self.max_time_step))
            ids.append(
                self.encode(event) if event.type != EventType.TIME_SHIFT else self.encode_clipped(event)
            )
        return ids

    def decode_events(self, ids: Iterable[int], window_start_ms: int) -> list[Event]:
        """Events of token ids (non-event ids are skipped); TIME_SHIFT back to absolute ms at the
        centre of its 10 ms step, which keeps the quantisation unbiased."""
        _check_window_start(window_start_ms)
        out = []
        for token_id in ids:
            if not self.is_event(token_id):
                continue
            event = self.decode(token_id)
            if event.type == EventType.TIME_SHIFT:
                event = Event(
                    EventType.TIME_SHIFT, window_start_ms + event.value * TOKEN_STEP_MS + TOKEN_STEP_MS // 2
                )
            out.append(event)
        return out

    # -- persistence --
    def to_json(self) -> dict:
        config = asdict(self.config)
        return {
            "config": config,
            "vocab_size_out": self.vocab_size_out,
            "vocab_size_in": self.vocab_size_in,
            "ranges": {t.value: [first, lo, hi] for t, (first, lo, hi) in self._start.items()},
        }

    def save(self, path: str | Path) -> None:
        Path(path).write_text(json.dumps(self.to_json(), indent=1))

    @classmethod
    def load(cls, path: str | Path) -> Tokenizer:
        try:
            data = json.loads(Path(path).read_text())
            raw = data["config"]
            config = TokenizerConfig(
                **{
                    **raw,
                    "descriptors": tuple(raw.get("descriptors", ())),
                    "contexts": tuple(raw.get("contexts", ())),
                }
            )
        except (OSError, ValueError, KeyError, TypeError) as e:
            raise OsuT5Error(f"{path}: not a valid tokenizer file ({e})") from None
        tokenizer = cls(config)
        # The saved ids must match what this code builds, or the model would read the wrong tokens.
        for name in ("vocab_size_out", "vocab_size_in"):
            if data.get(name) != getattr(tokenizer, name):
                raise OsuT5Error(
                    f"{path}: {name} is {data.get(name)} but this code builds {getattr(tokenizer, name)}"
                )
        return tokenizer


def _check_window_start(window_start_ms: int) -> None:
    if window_start_ms % TOKEN_STEP_MS:
        raise ValueError(f"window start {window_start_ms} ms is not a multiple of {TOKEN_STEP_MS} ms")
