#!/usr/bin/env bash
# Guided generation in the terminal: asks for the song, mode, difficulty, style and the rest (menus with
# the arrow keys and space), prints the `python inference.py ...` command, and runs it if you say so.
# PYTHON=/path/to/python picks the interpreter (default: the project's .venv, else python3).
set -euo pipefail
REPO="$(cd "$(dirname "$0")" && pwd)"

if [[ -z "${PYTHON:-}" ]]; then
    if [[ -x "$REPO/.venv/bin/python" ]]; then PYTHON="$REPO/.venv/bin/python"; else PYTHON=python3; fi
fi
if ! command -v "$PYTHON" >/dev/null 2>&1; then
    printf '\033[31merror: %s not found; set PYTHON=/path/to/python\033[0m\n' "$PYTHON" >&2
    exit 1
fi
# Stay in the caller's folder (relative paths are theirs); import the project from its own folder.
PYTHONPATH="$REPO${PYTHONPATH:+:$PYTHONPATH}" exec "$PYTHON" -m osuT5.cli_prompt "$@"
