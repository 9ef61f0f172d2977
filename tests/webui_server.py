"""A web UI server for tests: the real app on a free port of 127.0.0.1, in a thread."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from osuT5.webui.app import Settings, create_app, serve


@contextmanager
def running_server(root: Path, max_running: int = 1) -> Iterator[tuple[str, object, list[Path]]]:
    """(base URL, app, folders 'opened' in the file manager) for a server allowed to use `root`."""
    opened: list[Path] = []
    settings = Settings(
        allowed_folders=[root],
        presets_dir=root / "presets",
        max_running=max_running,
        open_folder=opened.append,
    )
    app = create_app(settings)
    server = serve(app, "127.0.0.1", 0)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", app, opened
    finally:
        app.extensions["osuT5_jobs"].shutdown()
        server.shutdown()
