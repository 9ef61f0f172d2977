"""The web UI in a real browser (Debian's chromium, driven by Playwright): generate a map from a rendered
song through the form, watch progress, preview and download it; cancel; two jobs at once; a validation
message; the MaiMod page. Screenshots of each page go to test-artifacts/webui/."""

from __future__ import annotations

import json
import os
import random
import shutil
import time
import urllib.request
from pathlib import Path

import pytest
from webui_server import running_server

from osuT5.beatmap import parse_beatmap_file, write_beatmap_file
from osuT5.errors import OsuT5Error
from osuT5.inference.options import InferenceOptions, validate

REPO = Path(__file__).resolve().parents[1]
ARTIFACTS = REPO / "test-artifacts" / "webui"
CHROMIUM_FLAGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--autoplay-policy=no-user-gesture-required",
]
JOB_TIMEOUT_MS = 120_000


def _chromium() -> str:
    for name in ("chromium", "chromium-browser"):
        if shutil.which(name):
            return shutil.which(name)
    pytest.skip("chromium not found: `apt-get install -y chromium` (.ci/run installs it)")


@pytest.fixture(scope="module")
def browser():
    executable = _chromium()
    sync_api = pytest.importorskip("playwright.sync_api", reason="playwright is in requirements.txt")
    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=executable, args=CHROMIUM_FLAGS)
        yield browser
        browser.close()


@pytest.fixture(scope="module")
def root(short_song: Path, tmp_path_factory) -> Path:
    """The one folder the server may use: the song in song/, outputs beside it."""
    root = tmp_path_factory.mktemp("webui")
    shutil.copytree(short_song.parent, root / "song")
    return root


@pytest.fixture(scope="module")
def server(root: Path):
    with running_server(root, max_running=2) as running:
        yield running


@pytest.fixture
def page(browser, server):
    # bypass_csp: the test itself evaluates scripts in the page (the CSP header is checked in test_webui_security)
    context = browser.new_context(
        viewport={"width": 1300, "height": 1100}, accept_downloads=True, bypass_csp=True
    )
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.goto(server[0] + "/")
    yield page
    context.close()
    assert errors == []  # no script error in the page


def _shot(page, name: str) -> None:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)


def _fill(page, values: dict[str, str]) -> None:
    advanced = page.locator("#more-options")
    if advanced.get_attribute("open") is None:
        page.click("#more-options > summary")
    for name, value in values.items():
        node = page.locator(f'#options-form [data-option="{name}"]')
        if node.evaluate("n => n.tagName") == "SELECT":
            node.select_option(value)
        elif node.get_attribute("type") == "checkbox":
            node.set_checked(value == "true")
        else:
            node.fill(value)


def _start(page):
    """Click Start and return the new job's card (the page also lists earlier jobs)."""
    before = page.locator(".job").count()
    page.click("#start")
    page.wait_for_function(f"document.querySelectorAll('.job').length > {before}", timeout=JOB_TIMEOUT_MS)
    return page.locator(".job").first


def _jobs(base: str) -> list[dict]:
    with urllib.request.urlopen(base + "/api/jobs") as response:
        return json.load(response)["jobs"]


def _wait_state(page, job_card, states: tuple[str, ...]) -> str:
    page.wait_for_function(
        "([node, states]) => states.includes(node.dataset.state)",
        arg=[job_card.element_handle(), list(states)],
        timeout=JOB_TIMEOUT_MS,
    )
    return job_card.get_attribute("data-state")


def test_generate_progress_preview_download_and_metacharacters_as_data(page, server, root: Path) -> None:
    _shot(page, "generate-form")
    # Pick the song with the server-side browser, inside the allowed folder.
    page.click('[data-browse="audio_path"]')
    page.click("#browser-entries >> text=song/")
    page.click("#browser-entries >> text=audio.ogg")
    assert page.input_value('[data-option="audio_path"]') == str(root / "song" / "audio.ogg")
    # A title a shell would run: the worker gets an argument list and JSON, so it stays text.
    marker = root / "pwned"
    title = f"x$(touch {marker}); `touch {marker}` | rm -rf / &"
    _fill(
        page,
        {
            "output_path": str(root / "out_generate"),
            "seed": "0",
            "gamemode": "0",
            "difficulty": "4",
            "title": title,
        },
    )
    # Record every progress text the page shows, to see progress arrive while the job runs.
    page.evaluate(
        """() => { window.progressSeen = [];
        new MutationObserver(() => document.querySelectorAll('.progress-text').forEach(n =>
          window.progressSeen.push(n.textContent))).observe(document.getElementById('jobs'),
          {subtree: true, childList: true, characterData: true}); }"""
    )
    card = _start(page)
    assert _wait_state(page, card, ("done", "failed")) == "done", card.inner_text()
    seen = page.evaluate("window.progressSeen")
    assert len(set(seen)) >= 2, seen  # several updates, not one final number
    total = seen[-1].strip().split()[-2]
    assert seen[-1].strip().startswith(f"{total} / {total}")

    [osu] = (root / "out_generate").glob("*.osu")
    beatmap = parse_beatmap_file(osu)
    assert beatmap.hit_objects
    # The preview draws the generated map: every object known, some on screen at the first one's time.
    page.wait_for_selector("#preview-panel:not([hidden])")
    canvas = page.locator("#playfield")
    assert int(canvas.get_attribute("data-objects")) == len(beatmap.hit_objects)
    first_ms = beatmap.hit_objects[0].time
    page.evaluate(f"window.osuT5.seekPreview({first_ms})")
    page.wait_for_function("document.getElementById('playfield').dataset.visible > 0")
    _shot(page, "generate-done-preview")
    # Play it against the song: start just before the first object and hit it with Z on time.
    page.evaluate(f"window.osuT5.seekPreview({max(first_ms - 400, 0)})")
    page.click("#preview-play")
    page.wait_for_function(
        f"document.getElementById('preview-audio').currentTime * 1000 >= {first_ms - 40}", polling=5
    )
    page.keyboard.press("z")
    page.click("#preview-play")  # pause
    page.wait_for_function("document.getElementById('preview-score').textContent.startsWith('hits 1 ')")

    with page.expect_download() as download:
        card.locator("a.download.osu").first.click()
    saved = root / "downloaded.osu"
    download.value.save_as(saved)
    assert parse_beatmap_file(saved) == beatmap  # the download is the map that was written
    assert beatmap.metadata["Title"] == title and not marker.exists()

    card.locator("button.open-folder").click()
    page.wait_for_function("document.querySelector('.open-status').textContent.includes('opened')")
    assert server[2] == [root / "out_generate"]


def test_cancel_kills_the_worker_and_leaves_no_file(page, server, root: Path) -> None:
    out = root / "out_cancel"
    audio = str(root / "song" / "audio.ogg")
    # Many super-timing passes: long enough to cancel mid-run.
    _fill(
        page,
        {"audio_path": audio, "output_path": str(out), "super_timing": "true", "timer_iterations": "2000"},
    )
    card = _start(page)
    page.wait_for_function(
        "node => node.querySelector('.progress-text').textContent.includes('/')",
        arg=card.element_handle(),
        timeout=JOB_TIMEOUT_MS,
    )
    [job] = [j for j in _jobs(server[0]) if j["id"] == card.get_attribute("data-job")]
    card.locator("button.cancel").click()
    assert _wait_state(page, card, ("cancelled",)) == "cancelled"
    _shot(page, "generate-cancelled")
    with pytest.raises(ProcessLookupError):  # the worker's whole process group is gone
        os.killpg(job["pid"], 0)
    leftovers = list(out.iterdir()) if out.exists() else []
    assert leftovers == []


def test_two_jobs_run_at_once(page, server, root: Path) -> None:
    audio = str(root / "song" / "audio.ogg")
    before = page.locator(".job").count()  # the page also lists earlier jobs
    for name in ("a", "b"):
        _fill(page, {"audio_path": audio, "output_path": str(root / f"out_two_{name}"), "seed": "1"})
        page.click("#start")
    cards = page.locator(".job")
    page.wait_for_function(f"document.querySelectorAll('.job').length == {before + 2}")
    both_running, deadline = False, time.time() + 60
    while time.time() < deadline and not both_running:
        states = [j["state"] for j in _jobs(server[0])[-2:]]
        both_running = states == ["running", "running"]
        if "done" in states:
            break
        time.sleep(0.05)
    assert both_running, states
    for i in range(2):
        assert _wait_state(page, cards.nth(i), ("done", "failed")) == "done"
    first, second = (next((root / f"out_two_{n}").glob("*.osu")) for n in ("a", "b"))
    assert first.read_bytes() == second.read_bytes()  # same seed, undisturbed by each other
    _shot(page, "generate-two-jobs")


def test_bad_input_shows_the_validation_message(page, server, root: Path) -> None:
    jobs_before = len(_jobs(server[0]))
    _fill(page, {"audio_path": str(root / "song" / "audio.ogg"), "start_time": "9000", "end_time": "1000"})
    page.click("#start")
    page.wait_for_selector("#form-error:not([hidden])")
    with pytest.raises(OsuT5Error) as expected:
        validate(InferenceOptions(start_time=9000, end_time=1000))
    assert page.inner_text("#form-error") == str(expected.value)
    assert page.inner_text('[data-error-for="start_time"]') == str(expected.value)
    assert len(_jobs(server[0])) == jobs_before  # refused before any job was queued
    _shot(page, "generate-validation")


def test_presets_are_saved_and_loaded_as_files(page, root: Path) -> None:
    _fill(page, {"seed": "7", "difficulty": "2, 5", "export_osz": "true"})
    page.fill("#preset-name", "spread")
    page.click("#preset-save")
    page.wait_for_selector('#preset-list option[value="spread"]', state="attached")
    saved = json.loads((root / "presets" / "spread.json").read_text())
    assert saved["values"]["seed"] == "7" and saved["values"]["export_osz"] is True
    page.reload()
    assert page.input_value('[data-option="seed"]') == ""
    page.wait_for_selector('#preset-list option[value="spread"]', state="attached")
    page.select_option("#preset-list", "spread")
    page.click("#preset-load")
    page.wait_for_function("document.querySelector('[data-option=seed]').value == '7'")
    assert page.input_value('[data-option="difficulty"]') == "2, 5"
    assert page.is_checked('[data-option="export_osz"]')


def test_maimod_lists_suggestions_for_a_faulty_map(browser, server, root: Path, short_song: Path) -> None:
    pytest.importorskip("osuT5.inference.mai_mod", reason="MaiMod is not part of this build")
    from osuT5.inference.maimod.faults import TIMING_TOLERANCE_MS, inject

    # The injected fault: a redline's offset moved 15 ms (its objects stay where they were).
    beatmap = parse_beatmap_file(short_song)
    fault = inject(beatmap, "timing_15ms", random.Random(0))
    path = write_beatmap_file(beatmap, root / "song" / "faulty.osu")
    context = browser.new_context(viewport={"width": 1300, "height": 1000}, bypass_csp=True)
    page = context.new_page()
    page.goto(server[0] + "/maimod")
    _shot(page, "maimod-form")
    page.click('[data-browse="beatmap_path"]')
    page.click("#browser-entries >> text=song/")
    page.click("#browser-entries >> text=faulty.osu")
    assert page.input_value('[data-option="beatmap_path"]') == str(path)
    card = _start(page)
    assert _wait_state(page, card, ("done", "failed")) == "done", card.inner_text()
    page.wait_for_selector(".suggestion")
    _shot(page, "maimod-suggestions")
    [job] = [j for j in _jobs(server[0]) if j["id"] == card.get_attribute("data-job")]
    groups = job["result"]["categories"]
    # The page shows every category the review returned, each suggestion with its editor time.
    tables = page.locator(".suggestion-table")
    assert [t.get_attribute("data-category") for t in tables.all()] == [g["key"] for g in groups]
    for table, group in zip(tables.all(), groups, strict=True):
        times = table.locator(".time").all_inner_texts()
        assert times == [s["time_text"] for s in group["suggestions"]]
    # ... among them the injected fault, under timing, at the moved redline.
    timing = next(g for g in groups if g["key"] == fault.category)
    found = [s for s in timing["suggestions"] if abs(s["time_ms"] - fault.time_ms) <= TIMING_TOLERANCE_MS]
    assert found, timing["suggestions"]
    row_times = page.locator(f'.suggestion-table[data-category="{fault.category}"] .time').all_inner_texts()
    assert found[0]["time_text"] in row_times
    context.close()
