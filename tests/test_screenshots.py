"""`scripts/screenshots` (what `make screenshots` runs): it starts the demo on its own ports,
makes an invoice run and a payment in Chromium, and writes the README's nine PNGs."""

from __future__ import annotations

import struct
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import ROOT

pytestmark = [pytest.mark.browser, pytest.mark.e2e]

WIDTHS = {
    "dashboard.png": 1280,
    "timesheet.png": 1280,
    "approvals.png": 1280,
    "invoices.png": 1280,
    "invoice.png": 1280,
    "invoice-run.png": 1280,
    "integrations.png": 1280,
    "agreement.png": 1280,
    "dashboard-phone.png": 390,
}
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def png_size(path: Path) -> tuple[int, int]:
    """(width, height) from the PNG's IHDR chunk, which follows the signature."""
    head = path.read_bytes()[:24]
    assert head[:8] == PNG_SIGNATURE and head[12:16] == b"IHDR", (path, head)
    width, height = struct.unpack(">II", head[16:24])
    return width, height


def test_the_script_writes_the_nine_screenshots(tmp_path: Path) -> None:
    out = tmp_path / "shots"
    done = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "screenshots"), "--out", str(out)],
        cwd=tmp_path,  # nothing depends on the working directory
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert sorted(p.name for p in out.iterdir()) == sorted(WIDTHS)
    for name, width in WIDTHS.items():
        w, h = png_size(out / name)
        assert w == width, (name, w)
        assert h >= 600, (name, h)  # a page, not an empty strip
        assert (out / name).stat().st_size < 600_000, name
