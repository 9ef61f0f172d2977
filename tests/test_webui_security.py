"""The web UI's defences, through Flask's test client and one real job: CSRF on every state-changing
request, browsing and paths confined to the allowed folders, nothing served outside static files and job
outputs."""

from __future__ import annotations

import json
import subprocess
import sys
import urllib.request
from pathlib import Path

import pytest

from osuT5.webui.app import CSRF_HEADER, Settings, create_app


@pytest.fixture
def allowed(tmp_path: Path) -> Path:
    folder = tmp_path / "allowed"
    (folder / "songs").mkdir(parents=True)
    (folder / "songs" / "a.ogg").write_bytes(b"")
    (folder / "songs" / "notes.txt").write_text("")
    (tmp_path / "secret").mkdir()
    (tmp_path / "secret" / "key.osu").write_text("osu file format v14\n")
    (folder / "escape").symlink_to(tmp_path / "secret")
    return folder


@pytest.fixture
def client(allowed: Path):
    settings = Settings(
        allowed_folders=[allowed], presets_dir=allowed / "presets", open_folder=lambda p: None
    )
    app = create_app(settings)
    app.testing = True
    with app.test_client() as client:
        client.token = settings.csrf_token
        yield client
    app.extensions["osuT5_jobs"].shutdown()


def _post(client, url: str, body: dict | None = None, token: str | None = "valid"):
    headers = {} if token is None else {CSRF_HEADER: client.token if token == "valid" else token}
    return client.post(url, json=body or {}, headers=headers)


STATE_CHANGING = [
    "/api/jobs",
    "/api/validate",
    "/api/presets",
    "/api/jobs/x/cancel",
    "/api/jobs/x/open-folder",
]


@pytest.mark.parametrize("url", STATE_CHANGING)
def test_requests_without_the_csrf_token_are_refused(client, url: str) -> None:
    for token in (None, "wrong", ""):
        response = _post(client, url, {"name": "p", "values": {}}, token=token)
        assert response.status_code == 403, (url, token)
        assert "CSRF" in response.get_json()["message"]


def test_the_token_is_in_the_page_and_accepted(client) -> None:
    page = client.get("/").get_data(as_text=True)
    assert f'content="{client.token}"' in page
    assert _post(client, "/api/presets", {"name": "mine", "values": {"seed": "3"}}).status_code == 200
    assert client.get("/api/presets/mine").get_json()["values"] == {"seed": "3"}


def test_a_request_from_another_site_is_refused(client) -> None:
    response = client.post(
        "/api/validate", json={}, headers={CSRF_HEADER: client.token, "Origin": "http://evil.example"}
    )
    assert response.status_code == 403


def test_browsing_stays_inside_the_allowed_folders(client, allowed: Path, tmp_path: Path) -> None:
    inside = client.get("/api/browse", query_string={"option": "audio_path", "path": str(allowed / "songs")})
    assert inside.status_code == 200
    assert [e["name"] for e in inside.get_json()["entries"]] == ["a.ogg"]  # only files the option takes
    for outside in (
        "/etc",
        str(tmp_path / "secret"),
        str(allowed / ".." / "secret"),
        str(allowed / "escape"),
    ):
        response = client.get("/api/browse", query_string={"option": "audio_path", "path": outside})
        assert response.status_code == 403, outside
        assert "outside the folders" in response.get_json()["message"]


def test_option_paths_outside_the_allowed_folders_are_refused(client, allowed: Path) -> None:
    for name, path in (("beatmap_path", allowed / "escape" / "key.osu"), ("output_path", "/tmp")):
        response = _post(client, "/api/jobs", {"mode": "generate", "values": {name: str(path)}})
        assert response.status_code == 400
        assert response.get_json()["field"] == name
        assert "outside the folders" in response.get_json()["message"]
    assert client.get("/api/jobs").get_json()["jobs"] == []


def test_nothing_is_served_outside_static_files_and_job_outputs(client) -> None:
    assert client.get("/static/form.js").status_code == 200
    for url in (
        "/static/../app.py",
        "/static/%2e%2e/app.py",
        "/api/jobs/nope/files/0",
        "/api/presets/..%2f..%2fx",
    ):
        assert client.get(url).status_code in (400, 404), url
    response = client.get("/")
    assert "default-src 'self'" in response.headers["Content-Security-Policy"]
    assert response.headers["X-Content-Type-Options"] == "nosniff"


def test_preset_names_cannot_name_other_files(client, allowed: Path) -> None:
    response = _post(client, "/api/presets", {"name": "../../escape", "values": {}})
    assert response.status_code == 400
    assert not (allowed.parent / "escape.json").exists()


# A form value with shell metacharacters passed as data: test_webui_browser.py types one into the title.


def _start_web_ui(*args: str):
    repo = Path(__file__).resolve().parents[1]
    return subprocess.Popen(
        [sys.executable, "web-ui.py", "--port", "0", "--no-browser", *args],
        cwd=repo,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def test_web_ui_listens_on_this_machine_and_warns_beyond_it(tmp_path: Path) -> None:
    local = _start_web_ui("--allow", str(tmp_path))
    wide = _start_web_ui("--allow", str(tmp_path), "--host", "0.0.0.0")
    try:
        url = local.stdout.readline().split(" at ")[1].split()[0]
        assert url.startswith("http://127.0.0.1:")
        with urllib.request.urlopen(url + "api/jobs") as response:
            assert json.load(response) == {"jobs": []}
        assert "warning: listening on 0.0.0.0" in wide.stderr.readline()
    finally:
        for process in (local, wide):
            process.terminate()
            process.wait(timeout=30)
    assert "warning" not in local.stderr.read()
