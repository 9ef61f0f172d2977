"""`cli_inference.sh` driven through its prompts in a pseudo-terminal (pexpect): arrow-key menus,
an answer re-asked after a validation error, the printed command, and the map it makes."""

from __future__ import annotations

import os
import shlex
import sys
from pathlib import Path

import pytest

from osuT5.beatmap import GameMode, parse_beatmap_file
from osuT5.inference.options import model_descriptors

pexpect = pytest.importorskip("pexpect", reason="pexpect is in requirements.txt")
REPO = Path(__file__).resolve().parents[1]
DOWN, ENTER, SPACE = "\x1b[B", "\r", " "


def _spawn(tmp_path: Path):
    env = {**os.environ, "PYTHON": sys.executable, "OMP_NUM_THREADS": "1", "TERM": "xterm"}
    child = pexpect.spawn(
        "bash", [str(REPO / "cli_inference.sh")], cwd=str(tmp_path), env=env, encoding="utf-8", timeout=60
    )
    child.setwinsize(60, 160)
    return child


def test_guided_flow_prints_the_command_and_makes_the_map(short_song: Path, tmp_path: Path) -> None:
    audio = short_song.parent / "audio.ogg"
    out = tmp_path / "out"
    child = _spawn(tmp_path)
    child.expect("reference beatmap")
    child.sendline("")
    child.expect("audio file")
    child.sendline(str(tmp_path / "missing.ogg"))
    child.expect("no such file")  # checked as you go
    child.expect("audio file")
    child.sendline(str(audio))
    child.expect("output folder")
    child.sendline(str(out))
    child.expect("game mode")
    child.send(DOWN + ENTER)  # taiko
    child.expect("difficulty")
    child.sendline("40")
    child.expect(r"star rating must be in \(0, 12\]")  # the same validation as inference.py
    child.expect("difficulty")
    child.sendline("3")
    child.expect("year")
    child.sendline("")
    child.expect("mapper")
    child.sendline("")
    child.expect("descriptors")
    child.send(DOWN + SPACE + DOWN + SPACE + ENTER)  # the second and third descriptors
    child.expect("guidance scale")
    child.sendline("")
    child.expect("only part of the song")
    child.sendline("y")
    child.expect("start time in ms")
    child.sendline("0")
    child.expect("end time in ms")
    child.sendline("15000")
    child.expect("random seed")
    child.sendline("0")
    child.expect("osz")
    child.sendline("")
    child.expect("more options")
    child.sendline("")
    child.expect(r"python \S*inference\.py.*\r\n")
    printed = shlex.split(child.after.strip())
    names = model_descriptors()
    assert printed[2:] == [
        f"audio_path={audio}",
        f"output_path={out}",
        "gamemode=1",
        "difficulty=3",
        f"descriptors=[{names[1]},{names[2]}]",
        "start_time=0",
        "end_time=15000",
        "seed=0",
    ]
    child.expect("run it now")
    child.sendline("y")
    child.expect("done", timeout=300)
    child.expect(pexpect.EOF)
    child.close()
    assert child.exitstatus == 0
    [path] = out.glob("*.osu")
    beatmap = parse_beatmap_file(path)
    assert beatmap.mode == GameMode.TAIKO
    assert all(h.time <= 15_000 for h in beatmap.hit_objects)


def test_declining_leaves_the_command_to_copy(short_song: Path, tmp_path: Path) -> None:
    child = _spawn(tmp_path)
    answers = [("reference beatmap", str(short_song)), ("audio file", ""), ("output folder", str(tmp_path))]
    for prompt, answer in answers:
        child.expect(prompt)
        child.sendline(answer)
    child.expect("game mode")
    child.send(ENTER)
    for prompt in ("difficulty", "year", "mapper"):
        child.expect(prompt)
        child.sendline("")
    child.expect("descriptors")
    child.send(ENTER)
    child.expect("guidance scale")
    child.sendline("")
    child.expect("take from the reference")
    child.send(SPACE + ENTER)  # TIMING, the first
    for prompt, answer in (("remap only a part", "n"), ("only part of the song", "n"), ("random seed", "")):
        child.expect(prompt)
        child.sendline(answer)
    for prompt in ("osz", "more options"):
        child.expect(prompt)
        child.sendline("")
    child.expect(r"python \S*inference\.py.*\r\n")
    printed = shlex.split(child.after.strip())
    assert printed[2:] == [
        f"output_path={tmp_path}",
        f"beatmap_path='{short_song}'",  # quoted for Hydra: the name has spaces
        "gamemode=0",
        "in_context=[TIMING]",
    ]
    child.expect("run it now")
    child.sendline("n")
    child.expect("Copy the command")
    child.expect(pexpect.EOF)
    assert not list(tmp_path.glob("*.osu"))
