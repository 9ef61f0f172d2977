"""The job queue: each job is a worker process (`python -m osuT5.webui.worker`, an argument list, never
a shell) whose JSON-lines events are kept for the page; at most `max_running` run at once, the rest wait.
Cancel kills the worker's whole process group."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

WORKER = [sys.executable, "-m", "osuT5.webui.worker"]
FINAL_STATES = ("done", "failed", "cancelled")
# The package root, so the worker imports this checkout even when it is not installed.
PACKAGE_ROOT = str(Path(__file__).resolve().parents[2])


@dataclass
class Job:
    id: str
    mode: str
    options: dict[str, Any]
    title: str
    state: str = "queued"  # queued, running, done, failed, cancelled
    events: list[dict[str, Any]] = field(default_factory=list)
    files: list[dict[str, Any]] = field(default_factory=list)
    result: dict[str, Any] = field(default_factory=dict)
    error: str | None = None
    pid: int | None = None
    created: float = field(default_factory=time.time)
    process: subprocess.Popen | None = field(default=None, repr=False)

    def info(self) -> dict[str, Any]:
        progress = next((e for e in reversed(self.events) if e["event"] == "progress"), None)
        return {
            "id": self.id,
            "mode": self.mode,
            "title": self.title,
            "state": self.state,
            "pid": self.pid,
            "error": self.error,
            "progress": progress,
            "files": [{**f, "index": i, "name": Path(f["path"]).name} for i, f in enumerate(self.files)],
            "result": {k: v for k, v in self.result.items() if k != "files"},
        }


class JobQueue:
    def __init__(self, max_running: int = 1, env: dict[str, str] | None = None):
        self.max_running = max_running
        self.jobs: dict[str, Job] = {}
        self.changed = threading.Condition()
        self.env = env

    # -- public --
    def submit(self, mode: str, options: dict[str, Any], title: str) -> Job:
        job = Job(uuid.uuid4().hex[:12], mode, options, title)
        with self.changed:
            self.jobs[job.id] = job
            self._add_event(job, {"event": "state", "state": "queued"})
            self._start_waiting()
        return job

    def cancel(self, job_id: str) -> Job:
        with self.changed:
            job = self.jobs[job_id]
            if job.state in FINAL_STATES:
                return job
            process, job.state = job.process, "cancelled"
            self._add_event(job, {"event": "state", "state": "cancelled"})
        if process is not None:
            _kill_group(process)
            process.wait()
            self._remove_partial_files(job)
        with self.changed:
            self._start_waiting()
        return job

    def wait_events(self, job_id: str, start: int, timeout_s: float) -> tuple[list[dict[str, Any]], bool]:
        """Events from index `start` on (waiting up to `timeout_s` for one), and whether the job is over."""
        with self.changed:
            job = self.jobs[job_id]
            if len(job.events) <= start and job.state not in FINAL_STATES:
                self.changed.wait(timeout_s)
            return job.events[start:], job.state in FINAL_STATES

    def shutdown(self) -> None:
        for job in list(self.jobs.values()):
            if job.state in ("queued", "running"):
                self.cancel(job.id)

    # -- inside the lock --
    def _add_event(self, job: Job, event: dict[str, Any]) -> None:
        job.events.append({"seq": len(job.events), "time": time.time(), **event})
        self.changed.notify_all()

    def _start_waiting(self) -> None:
        running = sum(j.state == "running" for j in self.jobs.values())
        for job in sorted(self.jobs.values(), key=lambda j: j.created):
            if running >= self.max_running:
                break
            if job.state == "queued":
                self._launch(job)
                running += 1

    def _launch(self, job: Job) -> None:
        env = dict(self.env if self.env is not None else os.environ)
        env["PYTHONPATH"] = os.pathsep.join(p for p in (PACKAGE_ROOT, env.get("PYTHONPATH")) if p)
        env["PYTHONUNBUFFERED"] = "1"
        process = subprocess.Popen(
            WORKER,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=env,
            start_new_session=True,  # its own process group, so cancel reaches every child it starts
        )
        job.process, job.pid, job.state = process, process.pid, "running"
        self._add_event(job, {"event": "state", "state": "running", "pid": process.pid})
        threading.Thread(target=self._read_stderr, args=(job, process), daemon=True).start()
        threading.Thread(target=self._read_events, args=(job, process), daemon=True).start()

    # -- reader threads --
    def _read_events(self, job: Job, process: subprocess.Popen) -> None:
        assert process.stdin is not None and process.stdout is not None
        try:
            process.stdin.write(json.dumps({"mode": job.mode, "options": job.options}))
            process.stdin.close()
        except OSError:
            pass  # killed before it read its job; the exit code tells the rest
        for line in process.stdout:
            try:
                event = json.loads(line)
            except ValueError:
                event = {"event": "log", "text": line.rstrip()}
            with self.changed:
                if event.get("event") == "result":
                    job.files = event.pop("files", [])
                    job.result = {k: v for k, v in event.items() if k != "event"}
                    event = {"event": "result", **job.result, "files": job.info()["files"]}
                elif event.get("event") == "error":
                    job.error = event.get("message")
                self._add_event(job, event)
        code = process.wait()
        with self.changed:
            if job.state == "running":
                job.state = "done" if code == 0 else "failed"
                if job.state == "failed" and job.error is None:  # a crash: its last stderr line says why
                    logs = [e["text"] for e in job.events if e["event"] == "log"]
                    job.error = logs[-1] if logs else f"the worker stopped with exit code {code}"
                self._add_event(job, {"event": "state", "state": job.state, "error": job.error})
            job.process = None
            self._start_waiting()

    def _read_stderr(self, job: Job, process: subprocess.Popen) -> None:
        assert process.stderr is not None
        for line in process.stderr:
            # tqdm redraws with carriage returns: keep the newest state of each line.
            text = line.rstrip("\n").split("\r")[-1].rstrip()
            if text:
                with self.changed:
                    self._add_event(job, {"event": "log", "text": text})

    def _remove_partial_files(self, job: Job) -> None:
        """A killed worker may die inside an atomic write: drop its temporary files (never a finished one)."""
        source = job.options.get("audio_path") or job.options.get("beatmap_path")
        folder = job.options.get("output_path") or (Path(source).parent if source else None)
        if not folder or not Path(folder).is_dir():
            return
        for path in Path(folder).glob(".*.tmp"):
            if path.stat().st_mtime >= job.created:
                path.unlink(missing_ok=True)


def _kill_group(process: subprocess.Popen) -> None:
    try:
        if hasattr(os, "killpg"):
            os.killpg(process.pid, signal.SIGKILL)
        else:  # Windows: no process groups; the worker starts no children of its own
            process.kill()
    except ProcessLookupError:
        pass
