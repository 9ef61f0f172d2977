"""One web UI job in its own process: reads `{"mode": ..., "options": {...}}` as JSON on stdin, runs
it in-process, and writes JSON-lines events on stdout (log, progress, result, error). The job queue
cancels a job by killing this process's group; outputs are written atomically, so nothing partial is left.

    python -m osuT5.webui.worker < job.json
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Callable
from typing import Any, TextIO

from osuT5.errors import OsuT5Error
from osuT5.webui.form import FORMS


class EventWriter:
    """JSON lines on a private copy of stdout; everything else the job prints goes to stderr."""

    def __init__(self, stream: TextIO):
        self.stream = stream

    def send(self, event: str, **data: Any) -> None:
        self.stream.write(json.dumps({"event": event, **data}) + "\n")
        self.stream.flush()

    def progress_factory(self, total: int, unit: str) -> Callable[[int], None]:
        done = 0
        self.send("progress", done=0, total=total, unit=unit)

        def update(n: int) -> None:
            nonlocal done
            done += n
            self.send("progress", done=done, total=total, unit=unit)

        return update


def _generate(options: Any, events: EventWriter) -> dict[str, Any]:
    from osuT5.inference.pipeline import generate

    result = generate(options, progress_factory=events.progress_factory)
    for line in result.warnings:
        events.send("log", text=f"warning: {line}")
    files = [
        {"path": str(m.path), "kind": "osu", "stars": round(m.stars, 2), "objects": m.objects}
        for m in result.maps
    ]
    if result.osz_path is not None:
        files.append({"path": str(result.osz_path), "kind": "osz"})
    if result.maps:
        song = result.maps[0].path.parent / result.maps[0].beatmap.audio_filename
        if song.is_file():
            files.append({"path": str(song), "kind": "audio"})
    return {"files": files, "summary": result.summary()}


def _maimod(options: Any, events: EventWriter) -> dict[str, Any]:
    from osuT5.inference.mai_mod import CATEGORIES, review

    report = review(options, progress_factory=events.progress_factory)
    categories = [
        {"key": key, "label": CATEGORIES[key], "suggestions": [s.to_dict() for s in items]}
        for key, items in report.by_category().items()
    ]
    return {
        "suggestions": [s.to_dict() for s in report.suggestions],
        "categories": categories,
        "candidates": report.candidates,
        "summary": f"{len(report.suggestions)} suggestions shown ({report.candidates} over the threshold)",
    }


RUNNERS = {"generate": _generate, "maimod": _maimod}


def run(job: dict[str, Any], events: EventWriter) -> int:
    try:
        form = FORMS[job["mode"]]()
        options = form.options(job["options"])
        events.send("log", text=f"started {job['mode']}")
        result = RUNNERS[job["mode"]](options, events)
    except OsuT5Error as e:
        events.send("error", message=str(e))
        return 1
    events.send("result", **result)
    events.send("log", text=result["summary"])
    return 0


def main() -> int:
    # Keep a private channel for events, then point fd 1 at stderr so library prints cannot corrupt it.
    events = EventWriter(os.fdopen(os.dup(sys.stdout.fileno()), "w", buffering=1))
    os.dup2(sys.stderr.fileno(), sys.stdout.fileno())
    try:
        job = json.loads(sys.stdin.read())
    except ValueError as e:
        events.send("error", message=f"job: not JSON ({e})")
        return 1
    return run(job, events)


if __name__ == "__main__":
    sys.exit(main())
