"""Batched, constrained token decoding for one set of windows: the inner loop of every pass.

Each `DecodeRequest` is one row: a prompt, the encoder row it reads, and the time limits of its window
(times never go backwards, never into the lookback, and a time at or past the lookahead boundary ends
the row without being kept). Rows are left-padded into one batch; classifier-free guidance adds an
unconditional twin for each row in the same batch. A plain loop over `decode_step` with the KV cache
keeps the per-token work to a few tensor calls (see shared/PERFORMANCE.md: the tiny model's cost is
mostly per-call overhead, so batching is the lever).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from osuT5.events import TYPE_EVENTS, EventType
from osuT5.model import OsuT5Model
from osuT5.tokenizer import PAD_ID, Tokenizer


@dataclass(frozen=True)
class SamplingOptions:
    temperature: float = 1.0  # 0 means greedy
    top_p: float = 0.95
    cfg_scale: float = 1.0  # > 1: guide away from each request's negative prompt


@dataclass
class DecodeRequest:
    prompt: list[int]
    encoder_row: int  # row of the encoder states this request reads
    stop_ids: frozenset[int]  # tokens that end the row (EOS, the open context's end)
    min_time_step: int = 0  # earliest TIME_SHIFT step it may emit
    stop_time_step: int | None = None  # a TIME_SHIFT at or past this step ends the row, not kept
    negative_prompt: list[int] | None = None  # the unconditional prompt (CFG); required when cfg_scale > 1
    # Each TIME_SHIFT must be later than the previous one (the TIMING stream never repeats a time;
    # a map's chords and kiai toggles do).
    strictly_increasing: bool = False


def last_time_step(ids: list[int], tokenizer: Tokenizer) -> int:
    """The last TIME_SHIFT step of the open block at the end of `ids` (0 if none): generation may
    not go back before it. Given blocks earlier in the prompt (the timing) do not count."""
    step = _open_block_time(ids, tokenizer)
    return 0 if step is None else step


def _open_block_time(ids: list[int], tokenizer: Tokenizer) -> int | None:
    """The last TIME_SHIFT step of the open block at the end of `ids`, None if it has none."""
    first, last = tokenizer.type_range(EventType.TIME_SHIFT)
    for token in reversed(ids):
        if first <= token <= last:
            return token - first
        if not tokenizer.is_event(token):  # SOS or a context marker: the open block starts here
            return None
    return None


def _after_prompt(request: DecodeRequest, tokenizer: Tokenizer) -> int:
    """The earliest step after the prompt: its open block's last time, or with `strictly_increasing`
    the step after it."""
    step = _open_block_time(request.prompt, tokenizer)
    if step is None:
        return 0
    return step + 1 if request.strictly_increasing else step


class Decoder:
    """Decodes batches of requests with one model; holds the masks that never change."""

    def __init__(self, model: OsuT5Model, max_batch_rows: int = 16):
        self.model = model
        self.tokenizer = model.tokenizer
        self.max_batch_rows = max_batch_rows
        vocab_out = model.config.vocab_size_out
        self.time_first, self.time_last = self.tokenizer.type_range(EventType.TIME_SHIFT)
        # Only event tokens, EOS and context ends may be generated; stop ids are re-allowed per row.
        self.never = torch.zeros(vocab_out, dtype=torch.bool)
        self.is_type = torch.zeros(vocab_out, dtype=torch.bool)
        # The group grammar, loosely: a group opens with its time (or, for slider anchors, a position);
        # a time is never followed by another. A well-trained model never needs these masks; a young
        # one falls into loops of type tokens without them.
        self.opens_group = torch.zeros(vocab_out, dtype=torch.bool)
        for token in range(vocab_out):
            if not self.tokenizer.is_event(token):
                self.never[token] = True
                self.opens_group[token] = True  # EOS and context ends may close a block after a group
                continue
            kind = self.tokenizer.decode(token).type
            self.is_type[token] = kind in TYPE_EVENTS
            self.opens_group[token] = kind in (EventType.TIME_SHIFT, EventType.POS)

    @property
    def device(self) -> torch.device:
        return self.model.whisper.proj_out.weight.device

    @torch.inference_mode()
    def encode(self, mels: torch.Tensor) -> torch.Tensor:
        """(N, n_mels, frames) -> encoder states, in chunks of the batch cap."""
        chunks = [
            self.model.encode(mels[i : i + self.max_batch_rows].to(self.device))
            for i in range(0, len(mels), self.max_batch_rows)
        ]
        return torch.cat(chunks)

    def decode(
        self,
        encoder_states: torch.Tensor,
        requests: list[DecodeRequest],
        options: SamplingOptions,
        generator: torch.Generator,
    ) -> list[list[int]]:
        """New tokens of every request (stop tokens not included), in request order."""
        per_batch = self.max_batch_rows // (2 if options.cfg_scale > 1 else 1)
        out: list[list[int]] = []
        for i in range(0, len(requests), max(per_batch, 1)):
            out += self._decode_batch(encoder_states, requests[i : i + per_batch], options, generator)
        return out

    @torch.inference_mode()
    def _decode_batch(
        self,
        encoder_states: torch.Tensor,
        requests: list[DecodeRequest],
        options: SamplingOptions,
        generator: torch.Generator,
    ) -> list[list[int]]:
        n = len(requests)
        guided = options.cfg_scale > 1
        prompts = [r.prompt for r in requests]
        if guided:
            if any(r.negative_prompt is None for r in requests):
                raise ValueError("cfg_scale > 1 needs a negative prompt for every request")
            prompts += [r.negative_prompt for r in requests]  # type: ignore[misc]
        rows = torch.tensor([r.encoder_row for r in requests] * (2 if guided else 1))
        encoder = encoder_states[rows.to(encoder_states.device)]
        width = max(len(p) for p in prompts)
        max_positions = self.model.config.max_target_tokens
        if width >= max_positions:
            raise ValueError(f"a prompt of {width} tokens leaves no room in {max_positions} positions")
        ids = torch.full((len(prompts), width), PAD_ID, dtype=torch.long)
        mask = torch.zeros((len(prompts), width), dtype=torch.long)
        for row, prompt in enumerate(prompts):
            ids[row, width - len(prompt) :] = torch.tensor(prompt)
            mask[row, width - len(prompt) :] = 1
        device = self.device
        ids, mask = ids.to(device), mask.to(device)

        n_steps = self.time_last - self.time_first + 1
        min_step = torch.tensor(
            [max(r.min_time_step, _after_prompt(r, self.tokenizer)) for r in requests], device=device
        )
        later = torch.tensor([int(r.strictly_increasing) for r in requests], device=device)
        stop_step = torch.tensor(
            [n_steps if r.stop_time_step is None else r.stop_time_step for r in requests], device=device
        )
        allowed_stops = torch.zeros((n, len(self.never)), dtype=torch.bool)
        for row, r in enumerate(requests):
            allowed_stops[row, list(r.stop_ids)] = True
        blocked = (self.never.unsqueeze(0) & ~allowed_stops).to(device)
        step_index = torch.arange(n_steps, device=device)
        is_stop = allowed_stops.to(device)

        not_opening = (~self.opens_group).to(device)
        is_type = self.is_type.to(device)
        logits, cache = self.model.decode_step(encoder, ids, None, mask)
        logits = logits[:, -1]
        new = [[] for _ in range(n)]
        done = torch.zeros(n, dtype=torch.bool, device=device)
        group_start = torch.ones(
            n, dtype=torch.bool, device=device
        )  # prompts end with a context start or a type
        after_time = torch.zeros(n, dtype=torch.bool, device=device)
        for _ in range(max_positions - width):
            scores = logits.float()
            if guided:
                scores = scores[n:] + options.cfg_scale * (scores[:n] - scores[n:])
            scores = scores.masked_fill(blocked | (group_start.unsqueeze(1) & not_opening), float("-inf"))
            time_scores = scores[:, self.time_first : self.time_last + 1]
            time_scores.masked_fill_(
                (step_index.unsqueeze(0) < min_step.unsqueeze(1)) | after_time.unsqueeze(1), float("-inf")
            )
            token = _sample(scores, options, generator)
            step = token - self.time_first
            is_time = (step >= 0) & (step < n_steps)
            group_start = is_type[token]
            after_time = is_time
            ends = is_stop.gather(1, token.unsqueeze(1)).squeeze(1) | (is_time & (step >= stop_step))
            keep = ~done & ~ends
            for row in torch.nonzero(keep).flatten().tolist():
                new[row].append(int(token[row]))
            min_step = torch.where(keep & is_time, torch.maximum(min_step, step + later), min_step)
            done |= ends
            if bool(done.all()):
                break
            feed = token.masked_fill(done, PAD_ID)
            if guided:
                feed = torch.cat([feed, feed])
            mask = torch.cat([mask, torch.ones((len(mask), 1), dtype=mask.dtype, device=device)], dim=1)
            logits, cache = self.model.decode_step(encoder, feed.unsqueeze(1), cache, mask)
            logits = logits[:, -1]
        return new

    @torch.inference_mode()
    def fill_slots(
        self,
        encoder_states: torch.Tensor,
        prompt: list[int],
        segments: list[tuple[list[int], frozenset[int] | None, int]],
        options: SamplingOptions,
        generator: torch.Generator,
        max_free: int = 8,
    ) -> list[list[int]]:
        """Teacher-force `prompt` and each segment's given tokens, letting the model choose only in the
        segments' slots: (given, allowed, end) feeds `given`, then samples tokens from `allowed` until
        it picks `end` (at most `max_free`, then `end` is forced). `allowed=None` forces `end` at once.
        Returns each segment's chosen tokens (without `end`); segments past the decoder's positions get
        none. One row, for filling in hitsounds."""
        device = self.device
        vocab = len(self.never)
        room = self.model.config.max_target_tokens
        logits, cache = self.model.decode_step(encoder_states[:1], torch.tensor([prompt], device=device))
        length = len(prompt)
        chosen: list[list[int]] = []
        for given, allowed, end in segments:
            length += len(given) + 1
            if length + max_free > room:  # out of decoder positions: the rest keep no slot tokens
                chosen.append([])
                continue
            if given:
                logits, cache = self.model.decode_step(
                    encoder_states[:1], torch.tensor([given], device=device), cache
                )
            picks: list[int] = []
            if allowed is not None:
                mask = torch.ones(vocab, dtype=torch.bool, device=device)
                mask[list(allowed | {end})] = False
                while len(picks) < max_free:
                    scores = logits[:, -1].float().masked_fill(mask, float("-inf"))
                    token = int(_sample(scores, options, generator)[0])
                    if token == end:
                        break
                    picks.append(token)
                    length += 1
                    logits, cache = self.model.decode_step(
                        encoder_states[:1], torch.tensor([[token]], device=device), cache
                    )
            logits, cache = self.model.decode_step(
                encoder_states[:1], torch.tensor([[end]], device=device), cache
            )
            chosen.append(picks)
        return chosen


def _sample(scores: torch.Tensor, options: SamplingOptions, generator: torch.Generator) -> torch.Tensor:
    """Greedy at temperature 0, else nucleus sampling from the tempered distribution."""
    if options.temperature <= 0:
        return scores.argmax(-1)
    probs = torch.softmax(scores / options.temperature, dim=-1)
    if options.top_p < 1.0:
        sorted_probs, order = probs.sort(dim=-1, descending=True)
        # Keep the smallest prefix whose mass reaches top_p (always at least the top token).
        outside = sorted_probs.cumsum(-1) - sorted_probs >= options.top_p
        sorted_probs = sorted_probs.masked_fill(outside, 0.0)
        probs = torch.zeros_like(probs).scatter_(-1, order, sorted_probs)
    # Sampled on the CPU with its own generator: the same seed gives the same tokens on any device.
    return torch.multinomial(probs.cpu(), 1, generator=generator).squeeze(1).to(scores.device)
