"""Server-side file browsing that never leaves the folders the user allowed."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from osuT5.errors import OsuT5Error
from osuT5.inference.option_forms import FOLDER


class AllowedFolders:
    """The roots a page may browse and name in its options; every path is resolved (symlinks and `..`
    included) before it is compared, so no spelling reaches outside them."""

    def __init__(self, roots: list[str | Path]):
        if not roots:
            raise OsuT5Error("the web UI needs at least one allowed folder")
        self.roots = [Path(r).expanduser().resolve() for r in roots]

    def contains(self, path: Path) -> bool:
        return any(path == root or root in path.parents for root in self.roots)

    def check(self, path: str | Path) -> Path:
        """`path` resolved, or an OsuT5Error line when it lies outside every allowed folder."""
        resolved = Path(path).expanduser().resolve()
        if not self.contains(resolved):
            allowed = ", ".join(str(r) for r in self.roots)
            raise OsuT5Error(f"{path}: outside the folders this server may read ({allowed})")
        return resolved

    def listing(self, path: str | Path | None, target: tuple[str, ...] | str) -> dict[str, Any]:
        """The sub-folders of `path` and the files it holds that `target` accepts (suffixes, or
        FOLDER for folders only). With no path: the allowed root, or the list of them when several."""
        if not path and len(self.roots) == 1:
            path = self.roots[0]
        if not path:
            return {"path": None, "parent": None, "entries": [_entry(r, True) for r in self.roots]}
        folder = self.check(path)
        if not folder.is_dir():
            raise OsuT5Error(f"{path}: not a folder")
        entries = []
        try:
            children = sorted(folder.iterdir(), key=lambda p: (not p.is_dir(), p.name.lower()))
        except OSError as e:
            raise OsuT5Error(f"{path}: cannot list it ({e.strerror})") from None
        for child in children:
            if child.name.startswith("."):
                continue
            if child.is_dir():
                entries.append(_entry(child, True))
            elif target != FOLDER and child.suffix.lower() in target:
                entries.append(_entry(child, False))
        parent = folder.parent if folder not in self.roots and self.contains(folder.parent) else None
        return {"path": str(folder), "parent": str(parent) if parent else None, "entries": entries}


def _entry(path: Path, is_dir: bool) -> dict[str, Any]:
    return {"name": path.name or str(path), "path": str(path), "dir": is_dir}
