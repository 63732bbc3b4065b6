"""``rebalance-bot tune``: a real run on the bundled history (a short window, few risk aversions), its
files, its recommendation, ``--write`` on a commented config, and bad input."""

from __future__ import annotations

import html
import re
from pathlib import Path

import pytest
from typer.testing import CliRunner

from bot.backtest.frontier import BASELINES, Cell, nearest_preset, recommend
from bot.cli import app
from bot.config import load_config
from bot.config_edit import edited_text
from strategies.simulation.path import Outcome

runner = CliRunner()

CONFIG = """\
# My 60/40, kept by the bot.
accounts:
  - name: demo
    broker: embedded      # offline paper broker

targets:
  SPY: 0.60   # stocks
  AGG: 0.40   # bonds

# --- how to rebalance ---
policy:
  kind: dynamic            # what I used before
  gamma: 3                 # dynamic's own knob
  cooldown_days: 5

# --- files ---
state_dir: {state}         # where the bot keeps its state
"""
WINDOW = ["--start", "2021-07-01", "--end", "2022-12-30", "--points", "4"]


@pytest.fixture(scope="module")
def tuned(tmp_path_factory: pytest.TempPathFactory) -> dict:
    """One real run with --write (the expensive part, shared by the tests below)."""
    root = tmp_path_factory.mktemp("tune")
    config = root / "mine.yaml"
    original = CONFIG.format(state=root / "state")
    config.write_text(original)
    out = root / "report"
    result = runner.invoke(app, ["tune", "-c", str(config), *WINDOW, "--out", str(out), "--write"])
    return {"result": result, "config": config, "original": original, "out": out}


def test_tune_writes_a_frontier_png_and_a_self_contained_html_report(tuned: dict) -> None:
    assert tuned["result"].exit_code == 0, tuned["result"].output
    png = tuned["out"] / "frontier.png"
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and png.stat().st_size > 20_000
    page = (tuned["out"] / "report.html").read_text()
    for name in BASELINES:
        assert f"<td>{name}</td>" in page
    assert "data:image/png;base64," in page
    assert not re.search(r"""(src|href)=["']?https?:""", page) and "<script" not in page


def _rows(page: str) -> list[tuple[str, str, float, float]]:
    """(css class, setting, tracking error %, turnover+cost %) of every row of the report's table."""
    out = []
    for css, cells in re.findall(r"<tr class='(\w+)'>(.*?)</tr>", page):
        values = [html.unescape(v) for v in re.findall(r"<td>(.*?)</td>", cells)]
        out.append((css, values[0], float(values[1].rstrip("%")), float(values[5].rstrip("%"))))
    return out


def test_the_recommended_point_is_printed_and_no_baseline_of_the_run_beats_it(tuned: dict) -> None:
    output = tuned["result"].output
    match = re.search(r"Recommended: policy: kind: objective, (\w+): ([\w.]+)", output)
    assert match, output
    assert "beats" in output and "Run as the bot runs it" in output
    rows = _rows((tuned["out"] / "report.html").read_text())
    recommended = [r for r in rows if r[0] == "recommended"]
    baselines = [r for r in rows if r[0] == "baseline"]
    assert len(recommended) == 1 and len(baselines) == len(BASELINES)
    _, _, te, burden = recommended[0]
    beaten = [name for _, name, b_te, b_burden in baselines if b_te < te and b_burden < burden]
    assert not beaten, f"the recommended point ({te}%, {burden}%) is beaten by {beaten}"


def test_write_changes_only_the_policy_keys_and_keeps_every_comment(tuned: dict) -> None:
    config: Path = tuned["config"]
    original: str = tuned["original"]
    new = config.read_text()
    assert config.with_name("mine.yaml.bak").read_text() == original
    old_lines, new_lines = original.splitlines(), new.splitlines()
    start = old_lines.index("policy:")
    end = old_lines.index("# --- files ---")
    assert new_lines[:start] == old_lines[:start]  # byte for byte before the section ...
    assert new_lines[-(len(old_lines) - end) :] == old_lines[end:]  # ... and after it
    for line in old_lines[start:end]:  # every comment of the section is still there
        if "#" in line:
            assert line.split("#", 1)[1].strip() in new
    loaded = load_config(config)
    assert loaded.policy is not None and loaded.policy.kind == "objective"
    assert loaded.policy.gamma == 3 and loaded.policy.cooldown_days == 5  # untouched keys
    setting = re.search(r"Recommended: policy: kind: objective, (\w+): ([\w.]+)", tuned["result"].output)
    assert setting is not None
    key, value = setting.groups()
    assert str(getattr(loaded.policy, key)) == value
    assert "--- " in tuned["result"].output and "+++ " in tuned["result"].output  # the diff, printed


def test_write_keeps_a_replaced_expert_key_as_a_comment_and_appends_a_missing_section() -> None:
    bare = "targets:\n  SPY: 0.6   # stocks\n  AGG: 0.4\n"
    text = bare + "policy:\n  risk_aversion: 0.001  # hand-picked\n# end\n"
    keys = ("tracking", "tracking_error", "relative_tracking_error", "risk_aversion")
    new = edited_text(text, {"kind": "objective", "tracking": "tight"}, keys, "tuned")
    assert "# was: risk_aversion: 0.001  # hand-picked" in new and new.endswith("# end\n")
    assert new.startswith(bare + "policy:\n")
    appended = edited_text(bare, {"kind": "objective", "tracking": "relaxed"}, keys)
    assert appended.startswith(bare) and "policy:\n  kind: objective\n  tracking: relaxed\n" in appended


def _outcome(te: float, burden: float) -> Outcome:
    return Outcome(te, burden, 0.0, 10, 5.0)


def test_the_recommendation_is_unbeaten_then_beats_most_then_trades_least() -> None:
    baselines = {
        "monthly": _outcome(0.004, 0.10),
        "annual": _outcome(0.009, 0.03),
        "band": _outcome(0.005, 0.02),
    }
    frontier = [
        _outcome(0.002, 0.20),  # beats nothing
        _outcome(0.0035, 0.06),  # beats monthly
        _outcome(0.0036, 0.028),  # beats monthly and annual
        _outcome(0.0038, 0.025),  # beats monthly and annual, trading less
        _outcome(0.006, 0.019),  # beats annual only
        _outcome(0.0095, 0.021),  # beaten by band
    ]
    gammas = tuple(10.0**-k for k in range(1, 7))
    cell = Cell("x", "w", 2, baselines, frontier, volatility=0.065, gammas=gammas)
    rec = recommend(cell)
    assert rec.index == 3 and rec.beats == ("monthly", "annual") and not rec.beaten_by
    assert rec.preset == "balanced" and rec.policy_keys() == {"kind": "objective", "tracking": "balanced"}
    assert nearest_preset(0.045) is None and nearest_preset(0.11) == "relaxed"


def _bad(args: list[str]) -> str:
    result = runner.invoke(app, ["tune", *args])
    assert result.exit_code == 2, result.output
    assert not isinstance(result.exception, Exception) or isinstance(result.exception, SystemExit)
    assert "Traceback" not in result.output
    return result.output


def test_bad_input_exits_2_with_a_message_naming_the_problem(tmp_path: Path) -> None:
    assert "not found" in _bad(["-c", str(tmp_path / "missing.yaml")])
    config = tmp_path / "c.yaml"
    config.write_text(CONFIG.format(state=tmp_path / "s").replace("AGG: 0.40", "NOPE: 0.40"))
    message = _bad(["-c", str(config)])
    # refused when the config is read (bot/config_checks.py): the embedded broker's data has no NOPE
    assert "NOPE" in message and "use one of those" in message
    config.write_text(CONFIG.format(state=tmp_path / "s"))
    assert "too little history" in _bad(["-c", str(config), "--start", "2022-06-01"])
    message = _bad(["-c", str(config), "--start", "2004-01-05"])
    assert "risk forecasts need 504" in message and "--start on or after" in message
    assert "not a directory" in _bad(["-c", str(config), "--data", str(tmp_path / "nowhere")])
    assert "no daily file" in _bad(["-c", str(config), "--data", str(tmp_path)])
    assert "not before" in _bad(["-c", str(config), "--start", "2020-01-02", "--end", "2019-01-02"])
