"""Where each window of a song starts and which part of it the window may commit.

A window sees `window_ms` of audio. Its first `lookback` part repeats what the previous window
committed (given to the model as a prefix, not generated again); its last `lookahead` part is audio
the model hears but leaves to the next window. So each window commits the band between the two, and
consecutive bands tile the song without gaps or seams.
"""

from __future__ import annotations

from dataclasses import dataclass

from osuT5.audio import MS_PER_FRAME, TOKEN_STEP_MS

# Window starts are whole mel frames and whole time steps.
WINDOW_QUANTUM_MS = 40


@dataclass(frozen=True)
class Window:
    start_ms: int
    commit_from_ms: int  # events before this are given (the lookback), not generated
    commit_to_ms: int | None  # a time at or past this ends the window's generation; None: its end

    @property
    def start_frame(self) -> int:
        return self.start_ms // MS_PER_FRAME

    def min_time_step(self) -> int:
        return max(self.commit_from_ms - self.start_ms, 0) // TOKEN_STEP_MS

    def stop_time_step(self, window_ms: int) -> int | None:
        """Step of `commit_to_ms` inside the window, or None when it lies past the window's end."""
        if self.commit_to_ms is None or self.commit_to_ms - self.start_ms > window_ms:
            return None
        return -(-(self.commit_to_ms - self.start_ms) // TOKEN_STEP_MS)


def _floor(ms: float, quantum: int) -> int:
    return int(ms // quantum * quantum)


def plan_windows(
    window_ms: int,
    start_ms: int,
    end_ms: int,
    lookback: float = 0.2,
    lookahead: float = 0.3,
) -> list[Window]:
    """Overlapping windows whose committed bands tile [start_ms, end_ms) in order. The first window
    starts `lookback` before `start_ms` (so events already there are its prefix), or at 0."""
    if lookback < 0 or lookahead < 0 or lookback + lookahead > 0.9:
        raise ValueError("lookback and lookahead must be >= 0 and leave at least 10 % of a window")
    lookback_ms = _floor(window_ms * lookback, TOKEN_STEP_MS)
    band_end_offset = _floor(window_ms * (1 - lookahead), TOKEN_STEP_MS)
    commit_from = _floor(max(start_ms, 0), TOKEN_STEP_MS)
    windows = []
    while True:
        start = max(_floor(commit_from - lookback_ms, WINDOW_QUANTUM_MS), 0) if commit_from > 0 else 0
        band_end = start + band_end_offset
        if band_end >= end_ms or start + window_ms >= end_ms:
            windows.append(Window(start, commit_from, end_ms))
            return windows
        windows.append(Window(start, commit_from, band_end))
        commit_from = band_end


def tiled_windows(window_ms: int, end_ms: int, shift_ms: int = 0) -> list[Window]:
    """Back-to-back windows with no overlap (independent, so they decode as one batch), the first
    starting `shift_ms` before 0: super timing shifts each pass so window edges fall elsewhere."""
    shift = _floor(shift_ms, WINDOW_QUANTUM_MS)
    stride = _floor(window_ms, WINDOW_QUANTUM_MS)
    return [Window(s, max(s, 0), s + stride) for s in range(-shift, end_ms, stride)]
