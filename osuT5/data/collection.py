"""Find the beatmaps of a collection: an osu! `Songs` folder (one folder per set: .osu files and
the audio they name), a folder of .osz archives, or a rendered synthetic set in the same layout."""

from __future__ import annotations

import hashlib
import json
import logging
import zipfile
from dataclasses import dataclass
from pathlib import Path

from osuT5.beatmap import Beatmap, parse_beatmap_file
from osuT5.errors import BeatmapError, OsuT5Error

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class BeatmapEntry:
    osu_path: Path
    audio_path: Path
    set_key: str  # beatmaps of one set or song share it (train/validation splits never cut one)


def find_beatmaps(root: str | Path, extract_dir: str | Path | None = None) -> list[BeatmapEntry]:
    """Every readable beatmap under `root` whose audio file exists, sorted by path. `.osz`
    archives are extracted once into `extract_dir` (default: `root/.osz_extracted`)."""
    root = Path(root)
    if not root.is_dir():
        raise OsuT5Error(f"{root}: not a folder of beatmaps")
    extract_dir = Path(extract_dir) if extract_dir else root / ".osz_extracted"
    for archive in sorted(root.rglob("*.osz")):
        _extract_once(archive, extract_dir)
    entries = []
    folders = {p.parent for p in root.rglob("*.osu")}
    if extract_dir.is_dir() and not extract_dir.is_relative_to(root):
        folders |= {p.parent for p in extract_dir.rglob("*.osu")}
    for folder in sorted(folders):
        for osu_path in sorted(folder.glob("*.osu")):
            entry = _entry(osu_path, root)
            if entry is not None:
                entries.append(entry)
    return entries


def _entry(osu_path: Path, root: Path) -> BeatmapEntry | None:
    try:
        beatmap = parse_beatmap_file(osu_path)
    except BeatmapError as e:
        log.warning("skipped: %s", e)
        return None
    audio = osu_path.parent / beatmap.audio_filename if beatmap.audio_filename else None
    if audio is None or not audio.is_file():
        log.warning("skipped %s: audio file %r not found", osu_path, beatmap.audio_filename)
        return None
    if not beatmap.hit_objects or not beatmap.uninherited_points:
        log.warning("skipped %s: no hit objects or no timing", osu_path)
        return None
    return BeatmapEntry(osu_path, audio, set_key(beatmap, osu_path))


def set_key(beatmap: Beatmap, osu_path: Path) -> str:
    """Which beatmap set a map belongs to: its BeatmapSetID, else its song (artist and title), else
    its folder. Difficulties and rendered variants of one song then share a key, so a validation
    split never sees a song that training saw."""
    set_id = beatmap.metadata.get("BeatmapSetID", "").strip()
    if set_id.isdigit() and int(set_id) > 0:
        return f"set:{int(set_id)}"
    artist, title = beatmap.artist.strip().lower(), beatmap.title.strip().lower()
    if artist or title:
        return f"song:{artist} - {title}"
    return f"folder:{osu_path.parent}"


def _extract_once(archive: Path, extract_dir: Path) -> None:
    digest = hashlib.sha1(archive.read_bytes()).hexdigest()[:16]
    target = extract_dir / f"{archive.stem}-{digest}"
    if target.is_dir():
        return
    tmp = target.with_name(target.name + ".partial")
    try:
        with zipfile.ZipFile(archive) as z:
            for info in z.infolist():
                # Never write outside the target folder, whatever the archive says.
                name = Path(info.filename)
                if info.is_dir() or name.is_absolute() or ".." in name.parts:
                    continue
                out = tmp / name
                out.parent.mkdir(parents=True, exist_ok=True)
                out.write_bytes(z.read(info))
    except (zipfile.BadZipFile, OSError) as e:
        log.warning("skipped %s: not a readable .osz (%s)", archive, e)
        return
    tmp.rename(target)


def split_by_set(entries: list[BeatmapEntry], validation_fraction: float, seed: int) -> tuple[list, list]:
    """Hold out whole beatmap sets (hash-ordered, so the split is stable as a collection grows)."""
    keys = sorted(
        {e.set_key for e in entries}, key=lambda k: hashlib.sha1(f"{seed}:{k}".encode()).hexdigest()
    )
    n_val = round(len(keys) * validation_fraction)
    held_out = set(keys[:n_val])
    return [e for e in entries if e.set_key not in held_out], [e for e in entries if e.set_key in held_out]


def load_beatmap(entry: BeatmapEntry) -> Beatmap:
    return parse_beatmap_file(entry.osu_path)


def read_set_keys(path: str | Path) -> set[str]:
    """The set keys in a JSON list (a model folder's held_out_sets.json), or an error naming the file."""
    try:
        keys = json.loads(Path(path).read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as e:
        raise OsuT5Error(f"{path}: cannot read the set list ({e})") from e
    if not isinstance(keys, list) or not all(isinstance(k, str) for k in keys):
        raise OsuT5Error(f'{path}: expected a JSON list of set keys such as "set:123"')
    return set(keys)
