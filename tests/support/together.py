"""Start processes that must begin work at the same moment: each prints `ready` once it has
imported what it needs, then waits for `go` on stdin. The test releases them all when every
one is ready (the event), instead of guessing a start time on the clock."""

from __future__ import annotations

import subprocess
from collections.abc import Sequence
from pathlib import Path

# Paste into a `python -c` script at the point where work should start.
WAIT_FOR_GO = 'print("ready", flush=True); sys.stdin.readline()'


def run_together(
    commands: Sequence[Sequence[str]], *, cwd: Path, env: dict[str, str], timeout: float = 120
) -> list[str]:
    """Run `commands` (scripts that use `WAIT_FOR_GO`), release them at once, and return each
    one's stdout after `ready`. A process that fails is reported with its stderr."""
    procs = [
        subprocess.Popen(
            list(cmd),
            cwd=cwd,
            env=env,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for cmd in commands
    ]
    try:
        for proc in procs:
            assert proc.stdout is not None
            line = proc.stdout.readline()
            if line.strip() != "ready":
                _, errors = proc.communicate(timeout=timeout)
                raise AssertionError(f"process did not get ready: {line!r}\n{errors}")
        for proc in procs:
            assert proc.stdin is not None
            proc.stdin.write("go\n")
            proc.stdin.flush()
        outputs = []
        for proc in procs:
            out, errors = proc.communicate(timeout=timeout)
            assert proc.returncode == 0, errors
            outputs.append(out)
        return outputs
    finally:
        for proc in procs:
            if proc.poll() is None:
                proc.kill()
