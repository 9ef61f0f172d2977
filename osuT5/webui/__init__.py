"""The web UI: a local Flask server with the Generate and MaiMod pages, a job queue of worker
processes, and server-side browsing inside the folders the user allows."""
