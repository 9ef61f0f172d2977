"""The guided terminal flow behind `cli_inference.sh`: asks for each generation option (menus with the
arrow keys and space), checks every answer with the same validation as `inference.py`, prints the
`python inference.py ...` command, and runs it on confirmation.

    python -m osuT5.cli_prompt
"""

from __future__ import annotations

import importlib.util
import os
import shlex
import subprocess
import sys
from pathlib import Path
from typing import Any

from osuT5.errors import OsuT5Error
from osuT5.inference.option_forms import (
    build_options,
    error_option,
    option_fields,
    parse_value,
    to_overrides,
)
from osuT5.inference.options import (
    AUDIO_EXTENSIONS,
    CONTEXT_NAMES,
    InferenceOptions,
    model_descriptors,
    option_choices,
    validate,
)

REPO = Path(__file__).resolve().parents[1]
MODE_NAMES = ("osu!standard", "taiko", "catch", "mania")
# Asked one by one in the guided part; every other option is offered under "more options".
GUIDED = (
    "beatmap_path",
    "audio_path",
    "output_path",
    "gamemode",
    "difficulty",
    "year",
    "mapper_id",
    "descriptors",
    "cfg_scale",
    "negative_descriptors",
    "in_context",
    "add_to_beatmap",
    "start_time",
    "end_time",
    "seed",
    "export_osz",
)


class Terminal:
    """Coloured prompts and key-driven menus on a terminal; plain numbered menus when input is piped."""

    def __init__(self) -> None:
        # Key-driven menus need a POSIX terminal (termios); elsewhere menus take typed numbers.
        self.interactive = sys.stdin.isatty() and importlib.util.find_spec("termios") is not None
        self.colour = sys.stdout.isatty() and "NO_COLOR" not in os.environ

    def paint(self, text: str, code: str) -> str:
        return f"\033[{code}m{text}\033[0m" if self.colour else text

    def header(self, text: str) -> None:
        line = "─" * (len(text) + 2)
        print(self.paint(f"┌{line}┐\n│ {text} │\n└{line}┘", "1;35"))

    def error(self, text: str) -> None:
        print(self.paint(f"✗ {text}", "31"))

    def note(self, text: str) -> None:
        print(self.paint(text, "2"))

    def ask(self, question: str, default: str = "") -> str:
        shown = f" [{default}]" if default else ""
        answer = input(self.paint(f"? {question}{shown}: ", "32")).strip()
        return answer or default

    def confirm(self, question: str, default: bool) -> bool:
        while True:
            answer = self.ask(f"{question} ({'Y/n' if default else 'y/N'})").lower()
            if not answer:
                return default
            if answer in ("y", "yes", "n", "no"):
                return answer.startswith("y")
            self.error("answer y or n")

    # -- menus --
    def choose(
        self, question: str, names: list[str], selected: set[int], multi: bool, cursor: int = 0
    ) -> list[int]:
        """Indices picked from `names`: one (Enter) or several (space toggles, Enter confirms)."""
        if not self.interactive:
            return self._choose_typed(question, names, selected, multi)
        keys = "↑/↓ move, space toggles, Enter confirms" if multi else "↑/↓ move, Enter picks"
        print(self.paint(f"? {question}", "32") + self.paint(f"  ({keys})", "2"))
        chosen = set(selected)
        self._draw(names, chosen, cursor, multi, first=True)
        import termios
        import tty

        fd = sys.stdin.fileno()
        saved = termios.tcgetattr(fd)
        # cbreak for the whole menu: keys arrive one by one, typed-ahead keys are kept (TCSANOW, no flush).
        tty.setcbreak(fd, termios.TCSANOW)
        try:
            while True:
                key = _read_key(fd)
                if key == "up":
                    cursor = (cursor - 1) % len(names)
                elif key == "down":
                    cursor = (cursor + 1) % len(names)
                elif key == "space" and multi:
                    chosen ^= {cursor}
                elif key == "enter":
                    return sorted(chosen) if multi else [cursor]
                self._draw(names, chosen, cursor, multi, first=False)
        finally:
            termios.tcsetattr(fd, termios.TCSANOW, saved)

    def _draw(self, names: list[str], chosen: set[int], cursor: int, multi: bool, first: bool) -> None:
        if not first:
            sys.stdout.write(f"\033[{len(names)}F")  # back to the menu's first line
        for i, name in enumerate(names):
            mark = ("[x] " if i in chosen else "[ ] ") if multi else ""
            line = f"{'›' if i == cursor else ' '} {mark}{name}"
            sys.stdout.write("\033[2K" + (self.paint(line, "1;36") if i == cursor else line) + "\n")
        sys.stdout.flush()

    def _choose_typed(self, question: str, names: list[str], selected: set[int], multi: bool) -> list[int]:
        for i, name in enumerate(names, 1):
            print(f"  {i}. {name}")
        default = ",".join(str(i + 1) for i in sorted(selected))
        while True:
            answer = self.ask(f"{question} ({'numbers, comma-separated' if multi else 'number'})", default)
            try:
                picked = sorted({int(a) - 1 for a in answer.split(",") if a.strip()})
            except ValueError:
                picked = [-1]
            if all(0 <= i < len(names) for i in picked) and (multi or len(picked) == 1):
                return picked
            self.error(f"answer {'numbers' if multi else 'a number'} from 1 to {len(names)}")


_KEYS = {b"\x1b[A": "up", b"\x1b[B": "down", b" ": "space", b"\r": "enter", b"\n": "enter"}


def _read_key(fd: int) -> str:
    key = os.read(fd, 1)
    if key == b"\x1b":
        key += os.read(fd, 2)
    return _KEYS.get(key, "")


class Flow:
    """The questions, in order; answers are kept as text keyed by option name."""

    def __init__(self, term: Terminal):
        self.term = term
        self.fields = {f.name: f for f in option_fields(InferenceOptions, option_choices())}
        self.values: dict[str, Any] = {}
        self.descriptors = list(model_descriptors())

    def ask_field(self, name: str, question: str | None = None) -> None:
        """One option as text, re-asked until it reads as the option's type."""
        f = self.fields[name]
        default = self.values.get(name, f.default)
        shown = (
            ""
            if default in (None, [])
            else (",".join(map(str, default)) if isinstance(default, list) else str(default))
        )
        while True:
            answer = self.term.ask(question or f"{name} ({f.help})", shown)
            try:
                self.values[name] = parse_value(f, answer)
                self.check(name)
                return
            except OsuT5Error as e:
                self.term.error(str(e))

    def check(self, name: str) -> None:
        """Run `validate` on the answers so far; raise only an error about `name` (the others may be
        fixed by answers still to come)."""
        try:
            options = build_options(InferenceOptions, list(self.fields.values()), self.values)
            validate(options, descriptor_names=tuple(self.descriptors))
        except OsuT5Error as e:
            if error_option(e) == name:
                del self.values[name]
                raise

    def ask_path(self, name: str, question: str, required: bool, suffixes: tuple[str, ...] | None) -> None:
        while True:
            answer = self.term.ask(question, str(self.values.get(name) or ""))
            if not answer and not required:
                self.values[name] = None
                return
            path = Path(answer).expanduser()
            if suffixes is None:
                if path.exists() and not path.is_dir():
                    self.term.error(f"{answer}: not a folder")
                    continue
            elif not path.is_file():
                self.term.error(f"{answer}: no such file")
                continue
            elif path.suffix.lower() not in suffixes:
                self.term.error(f"{answer}: expected {', '.join(suffixes)}")
                continue
            self.values[name] = str(path.resolve())  # the command may run from another folder
            return

    def pick_many(self, name: str, question: str, names: list[str]) -> None:
        current = set(self.values.get(name) or [])
        chosen = self.term.choose(
            question, names, {i for i, n in enumerate(names) if n in current}, multi=True
        )
        self.values[name] = [names[i] for i in chosen]

    # -- the flow --
    def basics(self) -> None:
        self.term.header("Song")
        self.ask_path("beatmap_path", "reference beatmap .osu (Enter: none)", False, (".osu",))
        has_reference = bool(self.values.get("beatmap_path"))
        question = "audio file" + (" (Enter: the reference's song)" if has_reference else "")
        self.ask_path("audio_path", question, not has_reference, AUDIO_EXTENSIONS)
        self.ask_path("output_path", "output folder (Enter: beside the song)", False, None)
        self.term.header("Map")
        [mode] = self.term.choose(
            "game mode", list(MODE_NAMES), set(), multi=False, cursor=self.values.get("gamemode") or 0
        )
        self.values["gamemode"] = mode
        self.ask_field(
            "difficulty", "difficulty in stars, or a list such as 2,3.5,5 (Enter: the model decides)"
        )
        self.ask_field("year", "year whose style to imitate (Enter: any)")
        self.ask_field("mapper_id", "mapper's osu! user id (Enter: none)")
        self.term.header("Style")
        self.pick_many("descriptors", "descriptors", self.descriptors)
        self.ask_field("cfg_scale", "guidance scale (1: off; above 1 follows the conditions more strictly)")
        if self.values["cfg_scale"] > 1 and self.term.confirm("steer away from some descriptors?", False):
            self.pick_many(
                "negative_descriptors", "negative descriptors (one per descriptor)", self.descriptors
            )
        if has_reference:
            self.term.header("Reference")
            contexts = [c for c in CONTEXT_NAMES if c != "NONE"]
            self.pick_many("in_context", "take from the reference", contexts)
            self.values["add_to_beatmap"] = self.term.confirm("remap only a part of the reference?", False)
        if self.values.get("add_to_beatmap") or self.term.confirm("generate only part of the song?", False):
            self.ask_field("start_time", "start time in ms (Enter: the start)")
            self.ask_field("end_time", "end time in ms (Enter: the end)")
        self.term.header("Output")
        self.ask_field("seed", "random seed (Enter: random)")
        self.values["export_osz"] = self.term.confirm("also write an .osz?", False)

    def more(self) -> None:
        if not self.term.confirm("set more options (metadata, sampling, difficulty settings)?", False):
            return
        self.term.note("Enter keeps the value in brackets.")
        for name in self.fields:
            if name not in GUIDED:
                self.ask_field(name)

    def options(self) -> InferenceOptions:
        """The answers as checked options; an invalid combination re-asks the option it names."""
        while True:
            try:
                options = build_options(InferenceOptions, list(self.fields.values()), self.values)
                validate(options, descriptor_names=tuple(self.descriptors))
                return options
            except OsuT5Error as e:
                self.term.error(str(e))
                name = error_option(e) or "difficulty"
                if name in ("descriptors", "negative_descriptors"):
                    self.pick_many(name, name, self.descriptors)
                else:
                    self.ask_field(name)


def main() -> int:
    term = Terminal()
    term.header("osuT5 · generate a beatmap")
    term.note("Answers are checked as you go; Ctrl+C quits.")
    flow = Flow(term)
    try:
        flow.basics()
        flow.more()
        options = flow.options()
    except (KeyboardInterrupt, EOFError):
        print()
        term.error("cancelled")
        return 1
    script = "inference.py" if Path.cwd() == REPO else str(REPO / "inference.py")
    command = ["python", script, *to_overrides(options)]
    term.header("Command")
    print(shlex.join(command))
    try:
        run = term.confirm("run it now?", True)
    except (KeyboardInterrupt, EOFError):
        run = False
    if not run:
        term.note("Copy the command above to run it later (from the project folder).")
        return 0
    code = subprocess.call([sys.executable, *command[1:]])
    (term.note if code == 0 else term.error)(
        "done" if code == 0 else f"inference.py failed (exit code {code})"
    )
    return code


if __name__ == "__main__":
    sys.exit(main())
