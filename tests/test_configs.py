"""Every YAML file under configs/ composes with its primary config, and training configs convert to the
dataclass schema; overrides and mistakes behave as documented."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from hydra import compose, initialize_config_dir
from hydra.errors import ConfigCompositionException

from osu_diffusion.config import DiffusionTrainConfig
from osu_diffusion.config import load_config as load_diffusion_config
from osuT5.config import Device, Precision, Schedule, TrainConfig, load_config
from osuT5.errors import OsuT5Error
from osuT5.inference import options as _inference_options  # noqa: F401  (registers the inference schema)
from osuT5.inference.maimod import options as _mai_mod_options  # noqa: F401  (registers the MaiMod schema)

CONFIGS = Path(__file__).resolve().parents[1] / "configs"
PRIMARIES = sorted(p.stem for p in CONFIGS.glob("*.yaml"))
# Values the schema leaves required; a real run passes them on the command line.
REQUIRED = {
    "train": ["data.root=/songs", "output_dir=/tmp/osuT5-config-test"],
    "train_diffusion": ["data.root=/songs", "output_dir=/tmp/osuT5-config-test"],
}
NEEDS = {"experiment/lora": ["pretrained_path=/models/base"]}


def _groups(primary: str) -> dict[str, list[str]]:
    """Config groups a primary's defaults list selects (Hydra's own group aside), with their options."""
    defaults = yaml.safe_load((CONFIGS / f"{primary}.yaml").read_text())["defaults"]
    names = [next(iter(entry)) for entry in defaults if isinstance(entry, dict)]
    return {
        name: sorted(p.stem for p in (CONFIGS / name).glob("*.yaml"))
        for name in names
        if name != "hydra" and not name.startswith("override")
    }


def _cases() -> list[tuple[str, list[str]]]:
    cases = []
    for primary in PRIMARIES:
        cases.append((primary, []))
        for group, options in _groups(primary).items():
            cases += [(primary, [f"{group}={option}"]) for option in options]
        if "debug" in _groups(primary):
            # Experiments combined with a debug config, as a quick trial of a recipe would run.
            cases += [
                (primary, [f"experiment={e}", "debug=fast"]) for e in _groups(primary).get("experiment", [])
            ]
    return cases


def _compose(primary: str, overrides: list[str], hydra: bool = False):
    extra = list(REQUIRED.get(primary, []))
    for override in overrides:
        extra += NEEDS.get(override.replace("=", "/"), [])
    with initialize_config_dir(config_dir=str(CONFIGS), version_base="1.3"):
        return compose(config_name=primary, overrides=[*extra, *overrides], return_hydra_config=hydra)


@pytest.mark.parametrize(
    ("primary", "overrides"), _cases(), ids=lambda v: " ".join(v) if isinstance(v, list) else v
)
def test_config_composes(primary: str, overrides: list[str]) -> None:
    config = _compose(primary, overrides)
    if primary == "train":
        assert isinstance(load_config(config), TrainConfig)
    if primary == "train_diffusion":
        assert isinstance(load_diffusion_config(config), DiffusionTrainConfig)


def test_every_yaml_file_is_composed() -> None:
    covered = {CONFIGS / f"{p}.yaml" for p in PRIMARIES} | set((CONFIGS / "hydra").glob("*.yaml"))
    for primary in PRIMARIES:
        for group, options in _groups(primary).items():
            covered |= {CONFIGS / group / f"{option}.yaml" for option in options}
    orphans = set(CONFIGS.rglob("*.yaml")) - covered
    assert not orphans, f"config files no primary config can select: {sorted(map(str, orphans))}"


def test_defaults_and_hydra_run_dir() -> None:
    config = _compose("train", [], hydra=True)
    assert config.hydra.run.dir == "/tmp/osuT5-config-test"  # Hydra's files go into the run's folder
    assert config.hydra.job.chdir is False
    cfg = load_config(_compose("train", []))
    assert cfg.model.preset == "tiny" and cfg.model.d_model == 256
    assert cfg.precision is Precision.no and cfg.device is Device.auto
    assert cfg.optim.schedule is Schedule.cosine and not cfg.lora.enabled


def test_default_output_dir_is_dated_under_outputs() -> None:
    with initialize_config_dir(config_dir=str(CONFIGS), version_base="1.3"):
        cfg = load_config(compose(config_name="train", overrides=["data.root=/songs"]))
    assert cfg.output_dir.startswith("outputs/train/20")


def test_presets_and_debug_values() -> None:
    small = load_config(_compose("train", ["model=small"]))
    assert small.model.d_model == 768 and small.model.decoder_layers == 12
    fast = load_config(_compose("train", ["debug=fast"]))
    assert fast.model.max_source_frames == 256 and fast.optim.total_steps == 2
    assert fast.data.num_workers == 0 and fast.eval_batches == 1
    data = fast.data.data_config(fast.model)
    assert data.window_frames == 256 and data.max_tokens == 256


def test_lora_keys_live_under_lora() -> None:
    cfg = load_config(_compose("train", ["experiment=lora", "lora.r=8", "lora.lora_alpha=16"]))
    assert cfg.lora.enabled and cfg.lora.r == 8 and cfg.lora.lora_alpha == 16
    assert cfg.lora.target_modules == ["q_proj", "v_proj"]
    with pytest.raises(Exception, match="r"):  # no top-level r: the schema is strict
        _compose("train", ["experiment=lora", "r=8"])


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        (["data.root=???"], "data.root is required"),
        (["experiment=lora", "pretrained_path=???"], "pretrained_path is required"),
        (["lora.enabled=true"], "pretrained_path"),
        (["optim.batch_size=0"], "optim.batch_size"),
        (["data.validation_fraction=1.5"], "data.validation_fraction"),
        (["model.d_model=100", "model.attention_heads=3"], "d_model"),
    ],
)
def test_mistakes_name_the_key(overrides: list[str], message: str) -> None:
    with pytest.raises(OsuT5Error, match=message):
        load_config(_compose("train", overrides))


def test_wrong_types_fail_at_composition_naming_the_key() -> None:
    with pytest.raises(ConfigCompositionException) as error:
        _compose("train", ["precision=fp8"])
    assert "precision" in str(error.value.__cause__ or error.value)


def test_data_window_must_match_the_model() -> None:
    cfg = load_config(_compose("train", ["data.window_frames=1024"]))
    with pytest.raises(OsuT5Error, match="data.window_frames"):
        cfg.data.data_config(cfg.model)
