"""The bundled cost table is what ``scripts/calibrate_costs.py`` computes from the bundled bars: no number in
it was typed by hand, and its method is the one its provenance describes."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from bot.cost_table import COSTS_FILE

ROOT = Path(__file__).resolve().parents[2]


def test_the_bundled_table_is_the_scripts_output(tmp_path: Path) -> None:
    out = tmp_path / "costs.json"
    done = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "calibrate_costs.py"), "--out", str(out)],
        capture_output=True,
        text=True,
        check=False,
        cwd=ROOT,
    )
    assert done.returncode == 0, done.stderr
    assert json.loads(out.read_text()) == json.loads(COSTS_FILE.read_text())
    rows = json.loads(out.read_text())["symbols"]
    # one cent at the calibration window's prices, as SPY's published quoted spreads are
    assert 0.2 < rows["SPY"]["spread_bps"] < 0.6 and rows["SPY"]["source"] == "minute"
    assert {s for s, r in rows.items() if r["source"] == "daily"} == {"BIL", "IVV", "IYR"}
