"""Time pointer: a TIME_SHIFT logit that looks at the audio at that time.

A plain encoder-decoder must learn through cross-attention *where* in the window each time token points
before it can learn *what* an onset sounds like, and a small model trained on a CPU budget never gets
there (the first default model placed 1 % of its objects within 20 ms). The pointer wires the alignment
in: the logit of time step s gets a bilinear score between the decoder state and the encoder state
covering s, so the cross-entropy on a time token trains the encoder frame under it directly. The decoder
state chooses what to look for (an object onset, a beat, ...), and the ordinary head keeps the prior over
how far ahead the next event is; the two logits add (a product of experts).

The query projection starts at zero, so a model that gains a pointer starts out predicting exactly what
it did before.
"""

from __future__ import annotations

import math

import torch
from torch import nn

from osuT5.events import Event, EventType
from osuT5.tokenizer import TOKEN_STEP_MS, Tokenizer

KEY_DIM = 64


class TimePointer(nn.Module):
    """Scores of (B, T, d_model) decoder states against (B, S, d_model) encoder states, added to the
    TIME_SHIFT columns of (B, T, vocab_size_out) logits."""

    def __init__(self, d_model: int, tokenizer: Tokenizer, ms_per_state: int, encoder_positions: int):
        super().__init__()
        self.time_query = nn.Linear(d_model, KEY_DIM)
        self.time_key = nn.Linear(d_model, KEY_DIM)
        if self.time_query.weight.device.type != "meta":
            nn.init.zeros_(self.time_query.weight)
            nn.init.zeros_(self.time_query.bias)
        self.first_id = tokenizer.encode(Event(EventType.TIME_SHIFT, 0))
        self.n_steps = tokenizer.max_time_step + 1
        self.ms_per_state = ms_per_state
        self.encoder_positions = encoder_positions

    def state_of_step(self, device: torch.device) -> torch.Tensor:
        """Encoder position covering the centre of each 10 ms time step: (n_steps,) long."""
        centres = torch.arange(self.n_steps, device=device) * TOKEN_STEP_MS + TOKEN_STEP_MS // 2
        return (centres // self.ms_per_state).clamp(max=self.encoder_positions - 1)

    def keys(self, encoder_states: torch.Tensor) -> torch.Tensor:
        """(B, S, d_model) -> (B, n_steps, KEY_DIM): one key per time step. Compute once per window."""
        return self.time_key(encoder_states)[:, self.state_of_step(encoder_states.device)]

    def add_scores(
        self, logits: torch.Tensor, decoder_states: torch.Tensor, keys: torch.Tensor
    ) -> torch.Tensor:
        """`logits` with the pointer scores added to its TIME_SHIFT columns (out of place)."""
        scores = self.time_query(decoder_states) @ keys.transpose(1, 2) / math.sqrt(KEY_DIM)
        columns = slice(self.first_id, self.first_id + self.n_steps)
        before, times, after = logits[..., : columns.start], logits[..., columns], logits[..., columns.stop :]
        return torch.cat([before, times + scores.to(logits.dtype), after], dim=-1)
