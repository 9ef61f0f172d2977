"""The osuT5 web UI: a local server with the Generate and MaiMod pages; opens your browser.

python web-ui.py [--port 5000] [--allow ~/Music --allow ~/osu/Songs] [--max-jobs 1] [--no-browser]
"""

from __future__ import annotations

import argparse
import ipaddress
import sys
import threading
import webbrowser
from pathlib import Path

from osuT5.errors import OsuT5Error
from osuT5.webui.app import Settings, create_app, serve

DEFAULT_PRESETS = Path.home() / ".config" / "osuT5" / "presets"
PORT_TRIES = 100  # the asked port is taken: try the next ones


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.strip().splitlines()[0])
    parser.add_argument(
        "--host", default="127.0.0.1", help="address to listen on (default: this machine only)"
    )
    parser.add_argument(
        "--port", type=int, default=5000, help="port, or the next free one (0: any free port; default 5000)"
    )
    parser.add_argument(
        "--allow",
        action="append",
        metavar="FOLDER",
        help="a folder the pages may browse, read and write (repeatable; default: your home folder)",
    )
    parser.add_argument("--presets", type=Path, default=DEFAULT_PRESETS, help="folder for saved presets")
    parser.add_argument("--max-jobs", type=int, default=1, help="jobs that run at once (the rest wait)")
    parser.add_argument("--no-browser", action="store_true", help="do not open a browser window")
    args = parser.parse_args(argv)

    if not _is_loopback(args.host):
        print(
            f"warning: listening on {args.host}: anyone who can reach this machine can use the UI and "
            "read the allowed folders",
            file=sys.stderr,
        )
    allowed = [Path(p).expanduser() for p in (args.allow or [Path.home()])]
    for folder in allowed:
        if not folder.is_dir():
            print(f"error: {folder}: --allow needs an existing folder", file=sys.stderr)
            return 1
    settings = Settings(allowed_folders=allowed, presets_dir=args.presets, max_running=max(1, args.max_jobs))
    app = create_app(settings)
    try:
        server = serve(app, args.host, args.port, tries=PORT_TRIES)
    except OsuT5Error as e:
        print(f"error: {e}; try --port 0", file=sys.stderr)
        return 1
    url = f"http://{'127.0.0.1' if args.host in ('0.0.0.0', '::') else args.host}:{server.server_address[1]}/"
    print(f"osuT5 web UI at {url} (Ctrl+C stops it)", flush=True)
    if not args.no_browser:
        threading.Timer(0.5, webbrowser.open, args=(url,)).start()
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        app.extensions["osuT5_jobs"].shutdown()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
