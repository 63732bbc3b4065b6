"""Import lots bought before the bot (or transferred in) from a CSV file, all rows or none.

Why: Alpaca's FILL activities only cover trades made at Alpaca; shares transferred in (ACATS) or bought
before the account's history starts have no fills, so the ledger cannot explain them and reconciliation
blocks tax-aware trading in them. Their lots come from the previous broker's cost-basis statement.

The file: a header row, then one lot per row::

    symbol,qty,price,date
    VTI,100,120.50,2018-03-01
    AGG,40,,2019-06-03          <- with cost_basis instead of price: cost_basis is the lot's total cost

``price`` is the cost per share; ``cost_basis`` the total cost of the lot (give one of them); ``date`` the
acquisition date (YYYY-MM-DD). Every problem is reported as ``row N, column C: ...`` (row 1 is the header) and
nothing is imported unless every row is valid. An import replaces the account's earlier import, so importing
a corrected file again is safe.
"""

from __future__ import annotations

import csv
import io
import re
from dataclasses import dataclass
from datetime import date
from decimal import Decimal, InvalidOperation
from pathlib import Path

from bot.state.store import StateStore, TaxFillRecord

REQUIRED = ("symbol", "qty", "date")
TICKER = re.compile(r"^[A-Z][A-Z0-9]{0,9}([./][A-Z0-9]{1,4})?$")


class LotsImportError(ValueError):
    """The file cannot be imported; ``problems`` holds one ``row N, column C: ...`` line each."""

    def __init__(self, problems: list[str]) -> None:
        self.problems = tuple(problems)
        super().__init__("\n".join(problems))


@dataclass(frozen=True)
class ImportedLot:
    symbol: str
    qty: Decimal
    price: Decimal
    acquired: date
    row: int


def parse_lots(text: str, today: date | None = None) -> list[ImportedLot]:
    """Parse the CSV text; raises :class:`LotsImportError` listing every problem (nothing is returned
    partially). ``today``: acquisition dates after it are refused."""
    reader = csv.DictReader(io.StringIO(text.lstrip("\ufeff")))
    header = [h.strip().lower() for h in reader.fieldnames or []]
    problems: list[str] = []
    missing = [c for c in REQUIRED if c not in header]
    if not header:
        raise LotsImportError(["row 1: the file is empty (expected a header: symbol,qty,price,date)"])
    if missing:
        problems.append(f"row 1, column {', '.join(missing)}: missing from the header")
    if "price" not in header and "cost_basis" not in header:
        problems.append("row 1, column price: missing from the header (or give cost_basis)")
    unknown = [h for h in header if h not in (*REQUIRED, "price", "cost_basis")]
    if unknown:
        problems.append(f"row 1, column {', '.join(unknown)}: unknown column")
    if problems:
        raise LotsImportError(problems)
    lots: list[ImportedLot] = []
    for index, raw in enumerate(reader, start=2):
        row = {str(k).strip().lower(): (v or "").strip() for k, v in raw.items() if k is not None}
        if None in raw:
            problems.append(f"row {index}: more values than columns")
            continue
        if not any(row.values()):
            continue  # a blank line
        lot, row_problems = _parse_row(row, index, today)
        problems += row_problems
        if lot is not None:
            lots.append(lot)
    if problems:
        raise LotsImportError(problems)
    if not lots:
        raise LotsImportError(["row 2: no lots in the file"])
    return lots


def _parse_row(row: dict[str, str], index: int, today: date | None) -> tuple[ImportedLot | None, list[str]]:
    problems: list[str] = []

    def bad(column: str, message: str) -> None:
        problems.append(f"row {index}, column {column}: {message}")

    symbol = row.get("symbol", "").upper()
    if not TICKER.match(symbol):
        bad("symbol", f"must be a ticker symbol (got {row.get('symbol', '')!r})")
    qty = _positive(row.get("qty", ""))
    if qty is None:
        bad("qty", f"must be a positive number of shares (got {row.get('qty', '')!r})")
    price_text, basis_text = row.get("price", ""), row.get("cost_basis", "")
    price: Decimal | None = None
    if price_text and basis_text:
        bad("price", "give price or cost_basis, not both")
    elif price_text:
        price = _positive(price_text, allow_zero=True)
        if price is None:
            bad("price", f"must be a cost per share of 0 or more (got {price_text!r})")
    elif basis_text:
        basis = _positive(basis_text, allow_zero=True)
        if basis is None:
            bad("cost_basis", f"must be a total cost of 0 or more (got {basis_text!r})")
        elif qty is not None:
            price = basis / qty
    else:
        bad("price", "is empty (give price per share or cost_basis)")
    acquired: date | None = None
    try:
        acquired = date.fromisoformat(row.get("date", ""))
    except ValueError:
        bad("date", f"must be a date YYYY-MM-DD (got {row.get('date', '')!r})")
    if acquired is not None and today is not None and acquired > today:
        bad("date", f"{acquired.isoformat()} is in the future")
    if problems or qty is None or price is None or acquired is None:
        return None, problems
    return ImportedLot(symbol, qty, price, acquired, index), []


def _positive(text: str, allow_zero: bool = False) -> Decimal | None:
    try:
        value = Decimal(text.replace(",", "")) if text else None
    except InvalidOperation:
        return None
    if value is None or not value.is_finite() or value < 0 or (value == 0 and not allow_zero):
        return None
    return value


def import_lots(store: StateStore, account: str, path: Path, today: date | None = None) -> list[ImportedLot]:
    """Read ``path`` and replace ``account``'s imported lots with its rows; all or nothing."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise LotsImportError([f"{path}: cannot read the file ({exc})"]) from None
    lots = parse_lots(text, today)
    store.replace_imported_lots(
        account,
        [
            TaxFillRecord(
                account=account,
                fill_id=f"import:{account}:{lot.row}",
                source="import",
                symbol=lot.symbol,
                side="buy",
                qty=lot.qty,
                price=lot.price,
                trade_date=lot.acquired,
                at=None,
                order_id=None,
                note=f"imported from {Path(path).name}, row {lot.row}",
            )
            for lot in lots
        ],
    )
    return lots
