"""The refiner network: a small DiT over a sequence of hit-object points (embedders → adaLN-Zero blocks
→ final layer), predicting the noise in the points' positions; conditioned on the diffusion step and the
map's style (mode, stars, circle size, descriptors) with a null class for classifier-free guidance."""

from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass
from pathlib import Path

import safetensors.torch
import torch
import torch.nn.functional as F
from torch import nn

from osu_diffusion.config import RefinerModelConfig
from osu_diffusion.features import N_POINT_TYPES
from osuT5.beatmap import GameMode
from osuT5.errors import OsuT5Error
from osuT5.files import atomic_write_text
from osuT5.style import DEFAULT_DESCRIPTORS, Conditions

WEIGHTS_FILE = "model.safetensors"
CONFIG_FILE = "refiner_config.json"
MODES = (GameMode.STD, GameMode.CATCH)
N_STAR_CLASSES = 25  # int(stars * 2), 0 ..< 12.5 stars; then one "unknown"
N_CS_CLASSES = 21  # int(cs * 2), CS 0 .. 10; then one "unknown"


@dataclass(frozen=True)
class ClassIds:
    """A batch's conditions as class ids (B,) and a descriptor multi-hot (B, n_descriptors)."""

    mode: torch.Tensor
    stars: torch.Tensor
    circle_size: torch.Tensor
    descriptors: torch.Tensor

    def drop(self, mask: torch.Tensor, field: str) -> ClassIds:
        """A copy with `field` set to its unknown class where `mask` (B,) is true."""
        value = getattr(self, field)
        unknown = (
            torch.zeros_like(value) if field == "descriptors" else torch.full_like(value, _UNKNOWN[field])
        )
        where = mask.view(-1, *([1] * (value.dim() - 1)))
        return ClassIds(**{**self.__dict__, field: torch.where(where, unknown, value)})


_UNKNOWN = {"mode": len(MODES), "stars": N_STAR_CLASSES, "circle_size": N_CS_CLASSES}


def class_ids(conditions: list[Conditions], descriptors: tuple[str, ...] = DEFAULT_DESCRIPTORS) -> ClassIds:
    """Class ids of each map's conditions; `None` values and unlisted descriptors are unknown."""

    def bucket(value: float | None, n: int) -> int:
        return n if value is None else min(max(int(value * 2), 0), n - 1)

    index = {name: i for i, name in enumerate(descriptors)}
    multi_hot = torch.zeros(len(conditions), len(descriptors))
    for row, c in enumerate(conditions):
        for name in c.descriptors:
            if name in index:
                multi_hot[row, index[name]] = 1.0
    return ClassIds(
        mode=torch.tensor(
            [MODES.index(c.gamemode) if c.gamemode in MODES else len(MODES) for c in conditions]
        ),
        stars=torch.tensor([bucket(c.difficulty_stars, N_STAR_CLASSES) for c in conditions]),
        circle_size=torch.tensor([bucket(c.circle_size, N_CS_CLASSES) for c in conditions]),
        descriptors=multi_hot,
    )


def sinusoid(values: torch.Tensor, dim: int, max_period: float) -> torch.Tensor:
    """(...,) → (..., dim) sin/cos features at periods from 1 to `max_period` (in the values' unit)."""
    half = dim // 2
    freqs = torch.exp(-math.log(max_period) * torch.arange(half, device=values.device) / half)
    angles = values.float().unsqueeze(-1) * freqs * 2 * math.pi
    return torch.cat([torch.sin(angles), torch.cos(angles)], dim=-1)


def _modulate(x: torch.Tensor, shift: torch.Tensor, scale: torch.Tensor) -> torch.Tensor:
    return x * (1 + scale.unsqueeze(1)) + shift.unsqueeze(1)


class Block(nn.Module):
    """Pre-norm self-attention and MLP, each shifted, scaled and gated by the conditioning (adaLN-Zero)."""

    def __init__(self, hidden: int, heads: int, mlp_ratio: float):
        super().__init__()
        self.heads = heads
        self.norm1 = nn.LayerNorm(hidden, elementwise_affine=False, eps=1e-6)
        self.qkv = nn.Linear(hidden, 3 * hidden)
        self.proj = nn.Linear(hidden, hidden)
        self.norm2 = nn.LayerNorm(hidden, elementwise_affine=False, eps=1e-6)
        inner = int(hidden * mlp_ratio)
        self.mlp = nn.Sequential(
            nn.Linear(hidden, inner), nn.GELU(approximate="tanh"), nn.Linear(inner, hidden)
        )
        self.modulation = nn.Sequential(nn.SiLU(), nn.Linear(hidden, 6 * hidden))

    def forward(self, x: torch.Tensor, c: torch.Tensor, attn_mask: torch.Tensor | None) -> torch.Tensor:
        shift1, scale1, gate1, shift2, scale2, gate2 = self.modulation(c).chunk(6, dim=-1)
        b, n, d = x.shape
        qkv = self.qkv(_modulate(self.norm1(x), shift1, scale1)).view(b, n, 3, self.heads, d // self.heads)
        q, k, v = qkv.permute(2, 0, 3, 1, 4)
        attended = F.scaled_dot_product_attention(q, k, v, attn_mask=attn_mask)
        x = x + gate1.unsqueeze(1) * self.proj(attended.transpose(1, 2).reshape(b, n, d))
        return x + gate2.unsqueeze(1) * self.mlp(_modulate(self.norm2(x), shift2, scale2))


class Refiner(nn.Module):
    """ε-prediction over points. Inputs (B = windows, N = points):

    positions (B, N, 2) noisy, in model space; types (B, N) PointType; gaps_ms (B, N, 2) to the previous
    and next point; offset_ms (B, N) time since the window's first point; length_px (B, N) slider
    length; mask (B, N) true for real points; timestep (B,); classes: ClassIds. Returns ε (B, N, 2).
    """

    def __init__(self, config: RefinerModelConfig, descriptors: tuple[str, ...] = DEFAULT_DESCRIPTORS):
        super().__init__()
        self.config, self.descriptors = config, tuple(descriptors)
        d, f = config.hidden_size, config.feature_dim
        self.type_embedding = nn.Embedding(N_POINT_TYPES, d)
        # Coordinates (2), two gaps, the window offset and the length, each as f sinusoid features.
        self.point_in = nn.Linear(6 * f + 2, d)
        self.time_mlp = nn.Sequential(nn.Linear(f * 4, d), nn.SiLU(), nn.Linear(d, d))
        self.mode_embedding = nn.Embedding(len(MODES) + 1, d)
        self.stars_embedding = nn.Embedding(N_STAR_CLASSES + 1, d)
        self.cs_embedding = nn.Embedding(N_CS_CLASSES + 1, d)
        self.descriptor_in = nn.Linear(len(self.descriptors), d, bias=False)
        self.blocks = nn.ModuleList(Block(d, config.num_heads, config.mlp_ratio) for _ in range(config.depth))
        self.final_norm = nn.LayerNorm(d, elementwise_affine=False, eps=1e-6)
        self.final_modulation = nn.Sequential(nn.SiLU(), nn.Linear(d, 2 * d))
        self.out = nn.Linear(d, 2)
        self._zero_init()

    def _zero_init(self) -> None:
        # adaLN-Zero: every block starts as the identity and the output as zero noise.
        for module in [*(b.modulation[-1] for b in self.blocks), self.final_modulation[-1], self.out]:
            nn.init.zeros_(module.weight)
            nn.init.zeros_(module.bias)

    def embed_points(self, positions, types, gaps_ms, offset_ms, length_px) -> torch.Tensor:
        f = self.config.feature_dim
        features = [
            sinusoid(positions[..., 0] * 256, f, 1024.0),  # pixel-scale periods up to 1024 px
            sinusoid(positions[..., 1] * 256, f, 1024.0),
            sinusoid(gaps_ms[..., 0], f, 10_000.0),
            sinusoid(gaps_ms[..., 1], f, 10_000.0),
            sinusoid(offset_ms, f, 100_000.0),
            sinusoid(length_px, f, 2048.0),
            positions,
        ]
        return self.point_in(torch.cat(features, dim=-1)) + self.type_embedding(types)

    def embed_conditions(self, timestep: torch.Tensor, classes: ClassIds) -> torch.Tensor:
        f = self.config.feature_dim
        return (
            self.time_mlp(sinusoid(timestep, f * 4, 10_000.0))
            + self.mode_embedding(classes.mode)
            + self.stars_embedding(classes.stars)
            + self.cs_embedding(classes.circle_size)
            + self.descriptor_in(classes.descriptors)
        )

    def forward(
        self, positions, types, gaps_ms, offset_ms, length_px, mask, timestep, classes
    ) -> torch.Tensor:
        x = self.embed_points(positions, types, gaps_ms, offset_ms, length_px)
        c = self.embed_conditions(timestep, classes)
        # Padding keys are masked out; a padded query still attends to the real points (never all -inf).
        attn_mask = mask[:, None, None, :]
        for block in self.blocks:
            x = block(x, c, attn_mask)
        shift, scale = self.final_modulation(c).chunk(2, dim=-1)
        return self.out(_modulate(self.final_norm(x), shift, scale))

    def forward_with_cfg(self, *args, classes: ClassIds, null: ClassIds, cfg_scale: float) -> torch.Tensor:
        """Classifier-free guidance: ε_null + scale · (ε_cond − ε_null); scale 1 is the conditional pass."""
        cond = self(*args, classes=classes)
        if cfg_scale == 1.0:
            return cond
        uncond = self(*args, classes=null)
        return uncond + cfg_scale * (cond - uncond)

    # -- self-describing folder: weights + config + descriptor list --
    def save(
        self, folder: Path, train_config: dict | None = None, dtype: torch.dtype = torch.float32
    ) -> None:
        folder.mkdir(parents=True, exist_ok=True)
        state = {k: v.detach().to(dtype).contiguous() for k, v in self.state_dict().items()}
        safetensors.torch.save_file(state, str(folder / WEIGHTS_FILE))
        meta = {
            "model": asdict(self.config),
            "descriptors": list(self.descriptors),
            "train_config": train_config,
        }
        atomic_write_text(folder / CONFIG_FILE, json.dumps(meta, indent=1), overwrite=True)

    @classmethod
    def load(cls, folder: str | Path) -> Refiner:
        folder = Path(folder)
        try:
            meta = json.loads((folder / CONFIG_FILE).read_text())
            model = cls(RefinerModelConfig(**meta["model"]), tuple(meta["descriptors"]))
            state = safetensors.torch.load_file(str(folder / WEIGHTS_FILE))
            model.load_state_dict({k: v.float() for k, v in state.items()})
        except (OSError, ValueError, KeyError, TypeError, RuntimeError) as e:
            raise OsuT5Error(f"{folder}: not a refiner folder ({str(e).splitlines()[0]})") from None
        return model.eval()
