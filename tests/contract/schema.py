"""Alpaca's published OpenAPI specs as JSON Schema validators, and a recorder of alpaca-py's own HTTP traffic.

The two specs (``specs/trading-api.json``, ``specs/market-data-api.json``, OpenAPI 3.1) are loaded once, each
as one resource in a ``referencing.Registry`` under its file URI, so that a body is validated against e.g.
``{"$ref": "<uri>#/components/schemas/Order"}`` or against the response schema the spec gives a path
(``<uri>#/paths/~1v2~1orders/get/responses/200/content/application~1json/schema``) with Draft 2020-12, the
dialect of OpenAPI 3.1. Formats are asserted (``date-time``, ``date``, ``uuid``), which ``jsonschema`` does
not do by default.

A few places where the published spec contradicts itself or Alpaca's real answers are corrected before use;
each correction is listed in ``ERRATA`` with its reason and has a test of its own in ``test_contract.py``.

``Recorder`` hooks into the ``requests.Session`` an alpaca-py client sends through (``client._session``) and
keeps every response, so the very bodies alpaca-py parsed are the ones validated against the spec.
"""

from __future__ import annotations

import copy
import json
import re
from dataclasses import dataclass, field
from datetime import datetime
from functools import cache
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import requests
from jsonschema import Draft202012Validator, FormatChecker
from jsonschema.exceptions import best_match
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

SPEC_DIR = Path(__file__).parent / "specs"
TRADING = "trading-api"
MARKET_DATA = "market-data-api"

RFC3339 = re.compile(r"^\d{4}-\d{2}-\d{2}[Tt]\d{2}:\d{2}:\d{2}(\.\d+)?([Zz]|[+-]\d{2}:\d{2})$")


@dataclass(frozen=True)
class Erratum:
    name: str
    spec: str
    pointer: str
    """JSON pointer (without ``#``) of the value replaced, or of the schema whose keyword is renamed."""
    published: Any
    corrected: Any
    reason: str


ERRATA: tuple[Erratum, ...] = (
    Erratum(
        "dividend-date-is-a-date",
        TRADING,
        "/components/schemas/NonTradeActivities/properties/date/format",
        "date-time",
        "date",
        "The spec types a non-trade activity's `date` as date-time, but its own example sends a plain date "
        "(2019-08-01), and alpaca-py's NonTradeActivity parses the field as a date.",
    ),
    Erratum(
        "activities-oneOf-is-anyOf",
        TRADING,
        "/paths/~1v2~1account~1activities~1{activity_type}/get/responses/200/content/application~1json/schema/items",
        "oneOf",
        "anyOf",
        "The items are `oneOf` TradingActivities / NonTradeActivities, but neither schema requires anything "
        "or forbids extra properties, so every activity (Alpaca's own FILL example included) matches both "
        "and a `oneOf` can never pass. Read as `anyOf`; the contract tests also check each item against "
        "the one schema its activity_type selects.",
    ),
)


def _format_checker() -> FormatChecker:
    checker = copy.deepcopy(Draft202012Validator.FORMAT_CHECKER)

    @checker.checks("date-time", raises=ValueError)
    def _date_time(value: object) -> bool:
        if not isinstance(value, str):
            return True
        if not RFC3339.match(value):
            return False
        datetime.fromisoformat(
            re.sub(r"\.(\d{6})\d+", r".\1", value).replace("z", "Z").replace("Z", "+00:00")
        )
        return True

    return checker


FORMATS = _format_checker()


def _resolve_pointer(document: Any, pointer: str) -> tuple[Any, str]:
    """The container and the last key of ``pointer`` in ``document``."""
    parts = [p.replace("~1", "/").replace("~0", "~") for p in pointer.lstrip("/").split("/")]
    node = document
    for part in parts[:-1]:
        node = node[int(part)] if isinstance(node, list) else node[part]
    return node, parts[-1]


def _apply_errata(name: str, document: dict) -> dict:
    document = copy.deepcopy(document)
    for erratum in ERRATA:
        if erratum.spec != name:
            continue
        container, key = _resolve_pointer(document, erratum.pointer)
        if erratum.published in ("oneOf", "anyOf", "allOf"):  # a keyword renamed inside the node pointed at
            node = container[key]
            assert erratum.published in node, f"erratum out of date: {erratum.pointer}"
            node[erratum.corrected] = node.pop(erratum.published)
            continue
        assert container[key] == erratum.published, f"erratum out of date: {erratum.pointer}"
        container[key] = erratum.corrected
    return document


def escape(token: str) -> str:
    """One JSON pointer reference token."""
    return token.replace("~", "~0").replace("/", "~1")


@dataclass(frozen=True)
class ApiSpec:
    name: str
    path: Path
    published: dict = field(repr=False)
    document: dict = field(repr=False)

    @property
    def uri(self) -> str:
        return self.path.as_uri()

    @property
    def published_uri(self) -> str:
        """Where the spec exactly as published (without ``ERRATA``) is registered."""
        return f"{self.uri}?as-published"

    def schema_ref(self, component: str, published: bool = False) -> dict:
        return {"$ref": f"{self.published_uri if published else self.uri}#/components/schemas/{component}"}

    def response_ref(self, method: str, template: str, status: int, published: bool = False) -> dict | None:
        """The schema the spec gives ``method template`` answering ``status``, or None if it gives none."""
        operation = self.document["paths"][template][method.lower()]
        response = operation["responses"].get(str(status))
        if response is None or "$ref" in response:
            return None
        content = response.get("content", {}).get("application/json")
        if not content or not content.get("schema"):
            return None
        pointer = (
            f"/paths/{escape(template)}/{method.lower()}/responses/{status}/content/application~1json/schema"
        )
        return {"$ref": f"{self.published_uri if published else self.uri}#{pointer}"}

    def match(self, method: str, path: str) -> str | None:
        """The spec's path template for a concrete path (literal segments win over parameters)."""
        candidates = []
        for template, operations in self.document["paths"].items():
            if method.lower() not in operations:
                continue
            pattern = "^" + re.sub(r"\\\{[^}]+\\\}", "[^/]+", re.escape(template)) + "$"
            if re.match(pattern, path):
                candidates.append((template.count("{"), template))
        return min(candidates)[1] if candidates else None


@cache
def load(name: str) -> ApiSpec:
    path = SPEC_DIR / f"{name}.json"
    published = json.loads(path.read_text())
    return ApiSpec(name, path, published, _apply_errata(name, published))


@cache
def registry() -> Registry:
    resources = []
    for name in (TRADING, MARKET_DATA):
        spec = load(name)
        resources.append((spec.uri, Resource.from_contents(spec.document, default_specification=DRAFT202012)))
        resources.append(
            (spec.published_uri, Resource.from_contents(spec.published, default_specification=DRAFT202012))
        )
    return Registry().with_resources(resources)


def errors_of(instance: Any, schema: dict) -> list[str]:
    """Every violation of ``schema`` by ``instance``, as readable lines (empty when valid)."""
    validator = Draft202012Validator(schema, registry=registry(), format_checker=FORMATS)
    found = sorted(validator.iter_errors(instance), key=lambda e: list(e.absolute_path))
    lines = []
    for error in found:
        deepest = best_match(error.context) if error.context else error
        where = "/".join(str(p) for p in deepest.absolute_path) or "(body)"
        lines.append(f"{where}: {deepest.message}")
    return lines


def assert_valid(instance: Any, schema: dict, what: str = "") -> None:
    problems = errors_of(instance, schema)
    if problems:
        shown = json.dumps(instance, indent=1)[:3000]
        raise AssertionError(
            f"{what or schema} violates the spec:\n  " + "\n  ".join(problems) + f"\nbody: {shown}"
        )


def assert_schema(instance: Any, component: str, spec: str = TRADING) -> None:
    assert_valid(instance, load(spec).schema_ref(component), component)


def assert_error_body(body: Any, status: int | None = None) -> None:
    """Every error answer carries ``code`` and ``message`` (the trading spec's ``Error`` schema)."""
    assert isinstance(body, dict), (
        f"error body{f' of a {status}' if status else ''} is not a JSON object: {body!r}"
    )
    assert_schema(body, "Error")
    assert isinstance(body["message"], str) and body["message"], body


def spec_for(path: str) -> ApiSpec:
    return load(MARKET_DATA) if path.startswith("/v2/stocks") else load(TRADING)


def activity_component(activity: dict) -> str:
    return "TradingActivities" if activity.get("activity_type") == "FILL" else "NonTradeActivities"


# -- alpaca-py's traffic -------------------------------------------------------------------------------------
@dataclass
class Exchange:
    method: str
    path: str
    query: str
    status: int
    body: Any
    """The parsed JSON body, or None when the response has none."""
    text: str

    def __str__(self) -> str:
        return f"{self.method} {self.path}{'?' + self.query if self.query else ''} -> {self.status}"


class Recorder:
    """Keeps every response an alpaca-py client's ``requests.Session`` receives, to validate them later."""

    def __init__(self) -> None:
        self.exchanges: list[Exchange] = []

    def attach(self, client: Any) -> Any:
        session: requests.Session = client._session
        session.hooks.setdefault("response", []).append(self._hook)
        return client

    def _hook(self, response: requests.Response, *args: Any, **kwargs: Any) -> requests.Response:
        split = urlsplit(response.request.url)
        text = response.text
        try:
            body = json.loads(text) if text else None
        except json.JSONDecodeError:
            body = text
        self.exchanges.append(
            Exchange(response.request.method, split.path, split.query, response.status_code, body, text)
        )
        return response

    def last(self, method: str, path: str) -> Exchange:
        """The latest ``method path`` exchange; a path ending in ``/`` matches every path under it."""
        for exchange in reversed(self.exchanges):
            under = path.endswith("/") and exchange.path.startswith(path)
            if exchange.method == method and (exchange.path == path or under):
                return exchange
        raise AssertionError(f"no {method} {path} recorded")

    def validate(self, exchange: Exchange) -> str:
        """Check one exchange against the spec; return its path template (its path, for errors off-spec)."""
        spec = spec_for(exchange.path)
        template = spec.match(exchange.method, exchange.path)
        if exchange.status >= 400:  # errors have Alpaca's shape on every path, even ones the spec lacks
            assert_error_body(exchange.body, exchange.status)
            return template or exchange.path
        assert template is not None, f"{exchange}: path not in Alpaca's {spec.name} spec"
        declared = spec.document["paths"][template][exchange.method.lower()]["responses"]
        assert str(exchange.status) in declared, (
            f"{exchange}: status not among {sorted(declared)} in the spec"
        )
        if exchange.status == 204:
            assert exchange.text == "", f"{exchange}: a 204 must have no body, got {exchange.text!r}"
            return template
        ref = spec.response_ref(exchange.method, template, exchange.status)
        assert ref is not None, f"{exchange}: the spec declares no JSON body"
        assert_valid(exchange.body, ref, str(exchange))
        if template.startswith("/v2/account/activities"):
            for item in exchange.body:
                assert_schema(item, activity_component(item))
        return template

    def validate_all(self) -> set[str]:
        """Validate everything recorded; return the ``METHOD template`` pairs seen, for coverage checks."""
        return {f"{e.method} {self.validate(e)}" for e in self.exchanges}
