"""Writing a setting into the user's config file without disturbing the rest of it.

A config file is a document its owner wrote: comments that explain each choice, keys in their own order, a
layout. ``rebalance-bot tune --write`` must change the ``policy`` keys it recommends and nothing else, so
the file is edited with ruamel.yaml's round-trip mode (it keeps comments, key order, quoting and flow
style), and the result is checked before it replaces the file:

* every line outside the ``policy`` section is byte for byte what it was (else nothing is written: the
  edit would have reformatted the user's file);
* the new file loads as a valid config (``bot.config.load_config``);
* the old file is kept beside it as ``NAME.bak``, and the change is returned as a unified diff to print.
"""

from __future__ import annotations

import difflib
import io
import os
import tempfile
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bot.config import ConfigError, load_config

SECTION = "policy"


class EditError(Exception):
    """The file could not be edited safely; nothing was written."""


@dataclass(frozen=True)
class Edit:
    path: Path
    backup: Path
    diff: str
    """Unified diff of the old file against the new one (empty: nothing changed)."""


def write_policy(
    path: Path, keys: Mapping[str, Any], drop: Iterable[str] = (), comment: str | None = None
) -> Edit:
    """Set ``keys`` in the config's ``policy`` section (created at the end when missing), remove ``drop``
    from it, and write the file back with a ``.bak`` copy of the old one. ``comment`` goes at the end of
    each line set. Raises :class:`EditError` when the result would change more than the section or would
    not be a valid config."""
    old = path.read_text(encoding="utf-8")
    new = edited_text(old, keys, drop, comment)
    diff = "".join(
        difflib.unified_diff(
            old.splitlines(keepends=True), new.splitlines(keepends=True), str(path), f"{path} (new)"
        )
    )
    backup = path.with_name(path.name + ".bak")
    if new == old:
        return Edit(path, backup, "")
    _validate(new, path)
    backup.write_text(old, encoding="utf-8")
    _replace(path, new)
    return Edit(path, backup, diff)


def edited_text(
    text: str, keys: Mapping[str, Any], drop: Iterable[str] = (), comment: str | None = None
) -> str:
    """``text`` with the ``policy`` keys set and dropped, every line outside the section as it was.

    ruamel.yaml edits the document; only the ``policy`` section of its output is then spliced into the
    original text, so the rest of the file is untouched whatever ruamel would make of it, and the splice is
    checked to mean the same as ruamel's whole document."""
    from ruamel.yaml.comments import CommentedMap

    yaml = _round_trip(text)
    data = yaml.load(text)
    if not isinstance(data, CommentedMap):
        raise EditError("the top level of the config is not a mapping of sections")
    old_span = _section_span(data, len(text.splitlines()))
    section = data.get(SECTION)
    if section is None:
        section = CommentedMap()
        data[SECTION] = section
    elif not isinstance(section, CommentedMap):
        raise EditError(f"the config's {SECTION} is not a mapping of keys")
    _set_keys(section, keys, comment)
    for key in drop:
        if key in section and key not in keys:
            _drop(section, key)
    out = io.StringIO()
    yaml.dump(data, out)
    whole = out.getvalue()
    new_lines = whole.splitlines(keepends=True)
    new_span = _section_span(yaml.load(whole), len(new_lines))
    assert new_span is not None
    block = new_lines[new_span[0] : new_span[1]]
    old_lines = text.splitlines(keepends=True)
    if old_span is None:
        if old_lines and not old_lines[-1].endswith("\n"):
            old_lines[-1] += "\n"
        spliced = "".join([*old_lines, "\n# Rebalancing policy, written by rebalance-bot tune\n", *block])
    else:
        spliced = "".join([*old_lines[: old_span[0]], *block, *old_lines[old_span[1] :]])
    if yaml_plain(spliced) != yaml_plain(whole):
        raise EditError(
            "the policy section could not be edited in place; nothing was written: set it by hand"
        )
    return spliced


def _set_keys(section: Any, keys: Mapping[str, Any], comment: str | None) -> None:
    """Change or insert ``keys``: a changed key keeps its line and its comment; a new key goes just after
    ``kind`` (or first), where a reader looks, with ``comment`` at its end."""
    for key, value in keys.items():
        if key in section:
            if section[key] != value:
                section[key] = value
                if comment and not _has_comment(section, key):
                    section.yaml_add_eol_comment(comment, key)
            continue
        keys_now = list(section)
        position = keys_now.index("kind") + 1 if "kind" in keys_now and key != "kind" else 0
        section.insert(position, key, value, comment=comment)


def _has_comment(section: Any, key: str) -> bool:
    token = section.ca.items.get(key, [None] * 3)[2]
    return token is not None and token.value.lstrip(" ").startswith("#")


def _drop(section: Any, key: str) -> None:
    """Remove ``key``, leaving its line commented out in its place (``# was: key: value  # comment``), so
    the user's value and comment stay readable; the comment lines that followed it (ruamel keeps them with
    the key, e.g. the header of the next section) stay after it."""
    keys_now = list(section)
    column = section.lc.key(key)[1]
    value = section[key]
    token = section.ca.items.pop(key, [None] * 3)[2]
    del section[key]
    text = token.value if token is not None else "\n"
    own, _, following = text.partition("\n")
    own = own.strip()
    was = f"{' ' * column}# was: {key}: {value}" + (f"  {own}" if own.startswith("#") else "")
    following = f"{was}  (replaced by rebalance-bot tune)\n{following}"
    previous = keys_now[keys_now.index(key) - 1]  # a key was inserted or set first, so there is one
    items = section.ca.items.setdefault(previous, [None, None, None, None])
    if items[2] is not None:
        if not items[2].value.endswith("\n"):  # a comment just added ends its line without one
            items[2].value += "\n"
        items[2].value += following
    elif token is not None:
        token.value = "\n" + following
        items[2] = token
    else:
        from ruamel.yaml.error import CommentMark
        from ruamel.yaml.tokens import CommentToken

        items[2] = CommentToken("\n" + following, CommentMark(0), None)


def yaml_plain(text: str) -> Any:
    """The plain data of a YAML text (no comments, no layout), to compare two texts' meaning."""
    import yaml

    return yaml.safe_load(text)


def _round_trip(text: str) -> Any:
    """A ruamel.yaml round-trip loader/dumper set to the file's own indentation."""
    from ruamel.yaml import YAML
    from ruamel.yaml.util import load_yaml_guess_indent

    _, sequence, offset = load_yaml_guess_indent(text)
    mapping = _mapping_indent(text)
    yaml = YAML()  # round-trip: comments, key order and quoting survive
    yaml.preserve_quotes = True
    yaml.width = 4096  # never re-wrap a long line
    yaml.indent(mapping=mapping, sequence=sequence or mapping + 2, offset=offset if offset is not None else 2)
    yaml.representer.add_representer(
        type(None), lambda r, _: r.represent_scalar("tag:yaml.org,2002:null", "null")
    )  # ``key: null`` stays ``null`` (ruamel would leave it empty)
    return yaml


def _mapping_indent(text: str) -> int:
    """Indentation of the first key nested under a top-level key (2 when there is none)."""
    parent = False
    for line in text.splitlines():
        stripped = line.lstrip()
        if not stripped or stripped.startswith("#"):
            continue
        indent = len(line) - len(stripped)
        if parent and indent > 0 and not stripped.startswith("-"):
            return indent
        parent = indent == 0 and stripped.rstrip().endswith(":")
    return 2


def _section_span(data: Any, total_lines: int) -> tuple[int, int] | None:
    """Lines ``[first, last)`` of the ``policy`` section: from its key to the next top-level key (or the
    end); None without one."""
    if SECTION not in data:
        return None
    first = data.lc.key(SECTION)[0]
    later = sorted(n for n in (data.lc.key(k)[0] for k in data) if n > first)
    return first, later[0] if later else total_lines


def _validate(text: str, path: Path) -> None:
    with tempfile.NamedTemporaryFile("w", suffix=".yaml", dir=path.parent, delete=False) as handle:
        handle.write(text)
        scratch = Path(handle.name)
    try:
        load_config(scratch)
    except ConfigError as exc:
        raise EditError("the edited config would not be valid: " + "; ".join(exc.problems)) from exc
    finally:
        scratch.unlink(missing_ok=True)


def _replace(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` atomically (a crash leaves the old file or the new one, never half)."""
    scratch = path.with_name(path.name + ".tmp")
    scratch.write_text(text, encoding="utf-8")
    os.replace(scratch, path)
