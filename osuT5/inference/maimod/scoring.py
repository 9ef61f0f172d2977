"""Teacher-forced surprisal: the model reads an existing beatmap's events window by window, with the
same prompt the decoder continues from (conditions, given contexts, the lookback, then the window's
own events), and every event of the window's band gets the model's distribution at its position.

Each token is judged within its own field: a hitsound among hitsounds, a time among times, an
object kind among object kinds, a new combo as a yes/no choice at its slot. Surprisal is
S = -log2 p(actual | field) and the model's uncertainty there is the field's entropy H (bits); the
relative surprisal S / (H + 1 bit) keeps places where the model is unsure anyway from ranking first.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch

from osuT5.events import TYPE_EVENTS, ContextType, Event, EventType, event_span, group_time_ms
from osuT5.inference.passes import PassRunner, Stream
from osuT5.inference.windows import Window
from osuT5.tokenizer import PAD_ID

# Added to the entropy (bits) before dividing: where the model is sure (H << 1) a token scores its
# plain surprisal, where it is unsure (H >> 1) its surprisal relative to that uncertainty.
ENTROPY_SMOOTHING_BITS = 1.0
# Tokens that come before the new-combo slot of an object group.
BEFORE_NEW_COMBO = frozenset(
    {
        EventType.TIME_SHIFT,
        EventType.SNAPPING,
        EventType.TICK_OFFSET,
        EventType.TIME_FINE,
        EventType.POS,
        EventType.POS_REFINE,
    }
)
# Spinners always start a combo in play, so their new-combo flag is not judged.
NEW_COMBO_GROUPS = frozenset({EventType.CIRCLE, EventType.SLIDER_HEAD})


def relative_surprisal(surprisal_bits: float, entropy_bits: float) -> float:
    return surprisal_bits / (entropy_bits + ENTROPY_SMOOTHING_BITS)


@dataclass
class TokenScore:
    """The model's view of one event of the reviewed stream."""

    context: ContextType
    index: int  # position in the stream's event list
    event: Event
    surprisal_bits: float
    entropy_bits: float
    expected: Event  # the most likely value of the same field
    window_start_ms: int
    time_log_probs: np.ndarray | None = None  # TIME_SHIFT tokens: log p over the window's time steps

    @property
    def relative(self) -> float:
        return relative_surprisal(self.surprisal_bits, self.entropy_bits)


@dataclass
class NewComboScore:
    """The yes/no new-combo choice at an object's slot."""

    index: int  # the group's first event
    present: bool
    probability: float  # the model's p(new combo) there
    window_start_ms: int

    @property
    def relative(self) -> float:
        p = min(max(self.probability, 1e-9), 1 - 1e-9)
        surprisal = -math.log2(p if self.present else 1 - p)
        entropy = -(p * math.log2(p) + (1 - p) * math.log2(1 - p))
        return relative_surprisal(surprisal, entropy)


@dataclass
class StreamScores:
    tokens: list[TokenScore]
    new_combos: list[NewComboScore]
    unscored: int  # events that did not fit a window's decoder positions


class FieldTables:
    """Token-id ranges of every field of the output vocabulary."""

    def __init__(self, runner: PassRunner):
        tokenizer = runner.tokenizer
        self.tokenizer = tokenizer
        self.ranges = {r.type: tokenizer.type_range(r.type) for r in tokenizer.output_ranges}
        self.type_ids = torch.tensor(
            sorted(tokenizer.type_range(t)[0] for t in TYPE_EVENTS if t != EventType.KIAI)
        )
        self.new_combo_id = tokenizer.type_range(EventType.NEW_COMBO)[0]

    def field_ids(self, event: Event) -> torch.Tensor | tuple[int, int]:
        if event.type in TYPE_EVENTS and event.type != EventType.KIAI:
            return self.type_ids
        return self.ranges[event.type]


def _new_combo_slots(events: list[Event], lo: int, hi: int) -> dict[int, tuple[int, bool]]:
    """Slot position -> (group start, has a new combo) for object groups in events[lo:hi]."""
    slots = {}
    start = lo
    for i in range(lo, hi):
        if events[i].type in TYPE_EVENTS:
            if events[i].type in NEW_COMBO_GROUPS and events[start].type == EventType.TIME_SHIFT:
                slot = start
                while slot < i and events[slot].type in BEFORE_NEW_COMBO:
                    slot += 1
                slots[slot] = (start, events[slot].type == EventType.NEW_COMBO)
            start = i + 1
    return slots


def score_stream(
    runner: PassRunner,
    stream: Stream,
    events: list[Event],
    windows: list[Window],
    batch_size: int,
    new_combos: bool,
    on_windows: Callable[[int], None] = lambda n: None,
) -> StreamScores:
    """Score every event of `events` (the stream's whole reference, time-sorted) once: each in the
    window whose band holds its group."""
    tables = FieldTables(runner)
    stream.committed = events  # the lookback of each window is sliced from the reference itself
    times = group_time_ms(events)
    out = StreamScores([], [], 0)
    room = runner.decoder.model.config.max_target_tokens
    for b in range(0, len(windows), batch_size):
        chunk = windows[b : b + batch_size]
        rows = []
        for window in chunk:
            lo, hi = event_span(events, window.commit_from_ms, window.commit_to_ms, times)
            prompt = runner.prompt(stream, stream.conditions, window)
            band = runner.tokenizer.encode_events(events[lo:hi], window.start_ms)
            fits = max(min(len(band), room - len(prompt)), 0)
            out.unscored += len(band) - fits
            rows.append((window, prompt, band[:fits], lo))
        if any(band for _, _, band, _ in rows):
            _score_rows(runner, tables, stream.context, events, rows, new_combos, out)
        on_windows(len(chunk))
    return out


@torch.inference_mode()
def _score_rows(runner, tables, context, events, rows, new_combos, out) -> None:
    decoder = runner.decoder
    encoder = decoder.encode(runner.mels([w for w, _, _, _ in rows]))
    sequences = [prompt + band for _, prompt, band, _ in rows]
    width = max(len(s) for s in sequences)
    ids = torch.full((len(rows), width), PAD_ID, dtype=torch.long)
    mask = torch.zeros((len(rows), width), dtype=torch.long)
    for r, sequence in enumerate(sequences):
        ids[r, width - len(sequence) :] = torch.tensor(sequence)
        mask[r, width - len(sequence) :] = 1
    logits, _ = decoder.model.decode_step(encoder, ids.to(decoder.device), None, mask.to(decoder.device))
    logits = logits.float().cpu()
    for r, (window, _, band, lo) in enumerate(rows):
        first = width - len(band) - 1  # logits at position p predict token p + 1
        slots = _new_combo_slots(events, lo, lo + len(band)) if new_combos else {}
        for k, token in enumerate(band):
            row_logits = logits[r, first + k]
            index = lo + k
            if index in slots:
                start, present = slots[index]
                p_new_combo = float(torch.softmax(row_logits, -1)[tables.new_combo_id])
                out.new_combos.append(NewComboScore(start, present, p_new_combo, window.start_ms))
            event = events[index]
            if event.type == EventType.NEW_COMBO:
                continue  # judged as the slot's yes/no choice above
            out.tokens.append(_token_score(tables, context, index, event, token, row_logits, window))


def _token_score(tables, context, index, event, token, row_logits, window) -> TokenScore:
    field = tables.field_ids(event)
    if isinstance(field, tuple):
        first, last = field
        log_probs = torch.log_softmax(row_logits[first : last + 1], -1)
        position = token - first
        ids = None
    else:
        ids = field
        log_probs = torch.log_softmax(row_logits[ids], -1)
        position = int((ids == token).nonzero()[0, 0])
    probs = log_probs.exp()
    entropy = float(-(probs * log_probs.clamp(min=-1e4)).sum()) / math.log(2)
    surprisal = -float(log_probs[position]) / math.log(2)
    best = int(log_probs.argmax())
    expected_id = (field[0] + best) if ids is None else int(ids[best])
    expected = tables.tokenizer.decode(expected_id)
    if expected.type == EventType.TIME_SHIFT:  # back to absolute ms (the step's centre)
        [expected] = tables.tokenizer.decode_events([expected_id], window.start_ms)
    time_log_probs = log_probs.numpy().copy() if event.type == EventType.TIME_SHIFT else None
    return TokenScore(context, index, event, surprisal, entropy, expected, window.start_ms, time_log_probs)
