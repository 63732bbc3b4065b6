"""Command-line options more than one command takes (``backtest`` and ``tune`` read market data alike)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

DataOption = Annotated[
    Path | None,
    typer.Option(help="Directory of daily CSVs in the bundled layout (bundled real data by default)."),
]
AlpacaOption = Annotated[
    bool,
    typer.Option("--alpaca", help="Daily bars from Alpaca with the config's first keyed account (cached)."),
]
CacheOption = Annotated[Path | None, typer.Option(help="Cache for Alpaca bars (default: <state_dir>/bars).")]
VerboseOption = Annotated[
    bool, typer.Option("--verbose", "-v", help="Reasons in full, not one line of at most 160 characters.")
]
