"""Atomic file output: a reader never sees a half-written file, and existing files are kept."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from osuT5.errors import OsuT5Error


def atomic_write_bytes(path: str | Path, data: bytes, overwrite: bool = False) -> Path:
    """Write `data` to a temporary file beside `path`, then rename it into place.

    Refuses to replace an existing file unless `overwrite` is set, so a user's beatmap or song is
    never damaged by accident.
    """
    path = Path(path)
    if path.exists() and not overwrite:
        raise OsuT5Error(f"{path}: already exists; refusing to overwrite it")
    folder = path.parent
    try:
        folder.mkdir(parents=True, exist_ok=True)
        fd, tmp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=folder)
    except OSError as e:
        raise OsuT5Error(f"{folder}: cannot write here ({e.strerror})") from None
    try:
        # mkstemp creates 0600 files; give outputs the permissions a plain open() would.
        os.chmod(tmp_name, 0o666 & ~current_umask())
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        if overwrite:
            os.replace(tmp_name, path)
        else:
            _publish_new(tmp_name, path)
    except FileExistsError:
        os.unlink(tmp_name)
        raise OsuT5Error(f"{path}: already exists; refusing to overwrite it") from None
    except BaseException:
        if os.path.exists(tmp_name):
            os.unlink(tmp_name)
        raise
    return path


def atomic_write_text(path: str | Path, text: str, overwrite: bool = False, bom: bool = False) -> Path:
    data = text.encode("utf-8")
    return atomic_write_bytes(path, (b"\xef\xbb\xbf" + data) if bom else data, overwrite=overwrite)


def _publish_new(tmp_name: str, path: Path) -> None:
    """Move the finished temp file to `path`, failing if `path` appeared meanwhile."""
    try:
        # link() refuses an existing target, unlike rename(); not every filesystem has links.
        os.link(tmp_name, path)
    except FileExistsError:
        raise
    except OSError:
        if path.exists():
            raise FileExistsError(path) from None
        os.replace(tmp_name, path)
        return
    os.unlink(tmp_name)


def current_umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask
