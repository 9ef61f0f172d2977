"""One training or inference sequence: conditioning and input contexts, SOS, generated contexts,
EOS, with the labels that say which tokens the model must predict.

    [ctx_sos(IN) events ctx_eos(IN)]*  conditioning  SOS  [ctx_sos(OUT) events ctx_eos(OUT)]+  EOS

Conditioning, input contexts and lookback events are inputs only (label -100): the model never
learns to emit them. Inference builds its prompt with the same function, so both see one layout.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from osuT5.events import ContextType, Event, EventType
from osuT5.tokenizer import EOS_ID, SOS_ID, Tokenizer

IGNORE_INDEX = -100


@dataclass
class ContextBlock:
    """Events of one context inside a window; the first `n_lookback` events are given, not predicted."""

    context: ContextType
    events: list[Event]
    n_lookback: int = 0


@dataclass
class Sequence:
    input_ids: list[int] = field(default_factory=list)
    labels: list[int] = field(default_factory=list)  # labels[i] is the target after input_ids[i]

    def add(self, token_id: int, predict_next: bool) -> None:
        """Append a token; if `predict_next`, the previous position learns to predict it."""
        if predict_next and self.input_ids:
            self.labels[-1] = token_id
        self.input_ids.append(token_id)
        self.labels.append(IGNORE_INDEX)

    def __len__(self) -> int:
        return len(self.input_ids)


def build_sequence(
    tokenizer: Tokenizer,
    window_start_ms: int,
    conditions: list[Event],
    inputs: list[ContextBlock],
    outputs: list[ContextBlock],
    max_tokens: int | None = None,
    close_last: bool = True,
) -> Sequence:
    """Token ids and labels for one window. `close_last=False` leaves the last output context open
    (an inference prompt to continue from). Too long sequences lose the end of the last output
    context (the model still learns everything before it)."""
    seq = Sequence()
    for block in inputs:
        seq.add(tokenizer.context_sos(block.context), False)
        for token_id in tokenizer.encode_events(block.events, window_start_ms):
            seq.add(token_id, False)
        seq.add(tokenizer.context_eos(block.context), False)
    for event in conditions:
        seq.add(tokenizer.encode(event), False)
    seq.add(SOS_ID, False)
    for index, block in enumerate(outputs):
        last = index == len(outputs) - 1
        seq.add(tokenizer.context_sos(block.context), True)
        ids = tokenizer.encode_events(block.events, window_start_ms)
        n_given = min(block.n_lookback, len(ids))  # events and ids are one to one
        for position, token_id in enumerate(ids):
            seq.add(token_id, position >= n_given)
        if last and not close_last:
            break
        seq.add(tokenizer.context_eos(block.context), True)
    if close_last:
        seq.labels[-1] = EOS_ID
    if max_tokens is not None and len(seq) > max_tokens:
        seq.input_ids, seq.labels = seq.input_ids[:max_tokens], seq.labels[:max_tokens]
        seq.labels[-1] = IGNORE_INDEX  # its true target was cut off
    return seq


def lookback_count(events: list[Event], lookback_end_ms: int) -> int:
    """How many leading events belong to groups that start before `lookback_end_ms` (untimed
    anchor groups follow their head)."""
    count = 0
    current = None
    for event in events:
        if event.type == EventType.TIME_SHIFT:
            current = event.value
        if current is None or current >= lookback_end_ms:
            break
        count += 1
    return count
