"""The project's user-facing exceptions: each one renders as a single actionable line."""

from __future__ import annotations

from pathlib import Path


class OsuT5Error(Exception):
    """Base class for errors that entry points print as one line on stderr (exit code 1)."""


class BeatmapError(OsuT5Error):
    """A .osu/.osz file that cannot be read or written; names the file, the line and the reason."""

    def __init__(self, reason: str, path: str | Path | None = None, line: int | None = None):
        self.reason = reason
        self.path = str(path) if path is not None else None
        self.line = line
        where = self.path or "<beatmap>"
        if line is not None:
            where += f", line {line}"
        super().__init__(f"{where}: {reason}")


class AudioError(OsuT5Error):
    """An audio file that is missing, empty, corrupt or not audio at all."""

    def __init__(self, reason: str, path: str | Path | None = None):
        self.reason = reason
        self.path = str(path) if path is not None else None
        super().__init__(f"{self.path or '<audio>'}: {reason}")
