"""The Flask app: the Generate and MaiMod pages and their JSON API. Every state-changing request needs the
page's CSRF token; paths are checked against the allowed folders; files are served only from the
package's static folder and from the outputs a job reported."""

from __future__ import annotations

import hmac
import json
import re
import secrets
import shutil
import socket
import subprocess
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from flask import Flask, Response, abort, jsonify, render_template, request, send_file
from werkzeug.serving import BaseWSGIServer, make_server

from osuT5.errors import OsuT5Error
from osuT5.files import atomic_write_text
from osuT5.inference.option_forms import error_option, to_json_values
from osuT5.webui.browse import AllowedFolders
from osuT5.webui.form import FORMS, PATH_TARGETS, Form
from osuT5.webui.jobs import JobQueue
from osuT5.webui.preview import preview_data

CSRF_HEADER = "X-CSRF-Token"
PRESET_NAME = re.compile(r"[\w\- ]{1,64}")
SSE_KEEPALIVE_S = 15.0


def open_in_file_manager(folder: Path) -> None:
    """Show `folder` in the system's file manager (an argument list, never a shell)."""
    if sys.platform == "win32":
        command = ["explorer", str(folder)]
    elif sys.platform == "darwin":
        command = ["open", str(folder)]
    else:
        command = ["xdg-open", str(folder)]
    if shutil.which(command[0]) is None:
        raise OsuT5Error(f"{folder}: no file manager found ({command[0]} is missing); open it by hand")
    subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


@dataclass
class Settings:
    allowed_folders: list[str | Path]
    presets_dir: Path
    max_running: int = 1
    open_folder: Callable[[Path], None] = open_in_file_manager
    worker_env: dict[str, str] | None = None
    csrf_token: str = field(default_factory=lambda: secrets.token_urlsafe(32))


def _error(message: str, status: int = 400, **extra: Any) -> tuple[Response, int]:
    return jsonify({"ok": False, "message": message, **extra}), status


def create_app(settings: Settings) -> Flask:
    app = Flask(__name__)
    allowed = AllowedFolders(settings.allowed_folders)
    queue = JobQueue(settings.max_running, env=settings.worker_env)
    app.extensions["osuT5_jobs"] = queue
    forms: dict[str, Form | OsuT5Error] = {}

    def form(mode: str) -> Form:
        if mode not in FORMS:
            abort(404)
        if mode not in forms:
            try:
                forms[mode] = FORMS[mode]()
            except OsuT5Error as e:  # e.g. MaiMod not part of this build: the page says so
                forms[mode] = e
        found = forms[mode]
        if isinstance(found, OsuT5Error):
            raise found
        return found

    @app.before_request
    def require_csrf() -> Any:
        if request.method in ("GET", "HEAD", "OPTIONS"):
            return None
        sent = request.headers.get(CSRF_HEADER, "")
        if not hmac.compare_digest(sent.encode(), settings.csrf_token.encode()):
            return _error("missing or wrong CSRF token; reload the page", 403)
        origin = request.headers.get("Origin")
        if origin and origin.split("://", 1)[-1] != request.host:
            return _error("request from another site refused", 403)
        return None

    @app.after_request
    def harden(response: Response) -> Response:
        response.headers["X-Content-Type-Options"] = "nosniff"
        response.headers["X-Frame-Options"] = "DENY"
        response.headers["Content-Security-Policy"] = (
            "default-src 'self'; img-src 'self' data:; style-src 'self'; frame-ancestors 'none'"
        )
        response.headers["Referrer-Policy"] = "no-referrer"
        return response

    # -- pages --
    def page(mode: str) -> str:
        try:
            data, unavailable = form(mode).page(), None
        except OsuT5Error as e:
            data, unavailable = {"mode": mode, "fields": []}, str(e)
        return render_template(
            "page.html",
            mode=mode,
            csrf_token=settings.csrf_token,
            form_data=data,
            unavailable=unavailable,
        )

    @app.get("/")
    def generate_page() -> str:
        return page("generate")

    @app.get("/maimod")
    def maimod_page() -> str:
        return page("maimod")

    # -- options --
    def checked_options(body: dict[str, Any]) -> tuple[Form, Any]:
        the_form = form(str(body.get("mode", "")))
        values = body.get("values")
        if not isinstance(values, dict):
            raise OsuT5Error("values: expected an object of option values")
        options = the_form.options(values)
        the_form.check_paths(options, allowed)
        return the_form, options

    def invalid(e: OsuT5Error) -> tuple[Response, int]:
        return _error(str(e), 400, field=error_option(e))

    @app.post("/api/validate")
    def validate_options() -> Any:
        try:
            checked_options(request.get_json(force=True, silent=True) or {})
        except OsuT5Error as e:
            return invalid(e)
        return jsonify({"ok": True})

    # -- jobs --
    @app.post("/api/jobs")
    def start_job() -> Any:
        try:
            the_form, options = checked_options(request.get_json(force=True, silent=True) or {})
        except OsuT5Error as e:
            return invalid(e)
        values = to_json_values(options)
        source = values.get("audio_path") or values.get("beatmap_path") or the_form.mode
        job = queue.submit(the_form.mode, values, Path(str(source)).name)
        return jsonify({"ok": True, "job": job.info()}), 202

    @app.get("/api/jobs")
    def list_jobs() -> Any:
        return jsonify({"jobs": [j.info() for j in queue.jobs.values()]})

    def job_or_404(job_id: str) -> Any:
        if job_id not in queue.jobs:
            abort(404)
        return queue.jobs[job_id]

    @app.get("/api/jobs/<job_id>")
    def job_info(job_id: str) -> Any:
        return jsonify(job_or_404(job_id).info())

    @app.post("/api/jobs/<job_id>/cancel")
    def cancel_job(job_id: str) -> Any:
        job_or_404(job_id)
        return jsonify({"ok": True, "job": queue.cancel(job_id).info()})

    @app.get("/api/jobs/<job_id>/events")
    def job_events(job_id: str) -> Response:
        job_or_404(job_id)
        start = int(request.headers.get("Last-Event-ID", -1)) + 1

        def stream() -> Iterator[str]:
            seq = start
            while True:
                events, over = queue.wait_events(job_id, seq, SSE_KEEPALIVE_S)
                for event in events:
                    yield f"id: {event['seq']}\nevent: {event['event']}\ndata: {json.dumps(event)}\n\n"
                    seq = event["seq"] + 1
                if over and not events:
                    yield "event: end\ndata: {}\n\n"
                    return
                if not events:
                    yield ": keep-alive\n\n"

        return Response(stream(), mimetype="text/event-stream", headers={"Cache-Control": "no-cache"})

    def job_file(job_id: str, index: int) -> dict[str, Any]:
        files = job_or_404(job_id).files
        if not 0 <= index < len(files):
            abort(404)
        return files[index]

    @app.get("/api/jobs/<job_id>/files/<int:index>")
    def download(job_id: str, index: int) -> Response:
        entry = job_file(job_id, index)
        inline = entry["kind"] == "audio" and request.args.get("inline") == "1"
        return send_file(entry["path"], as_attachment=not inline, download_name=Path(entry["path"]).name)

    @app.get("/api/jobs/<job_id>/preview/<int:index>")
    def preview(job_id: str, index: int) -> Any:
        entry = job_file(job_id, index)
        if entry["kind"] != "osu":
            abort(404)
        return jsonify(preview_data(Path(entry["path"])))

    @app.post("/api/jobs/<job_id>/open-folder")
    def open_folder(job_id: str) -> Any:
        files = job_or_404(job_id).files
        if not files:
            return _error("this job wrote no files yet", 409)
        folder = Path(files[0]["path"]).parent
        try:
            settings.open_folder(folder)
        except OsuT5Error as e:
            return _error(str(e), 500, folder=str(folder))
        return jsonify({"ok": True, "folder": str(folder)})

    # -- browsing --
    @app.get("/api/browse")
    def browse() -> Any:
        target = PATH_TARGETS.get(request.args.get("option", ""), ())
        try:
            return jsonify(allowed.listing(request.args.get("path"), target))
        except OsuT5Error as e:
            return _error(str(e), 403)

    # -- presets: JSON files in the presets folder --
    def preset_path(name: str) -> Path:
        if not PRESET_NAME.fullmatch(name):
            raise OsuT5Error(f"preset {name!r}: use letters, digits, spaces, - and _ (at most 64)")
        return settings.presets_dir / f"{name}.json"

    @app.get("/api/presets")
    def list_presets() -> Any:
        names = (
            sorted(p.stem for p in settings.presets_dir.glob("*.json"))
            if settings.presets_dir.is_dir()
            else []
        )
        return jsonify({"presets": names})

    @app.get("/api/presets/<name>")
    def load_preset(name: str) -> Any:
        try:
            path = preset_path(name)
        except OsuT5Error as e:
            return _error(str(e))
        if not path.is_file():
            abort(404)
        return jsonify(json.loads(path.read_text()))

    @app.post("/api/presets")
    def save_preset() -> Any:
        body = request.get_json(force=True, silent=True) or {}
        try:
            path = preset_path(str(body.get("name", "")))
            if not isinstance(body.get("values"), dict):
                raise OsuT5Error("preset: values must be an object")
            preset = {"version": 1, "mode": str(body.get("mode", "generate")), "values": body["values"]}
            atomic_write_text(path, json.dumps(preset, indent=2), overwrite=True)
        except OsuT5Error as e:
            return _error(str(e))
        return jsonify({"ok": True, "name": path.stem})

    return app


def serve(app: Flask, host: str, port: int, tries: int = 1) -> BaseWSGIServer:
    """A threaded server (each Server-Sent Events stream holds a thread) on `port` or the next free one of
    `tries` ports (0: any free port); call `serve_forever()`. Bound here because werkzeug exits the
    process when a port is taken."""
    error: OSError | None = None
    for candidate in [port] if port == 0 else range(port, port + tries):
        sock = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET, socket.SOCK_STREAM)
        try:
            sock.bind((host, candidate))
            sock.listen(128)
        except OSError as e:
            sock.close()
            error = e
            continue
        try:
            return make_server(host, sock.getsockname()[1], app, threaded=True, fd=sock.fileno())
        finally:
            sock.close()  # werkzeug holds its own duplicate of the socket
    raise OsuT5Error(f"{host}:{port}: cannot listen there ({error.strerror if error else 'no port'})")
