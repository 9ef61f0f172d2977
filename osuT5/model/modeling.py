"""OsuT5Model: transformers' Whisper encoder-decoder with our mel input, decoder vocabulary and checkpoints.

The model composes a stock `WhisperForConditionalGeneration` (`self.whisper`) rather than subclassing
`PreTrainedModel`. The changes to Whisper are its decoder input embedding (vocab_size_in rows, wider
than the untied vocab_size_out head, because conditioning tokens are fed but never predicted) and, with
`time_pointer`, a score added to the time logits from the audio at each time (time_pointer.py); a
checkpoint must carry our tokenizer and training config and fail with the file and field that disagree,
which HF's own `from_pretrained` machinery is not built for.
"""

from __future__ import annotations

import json
import os
import re
import tempfile
from dataclasses import replace
from pathlib import Path

import safetensors.torch
import torch
import torch.nn.functional as F
import yaml
from huggingface_hub import snapshot_download
from safetensors import SafetensorError
from torch import nn
from transformers import WhisperForConditionalGeneration
from transformers.cache_utils import EncoderDecoderCache
from transformers.generation import GenerationMixin
from transformers.modeling_outputs import BaseModelOutput, Seq2SeqLMOutput

from osuT5.audio import MS_PER_FRAME
from osuT5.errors import OsuT5Error
from osuT5.files import atomic_write_text, current_umask
from osuT5.model.configuration import CONV_STRIDE, OsuT5Config
from osuT5.model.time_pointer import TimePointer
from osuT5.tokenizer import PAD_ID, Tokenizer

WEIGHTS_FILE = "model.safetensors"
CONFIG_FILE = "model_config.json"
TOKENIZER_FILE = "tokenizer.json"
TRAIN_CONFIG_FILE = "train_config.yaml"
# "owner/name" as the Hub spells repository ids; anything else that is not a local folder is a typo.
_HUB_ID = re.compile(r"[A-Za-z0-9][\w.-]*/[\w.-]+")


class OsuT5Model(nn.Module):
    """Log-mel window -> event-token logits. Tensors: mels (B, n_mels, max_source_frames) float,
    decoder ids (B, T) long in [0, vocab_size_in), logits (B, T, vocab_size_out).

    `tokenizer` and `train_config` ride along so that `save_pretrained` writes a self-describing folder.
    """

    def __init__(self, config: OsuT5Config, tokenizer: Tokenizer | None = None):
        super().__init__()
        self.config = config.with_tokenizer(tokenizer) if tokenizer is not None else config
        self.tokenizer = tokenizer
        self.train_config: dict | None = None
        self.whisper = WhisperForConditionalGeneration(self.config.to_whisper_config())
        self.whisper.set_input_embeddings(_decoder_embedding(self.config, self.whisper.config.init_std))
        # Caches only where asked for (decode_step, generate via its generation_config), never in training.
        self.whisper.config.use_cache = False
        self.time_pointer: TimePointer | None = None
        if self.config.time_pointer:
            self.time_pointer = self._new_time_pointer()

    def _new_time_pointer(self) -> TimePointer:
        if self.tokenizer is None:
            raise OsuT5Error("model config: time_pointer needs the tokenizer (its time steps)")
        return TimePointer(
            self.config.d_model, self.tokenizer, CONV_STRIDE * MS_PER_FRAME, self.config.encoder_positions
        )

    def add_time_pointer(self) -> None:
        """Give a model trained without a pointer a new one; it starts with no effect on the logits
        (zero query), so fine-tuning picks up where the model was."""
        if self.time_pointer is not None:
            return
        self.config = replace(self.config, time_pointer=True)
        pointer = self._new_time_pointer()
        self.time_pointer = pointer.to(device=self.device, dtype=self.dtype)

    @property
    def device(self) -> torch.device:
        return next(self.parameters()).device

    @property
    def dtype(self) -> torch.dtype:
        return next(self.parameters()).dtype

    def forward(
        self,
        mels: torch.Tensor,
        decoder_input_ids: torch.Tensor,
        labels: torch.Tensor | None = None,
        decoder_attention_mask: torch.Tensor | None = None,
    ) -> Seq2SeqLMOutput:
        """Teacher-forced pass. `labels` (B, T): ids < vocab_size_out, or -100 where no loss is wanted.

        Returns `.logits` (B, T, vocab_size_out) and, with labels, `.loss` (mean cross-entropy over the
        labelled positions, as Whisper computes it).
        """
        out = self.whisper.model(
            self._prepare_mels(mels),
            decoder_input_ids=decoder_input_ids,
            decoder_attention_mask=decoder_attention_mask,
            decoder_position_ids=_positions(decoder_attention_mask, decoder_input_ids.shape[1]),
            use_cache=False,
        )
        logits = self.whisper.proj_out(out.last_hidden_state)
        if self.time_pointer is not None:
            keys = self.time_pointer.keys(out.encoder_last_hidden_state)
            logits = self.time_pointer.add_scores(logits, out.last_hidden_state, keys)
        loss = None
        if labels is not None:
            loss = F.cross_entropy(logits.reshape(-1, logits.shape[-1]), labels.to(logits.device).reshape(-1))
        return Seq2SeqLMOutput(
            loss=loss, logits=logits, encoder_last_hidden_state=out.encoder_last_hidden_state
        )

    def encode(self, mels: torch.Tensor) -> torch.Tensor:
        """(B, n_mels, max_source_frames) log-mels -> (B, max_source_frames // 2, d_model) encoder states."""
        return self.whisper.get_encoder()(self._prepare_mels(mels)).last_hidden_state

    def decode_step(
        self,
        encoder_hidden_states: torch.Tensor,
        decoder_input_ids: torch.Tensor,
        cache: EncoderDecoderCache | None = None,
        attention_mask: torch.Tensor | None = None,
    ) -> tuple[torch.Tensor, EncoderDecoderCache]:
        """Run the decoder over the ids not yet in `cache` (a prompt, then one token at a time).

        decoder_input_ids: (B, T_new). cache: None on the first call, then the returned one (it grows in
        place; cross-attention keys are computed once). attention_mask: optional (B, T_past + T_new),
        0 at left padding; positions then count only real tokens, so padded rows decode like unpadded ones.
        Returns logits (B, T_new, vocab_size_out) and the cache. Call under `torch.inference_mode()`.
        """
        out = self.whisper.model.decoder(
            input_ids=decoder_input_ids,
            attention_mask=attention_mask,
            encoder_hidden_states=encoder_hidden_states,
            cache=cache,
            position_ids=_positions(attention_mask, decoder_input_ids.shape[1]),
            use_cache=True,
        )
        logits = self.whisper.proj_out(out.last_hidden_state)
        if self.time_pointer is not None:
            # The pointer's keys depend only on the window, so they ride along with the cross-attention
            # cache (the decoding loops never reorder a cache's rows).
            keys = getattr(cache, "time_keys", None)
            if keys is None:
                keys = self.time_pointer.keys(encoder_hidden_states)
            out.cache.time_keys = keys
            logits = self.time_pointer.add_scores(logits, out.last_hidden_state, keys)
        return logits, out.cache

    def generate(
        self, encoder_hidden_states: torch.Tensor, decoder_input_ids: torch.Tensor, **generate_kwargs
    ) -> torch.Tensor:
        """HF `generate` (greedy by default) from precomputed encoder states; returns prompt + new ids.

        Keyword arguments go to `GenerationMixin.generate` (max_new_tokens, logits_processor, do_sample,
        decoder_attention_mask, ...); without a length it stops at max_target_tokens. Whisper's own
        `generate` is bypassed: its speech-specific steps (language detection, timestamps, forced prompt
        ids) mean nothing for our vocabulary.
        """
        if self.time_pointer is not None:
            raise ValueError("HF generate bypasses the time pointer; decode with decode_step (TokenDecoder)")
        if "max_length" not in generate_kwargs and "max_new_tokens" not in generate_kwargs:
            generate_kwargs["max_length"] = self.config.max_target_tokens  # HF's default is 20
        return GenerationMixin.generate(
            self.whisper,
            encoder_outputs=BaseModelOutput(last_hidden_state=encoder_hidden_states),
            decoder_input_ids=decoder_input_ids,
            **generate_kwargs,
        )

    def gradient_checkpointing_enable(self) -> None:
        """Recompute layer activations in the backward pass: less memory for longer windows.

        HF's familiar name; it calls transformers 5's `activation_checkpointing_enable`.
        """
        self.whisper.activation_checkpointing_enable()

    def _prepare_mels(self, mels: torch.Tensor) -> torch.Tensor:
        """Check the window shape and match the conv stem's dtype (mels are computed in fp32)."""
        # Whisper's encoder takes only full windows (its position table is one window long); say which
        # number is off, in our units.
        expected = (self.config.n_mels, self.config.max_source_frames)
        if mels.dim() != 3 or tuple(mels.shape[1:]) != expected:
            raise ValueError(f"mels must be (batch, {expected[0]}, {expected[1]}), got {tuple(mels.shape)}")
        return mels.to(self.whisper.model.encoder.conv1.weight.dtype)

    # -- checkpoints --
    def save_pretrained(
        self,
        folder: str | Path,
        tokenizer: Tokenizer | None = None,
        train_config: dict | None = None,
        dtype: torch.dtype | None = None,
    ) -> Path:
        """Write weights, model config, tokenizer and (if given) training config into `folder`.
        `dtype` stores floating-point weights in another precision (fp16 halves a shipped model).

        Each file is written to a temporary name beside it and renamed, so a reader never sees a half
        file. `tokenizer` and `train_config` default to the ones attached to the model.
        """
        tokenizer = tokenizer if tokenizer is not None else self.tokenizer
        if tokenizer is None:
            raise OsuT5Error(f"{folder}: cannot save a model without its tokenizer")
        self.config.with_tokenizer(tokenizer)  # refuse to write a folder that could not be loaded
        train_config = train_config if train_config is not None else self.train_config
        folder = Path(folder)
        # Tokenizer.save writes in place; render the same JSON here so that the write is atomic.
        atomic_write_text(folder / TOKENIZER_FILE, json.dumps(tokenizer.to_json(), indent=1), overwrite=True)
        atomic_write_text(folder / CONFIG_FILE, self.config.to_json(), overwrite=True)
        if train_config is not None:
            try:
                text = yaml.safe_dump(train_config, sort_keys=False)
            except yaml.YAMLError as e:
                raise OsuT5Error(
                    f"{folder / TRAIN_CONFIG_FILE}: training config is not plain data ({e})"
                ) from None
            atomic_write_text(folder / TRAIN_CONFIG_FILE, text, overwrite=True)
        state = {name: _stored(t, dtype) for name, t in self.state_dict().items()}
        _atomic_save_weights(state, folder / WEIGHTS_FILE)
        return folder

    @classmethod
    def from_pretrained(cls, model_path: str | os.PathLike, device: str | torch.device = "cpu") -> OsuT5Model:
        """Load a folder written by `save_pretrained`, or download one by Hub id ("owner/name").

        The returned model is in eval mode with `.tokenizer` and `.train_config` (dict or None) attached.
        Any missing or inconsistent piece raises OsuT5Error naming the file and the field.
        """
        folder = _resolve_model_path(model_path)
        for name in (CONFIG_FILE, TOKENIZER_FILE, WEIGHTS_FILE):
            if not (folder / name).is_file():
                raise OsuT5Error(
                    f"{folder / name}: missing; a model folder holds {CONFIG_FILE}, "
                    f"{TOKENIZER_FILE} and {WEIGHTS_FILE}"
                )
        config = OsuT5Config.load(folder / CONFIG_FILE)
        tokenizer = Tokenizer.load(folder / TOKENIZER_FILE)
        for name in ("vocab_size_in", "vocab_size_out"):
            if getattr(tokenizer, name) != getattr(config, name):
                raise OsuT5Error(
                    f"{folder / TOKENIZER_FILE}: {name} is {getattr(tokenizer, name)} "
                    f"but {CONFIG_FILE} says {getattr(config, name)}"
                )
        # Build on the meta device: the weights replace every tensor, so random init would be wasted work.
        with torch.device("meta"):
            model = cls(config, tokenizer)
        state = _read_weights(folder / WEIGHTS_FILE, device)
        _check_state(state, model.state_dict(), folder / WEIGHTS_FILE)
        model.load_state_dict(state, assign=True)
        train_config_path = folder / TRAIN_CONFIG_FILE
        if train_config_path.is_file():
            try:
                model.train_config = yaml.safe_load(train_config_path.read_text())
            except yaml.YAMLError as e:
                raise OsuT5Error(f"{train_config_path}: not valid YAML ({e})") from None
        return model.eval()


def _stored(tensor: torch.Tensor, dtype: torch.dtype | None) -> torch.Tensor:
    tensor = tensor.detach().cpu()
    if dtype is not None and tensor.is_floating_point():
        tensor = tensor.to(dtype)
    return tensor.contiguous()


def count_parameters(module: nn.Module, trainable_only: bool = False) -> int:
    """Number of parameter elements in `module` (only those with requires_grad if `trainable_only`)."""
    return sum(p.numel() for p in module.parameters() if p.requires_grad or not trainable_only)


def _decoder_embedding(config: OsuT5Config, init_std: float) -> nn.Embedding:
    embedding = nn.Embedding(config.vocab_size_in, config.d_model, padding_idx=PAD_ID)
    if embedding.weight.device.type != "meta":
        # Whisper's own init (N(0, init_std)), not nn.Embedding's N(0, 1) that would swamp the positions.
        nn.init.normal_(embedding.weight, std=init_std)
        with torch.no_grad():
            embedding.weight[PAD_ID].zero_()
    return embedding


def _positions(attention_mask: torch.Tensor | None, n_new: int) -> torch.Tensor | None:
    """Decoder position of each of the last `n_new` tokens: how many real tokens precede it.

    None without a mask (Whisper then counts from the cache length). With left padding this keeps every
    row's first real token at position 0, as in training.
    """
    if attention_mask is None:
        return None
    return (attention_mask.long().cumsum(-1) - 1).clamp(min=0)[:, -n_new:]


def _resolve_model_path(model_path: str | os.PathLike) -> Path:
    path = Path(model_path).expanduser()
    if path.is_dir():
        return path
    if path.exists():
        raise OsuT5Error(f"{path}: not a folder; a model path is a model folder or a Hub id (owner/name)")
    if not _HUB_ID.fullmatch(str(model_path)):
        raise OsuT5Error(f"{path}: model folder not found")
    try:
        return Path(snapshot_download(str(model_path)))
    except (OSError, ValueError) as e:  # offline, not found, no access, bad id: all one line for the user
        reason = " ".join(str(e).split()) or type(e).__name__
        raise OsuT5Error(
            f"{model_path}: no such local folder, and downloading it from the Hugging Face Hub failed "
            f"({type(e).__name__}: {reason})"
        ) from None


def _atomic_save_weights(state: dict[str, torch.Tensor], path: Path) -> None:
    """safetensors' save_file to a temporary name beside `path`, then rename.

    Not files.atomic_write_bytes: rendering the file to bytes first is 3x slower and holds a second copy
    of the weights in memory (5 s and 0.8 GB for the small preset).
    """
    fd, tmp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    try:
        safetensors.torch.save_file(state, tmp_name, metadata={"format": "pt"})
        os.chmod(tmp_name, 0o666 & ~current_umask())  # mkstemp's 0600 would hide a shipped model from others
        os.replace(tmp_name, path)
    except BaseException:
        if os.path.exists(tmp_name):
            os.unlink(tmp_name)
        raise


def _read_weights(path: Path, device: str | torch.device) -> dict[str, torch.Tensor]:
    try:
        return safetensors.torch.load_file(path, device=str(device))
    except (OSError, SafetensorError) as e:
        raise OsuT5Error(f"{path}: not a readable safetensors file ({e})") from None


def _check_state(state: dict[str, torch.Tensor], expected: dict[str, torch.Tensor], path: Path) -> None:
    """Same tensor names and shapes as the model built from the config, or an error naming the tensor."""
    for name, tensor in expected.items():
        if name not in state:
            raise OsuT5Error(f"{path}: tensor {name!r} is missing")
        if state[name].shape != tensor.shape:
            raise OsuT5Error(
                f"{path}: tensor {name!r} has shape {tuple(state[name].shape)} "
                f"but {CONFIG_FILE} implies {tuple(tensor.shape)}"
            )
    for name in state:
        if name not in expected:
            raise OsuT5Error(f"{path}: unexpected tensor {name!r} (saved from a different model?)")
