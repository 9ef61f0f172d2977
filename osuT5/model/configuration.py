"""The model's shape: Whisper dims from a size preset, the mel window, the decoder length and vocabulary.

`OsuT5Config` is a dataclass rather than a `transformers.PretrainedConfig`: it is the one schema for
Hydra (`configs/model/*.yaml` hold only a preset name and overrides), its JSON file holds only our fields
(not Whisper's ~60), and loading it can name the file and field that is wrong. `to_whisper_config` maps it
onto the `WhisperConfig` the backbone is built from.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, fields, replace
from pathlib import Path

from transformers import WhisperConfig

from osuT5.audio import N_MELS
from osuT5.errors import OsuT5Error
from osuT5.tokenizer import EOS_ID, PAD_ID, SOS_ID, Tokenizer

# Size presets, DiT style: name -> Whisper dims. `small` is the reference system's size (~219M parameters
# with our vocabulary); `tiny` is the shipped default, fast enough on 2 CPU cores.
MODEL_PRESETS: dict[str, dict[str, int]] = {
    "tiny": {"d_model": 256, "encoder_layers": 4, "decoder_layers": 4, "attention_heads": 4, "ffn_dim": 1024},
    "small": {
        "d_model": 768,
        "encoder_layers": 12,
        "decoder_layers": 12,
        "attention_heads": 12,
        "ffn_dim": 3072,
    },
}
_PRESET_FIELDS = ("d_model", "encoder_layers", "decoder_layers", "attention_heads", "ffn_dim")
# The conv stem's second convolution has stride 2: one encoder position per two mel frames.
CONV_STRIDE = 2


@dataclass
class OsuT5Config:
    """Architecture of an OsuT5Model. Dims left as None come from `preset`; vocab sizes from the tokenizer.

    Not frozen and `preset` not a Literal, because Hydra cannot override fields of a frozen dataclass and
    OmegaConf cannot type-check Literal fields; `__post_init__` validates instead. Treat it as immutable
    (`dataclasses.replace`) once a model is built from it.
    """

    preset: str = "tiny"
    d_model: int | None = None
    encoder_layers: int | None = None
    decoder_layers: int | None = None
    attention_heads: int | None = None  # same count in encoder self-, decoder self- and cross-attention
    ffn_dim: int | None = None
    n_mels: int = N_MELS
    max_source_frames: int = 2048  # mel frames per window: 16.384 s at 8 ms/frame, 1024 encoder positions
    max_target_tokens: int = 2048  # decoder positions: prompt + generated tokens of one window
    vocab_size_in: int | None = None  # decoder input ids: events and input-only conditioning tokens
    vocab_size_out: int | None = None  # predicted ids: the output head's width
    dropout: float = 0.1  # residual dropout in every block
    attention_dropout: float = 0.0
    # Add a pointer score from the encoder state at each time step to that step's logit (time_pointer.py).
    time_pointer: bool = False

    def __post_init__(self) -> None:
        if not isinstance(self.preset, str) or self.preset not in MODEL_PRESETS:
            _fail("preset", self.preset, f"unknown preset; choose one of {', '.join(MODEL_PRESETS)}")
        for name in _PRESET_FIELDS:
            if getattr(self, name) is None:
                setattr(self, name, MODEL_PRESETS[self.preset][name])
        for name in (*_PRESET_FIELDS, "n_mels", "max_source_frames", "max_target_tokens"):
            _check_positive_int(name, getattr(self, name))
        for name in ("vocab_size_in", "vocab_size_out"):
            if getattr(self, name) is not None:
                _check_positive_int(name, getattr(self, name))
        if self.d_model % self.attention_heads:
            _fail("d_model", self.d_model, f"not divisible by attention_heads ({self.attention_heads})")
        if self.max_source_frames % CONV_STRIDE:
            _fail("max_source_frames", self.max_source_frames, "must be even (the conv stem halves it)")
        if None not in (self.vocab_size_in, self.vocab_size_out) and self.vocab_size_in < self.vocab_size_out:
            _fail("vocab_size_in", self.vocab_size_in, f"smaller than vocab_size_out ({self.vocab_size_out})")
        if not isinstance(self.time_pointer, bool):
            _fail("time_pointer", self.time_pointer, "must be true or false")
        for name in ("dropout", "attention_dropout"):
            value = getattr(self, name)
            if not isinstance(value, int | float) or isinstance(value, bool) or not 0.0 <= value < 1.0:
                _fail(name, value, "must be a number in [0, 1)")

    @property
    def encoder_positions(self) -> int:
        """Encoder sequence length after the conv stem (each position covers 16 ms)."""
        return self.max_source_frames // CONV_STRIDE

    def with_tokenizer(self, tokenizer: Tokenizer) -> OsuT5Config:
        """This config with the tokenizer's vocabulary sizes; raises if they were set to other values."""
        for name in ("vocab_size_in", "vocab_size_out"):
            ours, theirs = getattr(self, name), getattr(tokenizer, name)
            if ours is not None and ours != theirs:
                raise OsuT5Error(f"model config: {name} is {ours} but the tokenizer has {theirs}")
        return replace(self, vocab_size_in=tokenizer.vocab_size_in, vocab_size_out=tokenizer.vocab_size_out)

    def to_whisper_config(self) -> WhisperConfig:
        """The backbone's config. Its vocab_size is the output head's; the input embedding is swapped later."""
        if self.vocab_size_in is None or self.vocab_size_out is None:
            raise OsuT5Error("model config: vocab_size_in and vocab_size_out are unset; pass a tokenizer")
        return WhisperConfig(
            vocab_size=self.vocab_size_out,
            num_mel_bins=self.n_mels,
            d_model=self.d_model,
            encoder_layers=self.encoder_layers,
            decoder_layers=self.decoder_layers,
            encoder_attention_heads=self.attention_heads,
            decoder_attention_heads=self.attention_heads,
            encoder_ffn_dim=self.ffn_dim,
            decoder_ffn_dim=self.ffn_dim,
            dropout=self.dropout,
            attention_dropout=self.attention_dropout,
            max_source_positions=self.encoder_positions,
            max_target_positions=self.max_target_tokens,
            pad_token_id=PAD_ID,
            bos_token_id=SOS_ID,
            eos_token_id=EOS_ID,
            decoder_start_token_id=SOS_ID,
            # Whisper's speech-specific generation defaults would suppress ids that mean something else here.
            suppress_tokens=None,
            begin_suppress_tokens=None,
            # Input ids include conditioning tokens the head never predicts, so the two matrices differ.
            tie_word_embeddings=False,
            attn_implementation="sdpa",
        )

    # -- persistence --
    def to_json(self) -> str:
        """The JSON text `load` reads back; the checkpoint writer stores it atomically with the weights."""
        return json.dumps(asdict(self), indent=1)

    @classmethod
    def load(cls, path: str | Path) -> OsuT5Config:
        """Read a config written from `to_json`; any problem is an OsuT5Error naming the file and the field."""
        try:
            raw = json.loads(Path(path).read_text())
        except (OSError, ValueError) as e:
            raise OsuT5Error(f"{path}: not a readable model config ({e})") from None
        if not isinstance(raw, dict):
            raise OsuT5Error(f"{path}: not a readable model config (expected a JSON object)")
        known = {f.name for f in fields(cls)}
        for name in raw:
            if name not in known:
                raise OsuT5Error(f"{path}: unknown field {name!r}")
        for name in ("vocab_size_in", "vocab_size_out"):
            if raw.get(name) is None:
                raise OsuT5Error(f"{path}: field {name!r} is missing")
        try:
            return cls(**raw)
        except OsuT5Error as e:
            raise OsuT5Error(f"{path}: {e}") from None


def _check_positive_int(name: str, value: object) -> None:
    # bool is an int subclass; `true` in a JSON file is a mistake, not a layer count.
    if not isinstance(value, int) or isinstance(value, bool) or value <= 0:
        _fail(name, value, "must be a positive integer")


def _fail(name: str, value: object, reason: str) -> None:
    raise OsuT5Error(f"model config: {name} = {value!r}: {reason}")
