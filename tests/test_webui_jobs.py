"""The job queue with real worker processes: with one slot a second job waits until the first ends,
cancel frees the slot, and a job the worker refuses fails with the worker's own message."""

from __future__ import annotations

import time
from pathlib import Path

from osuT5.inference.option_forms import to_json_values
from osuT5.inference.options import InferenceOptions
from osuT5.webui.jobs import JobQueue


def _wait(predicate, timeout_s: float = 120) -> None:
    deadline = time.time() + timeout_s
    while not predicate():
        assert time.time() < deadline, "timed out"
        time.sleep(0.05)


def test_a_second_job_waits_for_the_slot(short_song: Path, tmp_path: Path) -> None:
    queue = JobQueue(max_running=1)
    audio = str(short_song.parent / "audio.ogg")
    long_run = InferenceOptions(
        audio_path=audio, output_path=str(tmp_path / "a"), super_timing=True, timer_iterations=2000
    )
    first = queue.submit("generate", to_json_values(long_run), "first")
    second = queue.submit(
        "generate",
        to_json_values(InferenceOptions(audio_path=audio, output_path=str(tmp_path / "b"))),
        "second",
    )
    try:
        _wait(lambda: any(e["event"] == "progress" for e in first.events))
        assert (first.state, second.state) == ("running", "queued")
        assert second.pid is None
        queue.cancel(first.id)
        assert first.state == "cancelled"
        _wait(lambda: second.state == "running")
    finally:
        queue.shutdown()
    assert second.state == "cancelled"
    assert not (tmp_path / "a").exists() or not list((tmp_path / "a").iterdir())


def test_a_refused_job_fails_with_the_workers_message() -> None:
    queue = JobQueue(max_running=1)
    job = queue.submit("generate", {"difficulty": 40}, "bad")
    _wait(lambda: job.state in ("done", "failed"))
    assert job.state == "failed"
    assert job.error == "option difficulty=40.0: star rating must be in (0, 12]"
