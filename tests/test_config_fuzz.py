"""Config fuzzing through the real CLI (issue 17): whatever the file holds, ``check-config`` answers with exit
code 0 or 2, never a traceback, and a refusal names the key that is wrong.

Documents are the example-like base config with one part replaced by an arbitrary value (any key of the
whole schema, found by walking the config models), an unknown key added, or the YAML text itself damaged.
The edges of the ranges that ``check-config`` accepts are then run through ``plan``, so a config it passes
is one the bot can plan with.
"""

from __future__ import annotations

import copy
import tempfile
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any, Literal, get_args, get_origin

import pytest
import yaml
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from pydantic import BaseModel
from typer.testing import CliRunner

from bot.cli import app
from bot.config import BotConfig

# Slow tier: fuzzing every key of the config through the CLI
# (CI runs the slow tier; the README's quick command skips it.)
pytestmark = pytest.mark.slow

STATE = Path(tempfile.mkdtemp(prefix="rb-fuzz-"))
BASE: dict[str, Any] = {
    "accounts": [{"name": "main", "broker": "embedded"}],
    "targets": {"SPY": 0.55, "AGG": 0.4, "cash": 0.05},
    "bands": {"default": {"absolute": 0.05, "relative": 0.25}},
    "policy": {"kind": "objective"},
    "schedule": {"interval_minutes": 30},
    "execution": {"min_trade_notional": 10, "slicing": {"policy": "auto"}},
    "approval": {"mode": "policy"},
    "limits": {"max_order_notional": 10000, "max_plan_notional": 25000, "max_daily_notional": 50000},
    "state_dir": str(STATE / "state"),
    "logging": {"level": "INFO"},
    "embedded": {"start": "2020-01-02", "cash": 100000},
    "notifications": {"retries": 1},
    "web": {"enabled": False},
}


def _schema_paths(model: type[BaseModel], prefix: tuple = ()) -> list[tuple]:
    """Every key path of the schema (sections and their fields, lists through their first entry)."""
    paths = []
    for name, info in model.model_fields.items():
        path = (*prefix, name)
        paths.append(path)
        annotation = info.annotation
        args = [a for a in get_args(annotation) if a is not type(None)] or [annotation]
        for arg in args:
            inner = get_args(arg)[0] if get_origin(arg) in (tuple, list) and get_args(arg) else arg
            if isinstance(inner, type) and issubclass(inner, BaseModel) and inner is not model:
                step = (*path, 0) if get_origin(arg) in (tuple, list) else path
                paths += _schema_paths(inner, step)
    return paths


PATHS = [p for p in _schema_paths(BotConfig) if p[0] != "targets"] + [("targets", "SPY"), ("targets", "cash")]

SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(10**30), max_value=10**30),
    st.floats(allow_nan=True, allow_infinity=True),
    st.sampled_from(["1e300", "-1", "0", "1e-300", "ZZZZ", "BRK.B", "BTC/USD", "/dev/null", "a\0b", "", "~"]),
    st.text(max_size=30),
    st.dates(min_value=date(1, 1, 1), max_value=date(9999, 12, 31)),
)
VALUES = st.recursive(
    SCALARS,
    lambda inner: st.one_of(
        st.lists(inner, max_size=3), st.dictionaries(st.text(max_size=8), inner, max_size=3)
    ),
    max_leaves=6,
)


def _set(doc: dict, path: tuple, value: Any) -> None:
    """``doc`` with ``value`` at ``path``, creating the sections (and first list entries) on the way."""
    node: Any = doc
    for part, after in zip(path[:-1], path[1:], strict=True):
        if isinstance(part, int):
            while len(node) <= part:
                node.append({})
        elif not isinstance(node.get(part), dict | list):
            node[part] = [] if isinstance(after, int) else {}
        node = node[part]
    if isinstance(node, list):
        node.append(value)
    else:
        node[path[-1]] = value


def _check(text: str) -> Any:
    path = STATE / "fuzz.yaml"
    path.write_text(text, encoding="utf-8")
    result = CliRunner().invoke(app, ["check-config", "-c", str(path)])
    assert result.exit_code in (0, 2), (result.exit_code, result.output, text[:500])
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    assert "Traceback" not in result.output
    return result


def _dump(doc: dict) -> str:
    return yaml.safe_dump(doc, allow_unicode=True, sort_keys=False)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(path=st.sampled_from(PATHS), value=VALUES)
def test_any_value_at_any_key_gives_exit_0_or_2_and_a_refusal_names_the_key(path, value):
    doc = copy.deepcopy(BASE)
    _set(doc, path, value)
    result = _check(_dump(doc))
    if result.exit_code == 2:
        named = [str(p) for p in path if isinstance(p, str)]
        # the line names the key changed, or the section whose cross-check it broke
        assert any(name in result.output for name in named), (path, value, result.output)


@settings(max_examples=60, deadline=None)
@given(
    path=st.sampled_from([p[:-1] for p in PATHS if len(p) > 1] + [()]),
    key=st.text(min_size=1, max_size=12).filter(lambda k: k.strip() and k not in ("cash",)),
)
def test_an_unknown_key_anywhere_is_refused_by_name(path, key):
    doc = copy.deepcopy(BASE)
    node: Any = doc
    for part in path:
        node = node[part] if isinstance(node, dict | list) and _has(node, part) else None
        if node is None:
            return
    if not isinstance(node, dict) or key in node:
        return
    node[key] = 1
    result = _check(_dump(doc))
    if path[:1] == ("targets",) or (path and path[-1] in ("overrides", "accounts", "substitutes")):
        return  # keys of these mappings are data (tickers, names), judged by their own rules
    assert result.exit_code == 2 and "unknown key" in result.output, (path, key, result.output)


def _has(node: Any, part: Any) -> bool:
    return part in node if isinstance(node, dict) else isinstance(part, int) and part < len(node)


@settings(max_examples=80, deadline=None)
@given(
    cut=st.integers(min_value=0, max_value=2000),
    junk=st.text(max_size=12),
    mode=st.sampled_from(["truncate", "insert", "nest", "digits"]),
)
def test_damaged_yaml_gives_exit_2_with_a_line_not_a_traceback(cut, junk, mode):
    text = _dump(BASE)
    cut = cut % (len(text) + 1)
    if mode == "truncate":
        text = text[:cut]
    elif mode == "insert":
        text = text[:cut] + junk + text[cut:]
    elif mode == "nest":
        text += "embedded: " + "[" * (200 + cut * 3) + "]" * (200 + cut * 3) + "\n"
    else:
        text += "schedule:\n  interval_minutes: " + "9" * (4000 + cut) + "\n"
    result = _check(text)
    if mode in ("nest", "digits"):
        assert result.exit_code == 2 and "error:" in result.output


def test_the_edges_check_config_accepts_are_ones_plan_can_plan_with(tmp_path):
    """The largest values of the fields issue 17 found crashing, together: check-config passes them and
    ``plan`` (the embedded broker, real prices) plans with them."""
    doc = copy.deepcopy(BASE)
    doc["state_dir"] = str(tmp_path / "state")
    doc["execution"] = {"min_trade_notional": 1_000_000, "order_timeout_minutes": 1440, "poll_seconds": 3600}
    doc["policy"] = {"kind": "dynamic", "lookback": 5040, "backstop_days": 3650, "cooldown_days": 3650}
    doc["web"] = {"enabled": False, "session_hours": 720, "link_hours": 168}
    doc["limits"] = {"max_order_notional": 10**12, "max_plan_notional": 10**12, "max_daily_notional": 10**12}
    doc["logging"] = {"file": str(tmp_path / "logs" / "bot.log"), "backups": 1000}
    path = tmp_path / "edges.yaml"
    path.write_text(_dump(doc))
    assert CliRunner().invoke(app, ["check-config", "-c", str(path)]).exit_code == 0
    result = CliRunner().invoke(app, ["plan", "-c", str(path)])
    assert result.exit_code == 0, result.output
    assert "== account main" in result.output


@pytest.mark.parametrize(
    ("field", "value"),
    [
        (("execution", "min_trade_notional"), Decimal("1000000.01")),
        (("execution", "order_timeout_minutes"), 1441),
        (("policy", "lookback"), 5041),
        (("web", "session_hours"), 721),
    ],
)
def test_just_past_an_edge_is_refused_naming_the_key(field, value):
    doc = copy.deepcopy(BASE)
    _set(doc, field, float(value) if isinstance(value, Decimal) else value)
    result = _check(_dump(doc))
    assert result.exit_code == 2 and ".".join(field) in result.output


# -- check-config passes only what plan can plan with, for fuzzed configs ------------------------------------

# The scalar keys a one-account config may set (its sections and a tax section on top), each with the range
# the schema itself declares: what check-config can accept. Household, per-account maps and paths are out:
# they need names that agree with each other, and their refusals are shown in test_config_refusals.
IN_RANGE_SECTIONS = ("bands", "policy", "schedule", "execution", "approval", "limits", "logging", "embedded")
IN_RANGE_SECTIONS += ("notifications", "web", "tax")
UNBOUNDED = 10**12


def _field(path: tuple) -> Any:
    """The pydantic FieldInfo at ``path`` (None when the path leaves the models)."""
    model: Any = BotConfig
    info = None
    for part in path:
        if isinstance(part, int) or not (isinstance(model, type) and issubclass(model, BaseModel)):
            return None
        info = model.model_fields.get(part)
        if info is None:
            return None
        args = [a for a in get_args(info.annotation) if a is not type(None)] or [info.annotation]
        model = next((a for a in args if isinstance(a, type) and issubclass(a, BaseModel)), None)
    return info


def _bounds(info: Any) -> tuple[float | None, float | None, bool, bool]:
    lo = hi = None
    lo_open = hi_open = False
    for meta in info.metadata:
        for name, is_lo, is_open in (("ge", True, False), ("gt", True, True), ("le", False, False)):
            if getattr(meta, name, None) is not None:
                if is_lo:
                    lo, lo_open = getattr(meta, name), is_open
                else:
                    hi, hi_open = getattr(meta, name), is_open
        if getattr(meta, "lt", None) is not None:
            hi, hi_open = meta.lt, True
    return lo, hi, lo_open, hi_open


def _in_range(info: Any) -> st.SearchStrategy | None:
    """Values the schema allows for one field: its enum, a bool, or a number inside its bounds (edges
    included, far above the usual for the fields without an upper bound)."""
    annotation = info.annotation
    args = [annotation] if get_origin(annotation) is Literal else get_args(annotation) or (annotation,)
    args = [a for a in args if a is not type(None)]
    literals = [v for a in args if get_origin(a) is Literal for v in get_args(a)]
    if literals:
        return st.sampled_from(literals)
    if args == [bool]:
        return st.booleans()
    lo, hi, lo_open, hi_open = _bounds(info)
    lo = 0 if lo is None else lo
    if args == [int] or (int in args and date not in args):
        low, high = (
            int(lo) + (1 if lo_open else 0),
            int(UNBOUNDED if hi is None else hi) - (1 if hi_open else 0),
        )
        return st.one_of(st.sampled_from([low, high]), st.integers(low, high))
    if any(a in (float, Decimal) for a in args):
        high = float(UNBOUNDED if hi is None else hi)
        inner = st.floats(float(lo), high, exclude_min=lo_open, exclude_max=hi_open, allow_nan=False)
        return st.one_of(st.sampled_from([high] if not hi_open else [float(lo) + 1e-9]), inner)
    if args == [date]:
        return st.dates(min_value=date(2006, 1, 1), max_value=date(2023, 6, 30))
    return None


IN_RANGE = {
    path: strategy
    for path in _schema_paths(BotConfig)
    if path[0] in IN_RANGE_SECTIONS
    and not any(isinstance(p, int) for p in path)
    and not {"overrides", "accounts"} & set(path)
    and (info := _field(path)) is not None
    and (strategy := _in_range(info)) is not None
}


@st.composite
def accepted_candidates(draw: st.DrawFn) -> dict:
    """The base config under each of the three policies, with two to eight keys set to values inside their
    declared ranges."""
    doc = copy.deepcopy(BASE)
    doc["policy"]["kind"] = draw(st.sampled_from(["objective", "dynamic", "bands"]))
    keys = sorted(p for p in IN_RANGE if p != ("policy", "kind"))
    for path in draw(st.lists(st.sampled_from(keys), min_size=2, max_size=8, unique=True)):
        _set(doc, path, draw(IN_RANGE[path]))
    return doc


@settings(
    max_examples=12,
    derandomize=True,  # the same twelve configs on every run: CI stays stable, a failure reproduces
    database=None,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)
@given(doc=accepted_candidates())
def test_a_fuzzed_config_check_config_passes_is_one_plan_plans_with(doc):
    """What check-config accepts, ``plan`` (the embedded paper broker, real prices) must plan with: no exit 2
    on a config check passed, no traceback. (Refused configs are the other tests' subject.)"""
    with tempfile.TemporaryDirectory(prefix="rb-fuzz-plan-") as state:
        doc["state_dir"] = str(Path(state) / "state")
        if isinstance(doc.get("logging"), dict) and "file" in doc["logging"]:
            doc["logging"]["file"] = str(Path(state) / "logs" / "bot.log")
        path = Path(state) / "bot.yaml"
        path.write_text(_dump(doc), encoding="utf-8")
        checked = CliRunner().invoke(app, ["check-config", "-c", str(path)])
        assume(checked.exit_code == 0)
        result = CliRunner().invoke(app, ["plan", "-c", str(path)])
        assert result.exception is None or isinstance(result.exception, SystemExit), (result.exception, doc)
        assert result.exit_code == 0, (result.output, doc)
        assert "== account main" in result.output and "Traceback" not in result.output
