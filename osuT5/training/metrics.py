"""Evaluation metrics: token-weighted loss and next-token accuracy per event kind (time, position,
type, hitsound, other), accumulated as sums so that processes can add theirs before dividing."""

from __future__ import annotations

import torch
import torch.nn.functional as F

from osuT5.data.sequence import IGNORE_INDEX
from osuT5.events import OBJECT_TYPE_EVENTS, EventType
from osuT5.tokenizer import Tokenizer

# Kinds of label ids; a label's kind is the one of the event type it encodes. "other" holds the
# special and context tokens and the rarer events (new combo, kiai, scroll speed).
KIND_TYPES: dict[str, tuple[EventType, ...]] = {
    "time": (EventType.TIME_SHIFT, EventType.SNAPPING, EventType.TICK_OFFSET, EventType.TIME_FINE),
    "position": (EventType.POS, EventType.POS_REFINE, EventType.MANIA_COLUMN),
    "type": OBJECT_TYPE_EVENTS,
    "hitsound": (EventType.HITSOUND, EventType.VOLUME),
}
KINDS = (*KIND_TYPES, "other")
OTHER = len(KINDS) - 1
# Time tokens within this many steps (10 ms each) count for the fuzzy time accuracy.
FUZZY_TIME_STEPS = 2
_FIXED = 4  # sums before the per-kind ones


def kind_table(tokenizer: Tokenizer) -> torch.Tensor:
    """(vocab_size_out,) long: the index into KINDS of every predictable id."""
    table = torch.full((tokenizer.vocab_size_out,), OTHER, dtype=torch.long)
    for kind, event_types in enumerate(KIND_TYPES.values()):
        for event_type in event_types:
            first, last = tokenizer.type_range(event_type)
            table[first : last + 1] = kind
    return table


class TokenMetrics:
    """Running sums over evaluation batches: loss, and correct / total labels per kind."""

    def __init__(self, tokenizer: Tokenizer, device: torch.device | str = "cpu"):
        self.kinds = kind_table(tokenizer).to(device)
        self.time_first, self.time_last = tokenizer.type_range(EventType.TIME_SHIFT)
        # [loss sum, labels, time-shift labels, near time shifts, correct per kind, labels per kind]
        self.sums = torch.zeros(_FIXED + 2 * len(KINDS), dtype=torch.float64, device=device)

    @torch.no_grad()
    def update(self, logits: torch.Tensor, labels: torch.Tensor) -> None:
        """logits (B, T, vocab_size_out), labels (B, T) with IGNORE_INDEX where nothing is scored."""
        mask = labels != IGNORE_INDEX
        target = labels[mask]
        scores = logits[mask].float()
        predicted = scores.argmax(-1)
        kinds = self.kinds[target]
        correct = predicted == target
        n = len(KINDS)
        self.sums[0] += F.cross_entropy(scores, target, reduction="sum").double()
        self.sums[1] += target.numel()
        is_time = (target >= self.time_first) & (target <= self.time_last)
        near = (predicted - target).abs() <= FUZZY_TIME_STEPS
        predicted_time = (predicted >= self.time_first) & (predicted <= self.time_last)
        self.sums[2] += is_time.sum()
        self.sums[3] += (is_time & predicted_time & near).sum()
        self.sums[_FIXED : _FIXED + n] += torch.bincount(kinds[correct], minlength=n).double()
        self.sums[_FIXED + n :] += torch.bincount(kinds, minlength=n).double()

    def summary(self, sums: torch.Tensor | None = None) -> dict[str, float]:
        """Loss and accuracies from `sums` (default: this process's; pass the reduced ones)."""
        s = (self.sums if sums is None else sums).double().cpu()
        n = len(KINDS)
        labels = max(s[1].item(), 1.0)
        correct, totals = s[_FIXED : _FIXED + n], s[_FIXED + n :]
        out = {"loss": s[0].item() / labels, "accuracy": correct.sum().item() / labels, "tokens": s[1].item()}
        for i, kind in enumerate(KINDS):
            if totals[i] > 0:
                out[f"accuracy_{kind}"] = (correct[i] / totals[i]).item()
        if s[2] > 0:
            out["accuracy_time_shift_fuzzy"] = (s[3] / s[2]).item()
        return out
