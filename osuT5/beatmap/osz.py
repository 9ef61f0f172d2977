"""Read and write .osz archives: a zip of a set's .osu files, its audio and its images."""

from __future__ import annotations

import io
import zipfile
import zlib
from pathlib import Path

from osuT5.errors import BeatmapError
from osuT5.files import atomic_write_bytes

from .objects import Beatmap
from .parse import parse_beatmap_bytes
from .write import beatmap_to_text


def read_osz(path: str | Path) -> tuple[dict[str, Beatmap], dict[str, bytes]]:
    """Return ({name: beatmap} for every .osu inside, {name: bytes} for every other file)."""
    path = Path(path)
    try:
        archive = zipfile.ZipFile(path)
    except FileNotFoundError:
        raise BeatmapError("file not found", path) from None
    except (zipfile.BadZipFile, OSError) as e:
        raise BeatmapError(f"not a valid .osz archive ({e})", path) from None
    beatmaps: dict[str, Beatmap] = {}
    files: dict[str, bytes] = {}
    with archive:
        for info in archive.infolist():
            if info.is_dir():
                continue
            try:
                data = archive.read(info)
            except (zipfile.BadZipFile, zlib.error, EOFError, NotImplementedError, RuntimeError) as e:
                # A truncated or corrupt entry (bad CRC), or an encrypted or unsupported one.
                raise BeatmapError(f"cannot read {info.filename!r} from the archive ({e})", path) from None
            if info.filename.lower().endswith(".osu"):
                beatmaps[info.filename] = parse_beatmap_bytes(data, f"{path}!{info.filename}")
            else:
                files[info.filename] = data
    if not beatmaps:
        raise BeatmapError("archive holds no .osu file", path)
    return beatmaps, files


def osz_bytes(beatmaps: dict[str, Beatmap], files: dict[str, bytes] | None = None) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for name, beatmap in beatmaps.items():
            archive.writestr(name, beatmap_to_text(beatmap).encode("utf-8"))
        for name, data in (files or {}).items():
            # Audio is already compressed: storing it saves time and nothing else.
            archive.writestr(name, data, compress_type=zipfile.ZIP_STORED)
    return buffer.getvalue()


def write_osz(path: str | Path, beatmaps: dict[str, Beatmap], files: dict[str, bytes] | None = None) -> Path:
    return atomic_write_bytes(path, osz_bytes(beatmaps, files))
