"""The tax tables (schema version 4, upgradable from older files) and the ``tax`` section of the config."""

from __future__ import annotations

import sqlite3
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path

import pytest
import yaml

from bot.config import ConfigError, load_config
from bot.state.migrate import head
from bot.state.store import StateStore, TaxFillRecord, WashSaleRecord
from tests.state.legacy import legacy_state_file

EXAMPLE = Path(__file__).resolve().parents[2] / "config" / "example.yaml"
AT = datetime(2019, 12, 17, 15, 0, tzinfo=UTC)


def fill(fill_id: str, **changes) -> TaxFillRecord:  # noqa: ANN003
    values = dict(
        account="main",
        fill_id=fill_id,
        source="broker",
        symbol="SPY",
        side="buy",
        qty=Decimal("1.5"),
        price=Decimal("320.10"),
        trade_date=date(2019, 12, 17),
        at=AT,
        order_id="o-1",
    )
    return TaxFillRecord(**{**values, **changes})


def test_a_database_from_before_taxes_is_upgraded_with_its_data(tmp_path):
    path = legacy_state_file(tmp_path / "bot.sqlite", version=3)  # the schema before tax-aware execution
    raw = sqlite3.connect(path, isolation_level=None)
    raw.execute(
        "INSERT INTO plans (plan_id, account, content_hash, status, explanation, details, created_at,"
        " updated_at) VALUES ('plan-1', 'main', 'hash', 'done', 'old', '{\"orders\": []}', ?, ?)",
        (AT.isoformat(), AT.isoformat()),
    )
    raw.close()
    with StateStore(path) as store:
        assert store.schema_version == head()
        assert store.get_plan("plan-1").explanation == "old"
        assert store.add_tax_fills([fill("a1")]) == 1
        assert store.tax_fills() == [fill("a1")]


def test_fills_are_recorded_once_and_the_newest_broker_time_is_where_the_next_read_starts(state_target):
    with StateStore(state_target) as store:
        later = datetime(2019, 12, 18, 15, 0, tzinfo=UTC)
        assert store.add_tax_fills([fill("a1"), fill("a2", at=later, trade_date=date(2019, 12, 18))]) == 2
        assert store.add_tax_fills([fill("a1"), fill("a2")]) == 0
        assert store.last_tax_fill_time("main") == later
        assert store.last_tax_fill_time("other") is None
        imported = fill("import:main:2", source="import", at=None, order_id=None, trade_date=date(2018, 1, 2))
        store.replace_imported_lots("main", [imported])
        assert [f.fill_id for f in store.tax_fills()] == ["import:main:2", "a1", "a2"]  # in trade order
        store.replace_imported_lots("main", [])
        assert [f.fill_id for f in store.tax_fills()] == ["a1", "a2"]  # broker fills untouched


def test_a_history_longer_than_one_statement_is_recorded_whole_and_counted_exactly(state_target):
    """add_tax_fills is one executemany counted by its summed row count: over 2,050 fills, with two already
    recorded and two repeated inside the page, each fill is recorded once and the count is of the new ones
    (a conflict must count nothing on either engine)."""
    page = 2 * 1000 + 50
    with StateStore(state_target) as store:
        assert store.add_tax_fills([fill("f0007"), fill("f0300")]) == 2
        fills = [fill(f"f{n:04d}", qty=Decimal(n + 1)) for n in range(page)] + [fill("f0123"), fill("f1420")]
        assert store.add_tax_fills(fills) == page - 2
        recorded = store.tax_fills(account="main")
        assert sorted(f.fill_id for f in recorded) == [f"f{n:04d}" for n in range(page)]
        assert {f.fill_id: f.qty for f in recorded}["f2049"] == Decimal(2050)
        assert store.add_tax_fills(fills) == 0
        assert store.add_tax_fills([]) == 0


def test_a_block_is_new_once_and_cleared_once(state_target):
    with StateStore(state_target) as store:
        assert store.set_tax_block("main", "SPY", Decimal(0), Decimal(10)) is True
        assert store.set_tax_block("main", "SPY", Decimal(0), Decimal(12)) is False
        [block] = store.tax_blocks("main")
        assert (block.symbol, block.broker_qty) == ("SPY", 12)
        assert store.clear_tax_block("main", "SPY") is True
        assert store.clear_tax_block("main", "SPY") is False
        assert store.tax_blocks() == []
        wash = WashSaleRecord(
            "s1", "l1", "b1", "main", "VTI", date(2020, 3, 2), "ira", "VTI", date(2020, 3, 9),
            Decimal(5), Decimal("50.5"), True, AT,
        )  # fmt: skip
        assert store.record_wash_sale(wash) is True and store.record_wash_sale(wash) is False
        assert store.wash_sales("main") == [wash]


def write(tmp_path: Path, tax: dict, accounts: list | None = None) -> Path:
    config = yaml.safe_load(EXAMPLE.read_text())
    config["tax"] = tax
    if accounts is not None:
        config["accounts"] = accounts
    path = tmp_path / "config.yaml"
    path.write_text(yaml.safe_dump(config))
    return path


def test_the_example_config_documents_a_valid_tax_section(tmp_path):
    lines = EXAMPLE.read_text().splitlines()
    start = lines.index("# tax:")
    block = [lines[start]]
    for line in lines[start + 1 :]:
        if not line.startswith("#  "):
            break
        block.append(line)
    tax = yaml.safe_load("\n".join(line[2:] for line in block))["tax"]
    config = load_config(write(tmp_path, tax))
    assert config.tax is not None and config.tax.account("demo").type == "taxable"
    assert set(config.tax.sleeves()) == {("VTI", "ITOT", "SCHB"), ("VEA", "IEFA"), ("AGG", "BND")}
    assert config.tax.identical("SPY", "VOO") and not config.tax.identical("VTI", "ITOT")
    assert load_config(EXAMPLE).tax is None  # commented out: the example trades without it


@pytest.mark.parametrize(
    ("tax", "problem"),
    [
        ({"accounts": {"demo": {"relief": "hifo"}}}, "tax.accounts.demo.relief: must be fifo"),
        ({"accounts": {"nope": {}}}, "tax.accounts.nope: is not an account name"),
        ({"accounts": {"demo": {"type": "brokerage"}}}, "tax.accounts.demo.type: must be"),
        ({"rates": {"short_term": 1.5}}, "tax.rates.short_term: must be at most 1"),
        ({"substantially_identical": [["SPY", "IVV"], ["IVV", "VOO"]]}, "tax.substantially_identical[1]"),
        (
            {"substantially_identical": [["VTI", "ITOT"]], "substitutes": {"VTI": ["ITOT"]}},
            "tax.substitutes.VTI[0]: ITOT is substantially identical to VTI",
        ),
        ({"substitutes": {"VTI": ["ITOT"], "SCHB": ["ITOT"]}}, "[0]: ITOT already substitutes"),
        ({"harvest": {"min_loss": -1}}, "tax.harvest.min_loss: must be at least 0"),
        ({"defer_days": 400}, "tax.defer_days: must be at most 365"),
        ({"gain_band_fraction": 0}, "tax.gain_band_fraction: must be greater than 0"),
        ({"harvets": {}}, "tax.harvets: unknown key; did you mean 'harvest'?"),
    ],
)
def test_a_bad_tax_section_names_the_key(tmp_path, tax, problem):
    with pytest.raises(ConfigError) as caught:
        load_config(write(tmp_path, tax))
    assert any(problem in p for p in caught.value.problems), caught.value.problems


def test_how_far_gain_sales_go_into_the_band_reaches_the_planner(tmp_path):
    from bot.tax.settings import tax_settings

    edge = load_config(write(tmp_path, {"gain_band_fraction": 1}))
    assert tax_settings(edge, "demo").gain_band_fraction == 1
    default = load_config(write(tmp_path, {}))
    assert tax_settings(default, "demo").gain_band_fraction == Decimal("0.5")
