"""Collection discovery, the mel cache, sequence layout and training samples."""

from __future__ import annotations

import shutil
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from osuT5.beatmap import parse_beatmap_file, write_beatmap_file
from osuT5.data.collection import find_beatmaps, split_by_set
from osuT5.data.dataset import BeatmapWindows, DataConfig, collate, prepare
from osuT5.data.mel_cache import cached_mel
from osuT5.data.sequence import IGNORE_INDEX, ContextBlock, build_sequence, lookback_count
from osuT5.events import ContextType, Event, EventType
from osuT5.style import DEFAULT_DESCRIPTORS
from osuT5.tokenizer import EOS_ID, SOS_ID, Tokenizer, TokenizerConfig

MAPS = ("std/**/DJ Ozawa - Tokyo*Beginner*.osu", "mania/**/James Landino - Reaction*Advanced*.osu")


@pytest.fixture(scope="module")
def tokenizer() -> Tokenizer:
    return Tokenizer(TokenizerConfig(descriptors=DEFAULT_DESCRIPTORS))


@pytest.fixture(scope="module")
def collection(corpus_dir: Path, tmp_path_factory) -> Path:
    """Two Songs-style folders: a corpus map and a 40 s tone file named as its audio."""
    root = tmp_path_factory.mktemp("songs")
    for n, pattern in enumerate(MAPS):
        source = next((corpus_dir / "beatmaps").glob(pattern))
        beatmap = parse_beatmap_file(source)
        beatmap.general["AudioFilename"] = "audio.wav"
        folder = root / f"set{n}"
        folder.mkdir()
        write_beatmap_file(beatmap, folder / source.name)
        t = np.arange(40 * 22050) / 22050
        sf.write(
            folder / "audio.wav", 0.3 * np.sin(2 * np.pi * 440 * t) * (np.sin(2 * np.pi * 2 * t) > 0), 22050
        )
    (root / "broken").mkdir()
    (root / "broken" / "x.osu").write_text("not a beatmap")
    return root


def test_find_beatmaps_and_split(collection: Path) -> None:
    entries = find_beatmaps(collection)
    assert len(entries) == 2  # the broken folder is skipped with a warning
    assert all(e.audio_path.name == "audio.wav" for e in entries)
    train, val = split_by_set(entries, 0.5, seed=1)
    assert len(train) == 1 and len(val) == 1 and train[0].set_key != val[0].set_key


def test_difficulties_of_one_song_share_a_set(collection: Path, tmp_path: Path) -> None:
    # A second difficulty of set0's song, in another folder (as rendered variants are).
    other = tmp_path / "elsewhere"
    shutil.copytree(collection / "set0", other)
    entries = find_beatmaps(collection) + find_beatmaps(tmp_path)
    keys = {e.osu_path.parent.name: e.set_key for e in entries}
    assert keys["elsewhere"] == keys["set0"] != keys["set1"]
    train, val = split_by_set(entries, 0.5, seed=1)
    assert {e.set_key for e in train}.isdisjoint({e.set_key for e in val})


def test_osz_archives_are_found(collection: Path, tmp_path: Path) -> None:
    archive = shutil.make_archive(str(tmp_path / "pack" / "set0"), "zip", collection / "set0")
    Path(archive).rename(tmp_path / "pack" / "set0.osz")
    entries = find_beatmaps(tmp_path / "pack", extract_dir=tmp_path / "extracted")
    assert len(entries) == 1 and entries[0].audio_path.is_file()


def test_mel_cache_reuses_the_first_decode(collection: Path, tmp_path: Path) -> None:
    audio = collection / "set0" / "audio.wav"
    first = cached_mel(audio, tmp_path)
    assert len(list(tmp_path.glob("*.npy"))) == 1
    again = cached_mel(audio, tmp_path)
    np.testing.assert_array_equal(first, again)
    assert first.shape[1] == 40 * 125 + 1  # 8 ms frames, centred


def test_sequence_layout_and_labels(tokenizer: Tokenizer) -> None:
    timing = [
        Event(EventType.TIME_SHIFT, 1000),
        Event(EventType.BEAT),
        Event(EventType.TIME_SHIFT, 1500),
        Event(EventType.BEAT),
    ]
    objects = [Event(EventType.TIME_SHIFT, 1200), Event(EventType.SNAPPING, 4), Event(EventType.CIRCLE)]
    prefix = [tokenizer.condition(EventType.GAMEMODE, 0)]
    seq = build_sequence(
        tokenizer,
        1000,
        prefix,
        [ContextBlock(ContextType.TIMING, timing)],
        [ContextBlock(ContextType.MAP, objects)],
    )
    ids, labels = seq.input_ids, seq.labels
    assert ids[0] == tokenizer.context_sos(ContextType.TIMING)
    sos = ids.index(SOS_ID)
    # Nothing before SOS is ever a target except the context marker SOS predicts.
    assert all(label == IGNORE_INDEX for label in labels[:sos])
    assert labels[sos] == tokenizer.context_sos(ContextType.MAP)
    assert labels[-1] == EOS_ID and ids[-1] == tokenizer.context_eos(ContextType.MAP)
    assert tokenizer.decode_events(ids[sos + 2 : -1], 1000) == [
        Event(EventType.TIME_SHIFT, 1205),
        *objects[1:],
    ]
    # Lookback events are inputs without labels.
    later = [Event(EventType.TIME_SHIFT, 1400), Event(EventType.SNAPPING, 4), Event(EventType.CIRCLE)]
    n = lookback_count(objects + later, 1300)
    assert n == 3
    seq = build_sequence(tokenizer, 1000, prefix, [], [ContextBlock(ContextType.MAP, objects + later, n)])
    sos = seq.input_ids.index(SOS_ID)
    # The first group is given: no position predicts its tokens; the second group is learned.
    targets = [label for label in seq.labels[sos:] if label != IGNORE_INDEX]
    assert targets == [
        tokenizer.context_sos(ContextType.MAP),
        *tokenizer.encode_events(later, 1000),
        tokenizer.context_eos(ContextType.MAP),
        EOS_ID,
    ]


def test_samples(collection: Path, tokenizer: Tokenizer, tmp_path: Path) -> None:
    prepared = [prepare(e, tmp_path) for e in find_beatmaps(collection)]
    config = DataConfig(window_frames=1024, max_tokens=512, seed=3)
    data = BeatmapWindows(prepared, tokenizer, config)
    assert len(data) == sum(-(-p.mel.shape[1] // 1024) for p in prepared)
    sample = data[1]
    assert sample["mels"].shape == (prepared[0].mel.shape[0], 1024)
    assert sample["input_ids"].shape == sample["labels"].shape
    assert len(sample["input_ids"]) <= 512
    predicted = sample["labels"][sample["labels"] != IGNORE_INDEX]
    assert len(predicted) > 0 and int(predicted.max()) < tokenizer.vocab_size_out
    # Deterministic for (seed, epoch, index); another epoch moves the window.
    assert all(np.array_equal(a, b) for a, b in zip(data[1].values(), sample.values(), strict=True))
    data.set_epoch(1)
    assert not np.array_equal(data[1]["mels"], sample["mels"]) or not np.array_equal(
        data[1]["labels"], sample["labels"]
    )
    batch = collate([data[i] for i in range(4)])
    assert batch["decoder_input_ids"].shape == batch["labels"].shape == batch["decoder_attention_mask"].shape
    assert batch["mels"].shape[0] == 4


def test_timing_pass_share(collection: Path, tokenizer: Tokenizer, tmp_path: Path) -> None:
    prepared = [prepare(e, tmp_path) for e in find_beatmaps(collection)]
    data = BeatmapWindows(
        prepared, tokenizer, replace(DataConfig(window_frames=512, max_tokens=4096), timing_pass_prob=0.5)
    )
    timing_sos = tokenizer.context_sos(ContextType.TIMING)
    kinds = []
    for i in range(len(data)):
        ids = data[i]["input_ids"].tolist()
        kinds.append(ids[0] != timing_sos)  # a timing pass has no input context before SOS
    assert 0.2 < sum(kinds) / len(kinds) < 0.8


def test_worker_processes_give_the_same_batches(
    collection: Path, tokenizer: Tokenizer, tmp_path: Path
) -> None:
    """Samples depend only on (seed, epoch, index), never on which worker made them."""
    import torch
    from torch.utils.data import DataLoader

    prepared = [prepare(e, tmp_path) for e in find_beatmaps(collection)]
    data = BeatmapWindows(prepared, tokenizer, DataConfig(window_frames=512, max_tokens=512, seed=5))

    def batches(workers: int) -> list[dict]:
        order = torch.Generator().manual_seed(0)
        loader = DataLoader(
            data, batch_size=3, shuffle=True, generator=order, collate_fn=collate, num_workers=workers
        )
        return list(loader)

    single, parallel = batches(0), batches(2)
    assert len(single) == len(parallel) > 1
    for a, b in zip(single, parallel, strict=True):
        assert all(torch.equal(a[k], b[k]) for k in a)
