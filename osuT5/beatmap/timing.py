"""Timing-point look-ups: the active redline, slider velocity, sample point, beat snapping."""

from __future__ import annotations

import bisect
import math
from collections.abc import Sequence

from .objects import TimingPoint

# osu! resolves an object's sample point slightly after its time, so a greenline placed a few
# milliseconds late still applies.
SAMPLE_POINT_LENIENCY_MS = 5.0
# Divisors an object may be snapped to, in the order of preference used to name the snap.
SNAP_DIVISORS = tuple(range(1, 17))
SNAP_TOLERANCE_MS = 2.0


class TimingIndex:
    """Fast queries over a beatmap's timing points (redlines before greenlines at equal times)."""

    def __init__(self, points: Sequence[TimingPoint]):
        # A greenline sharing a redline's time wins whatever the file order (as in osu!).
        self.points = sorted(points, key=lambda p: (p.time, not p.uninherited))
        self.times = [p.time for p in self.points]
        self.redlines = [p for p in self.points if p.uninherited]
        self.redline_times = [p.time for p in self.redlines]

    def __bool__(self) -> bool:
        return bool(self.redlines)

    def redline_at(self, time_ms: float) -> TimingPoint | None:
        """The uninherited point in effect (the first one for times before it)."""
        if not self.redlines:
            return None
        i = bisect.bisect_right(self.redline_times, time_ms) - 1
        return self.redlines[max(i, 0)]

    def redline_index_at(self, time_ms: float) -> int:
        return max(bisect.bisect_right(self.redline_times, time_ms) - 1, 0)

    def point_at(self, time_ms: float) -> TimingPoint | None:
        """The last timing point (any kind) at or before `time_ms`, else the first one."""
        if not self.points:
            return None
        i = bisect.bisect_right(self.times, time_ms) - 1
        return self.points[max(i, 0)]

    def sample_point_at(self, time_ms: float) -> TimingPoint | None:
        return self.point_at(time_ms + SAMPLE_POINT_LENIENCY_MS)

    def slider_velocity_at(self, time_ms: float) -> float:
        """SV multiplier in effect; an uninherited point resets it to 1."""
        point = self.point_at(time_ms)
        if point is None or time_ms < point.time:
            return 1.0
        return point.slider_velocity

    def kiai_at(self, time_ms: float) -> bool:
        point = self.point_at(time_ms)
        return bool(point and time_ms >= point.time and point.kiai)

    def slider_span_duration(self, time_ms: float, length_px: float, slider_multiplier: float) -> float:
        """Milliseconds for one slide: length / (100 px * SliderMultiplier * SV per beat)."""
        redline = self.redline_at(time_ms)
        if redline is None:
            return 0.0
        velocity_px_per_ms = (
            100.0 * slider_multiplier * self.slider_velocity_at(time_ms) / redline.ms_per_beat
        )
        return length_px / velocity_px_per_ms

    def slider_length_px(
        self, time_ms: float, span_ms: float, slider_multiplier: float, sv: float | None = None
    ) -> float:
        """The inverse of `slider_span_duration`, optionally with an explicit SV."""
        redline = self.redline_at(time_ms)
        if redline is None:
            return 0.0
        sv = self.slider_velocity_at(time_ms) if sv is None else sv
        return span_ms * 100.0 * slider_multiplier * sv / redline.ms_per_beat

    def snap_divisor(self, time_ms: float, tolerance_ms: float = SNAP_TOLERANCE_MS) -> int:
        """The smallest beat divisor d (1..16) with a tick within tolerance of `time_ms`; 0 if none."""
        redline = self.redline_at(time_ms)
        if redline is None:
            return 0
        beats = (time_ms - redline.time) / redline.ms_per_beat
        for divisor in SNAP_DIVISORS:
            if abs(beats - round(beats * divisor) / divisor) * redline.ms_per_beat < tolerance_ms:
                return divisor
        return 0

    def nearest_tick(self, time_ms: float, divisor: int) -> float:
        """The exact (unrounded) time of the tick nearest to `time_ms` whose smallest divisor is
        `divisor` (a 1/4 tick that is also a 1/2 tick counts as 1/2). Looks at the redline in effect
        and its neighbours, each within its own section (2 ms leeway)."""
        best, best_err = time_ms, float("inf")
        i = self.redline_index_at(time_ms)
        for j in range(max(i - 1, 0), min(i + 2, len(self.redlines))):
            redline = self.redlines[j]
            section_start = redline.time - SNAP_TOLERANCE_MS if j > 0 else float("-inf")
            section_end = (
                self.redlines[j + 1].time + SNAP_TOLERANCE_MS if j + 1 < len(self.redlines) else float("inf")
            )
            step = redline.ms_per_beat / divisor
            k0 = round((time_ms - redline.time) / step)
            for k in range(k0 - 2, k0 + 3):
                tick = redline.time + k * step
                if math.gcd(k, divisor) != 1 or not section_start <= tick <= section_end:
                    continue
                if abs(tick - time_ms) < best_err:
                    best, best_err = tick, abs(tick - time_ms)
        return best
