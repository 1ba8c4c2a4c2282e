"""The CI run a report was made in, read once from the environment (GitHub Actions' variables)."""

from __future__ import annotations

import os


def github_run() -> tuple[str, str] | None:
    """(the run's URL, its id) when running in GitHub Actions, else None."""
    server, repo, run_id = (os.environ.get(k) for k in ("GITHUB_SERVER_URL", "GITHUB_REPOSITORY", "GITHUB_RUN_ID"))
    if server and repo and run_id:
        return f"{server}/{repo}/actions/runs/{run_id}", run_id
    return None
