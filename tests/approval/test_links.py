"""Signed approve/reject links: HMAC, expiry, binding to plan + version + action, single use, key files."""

from __future__ import annotations

import os
import stat

import pytest

from bot.approval.links import (
    LinkError,
    LinkSigner,
    Signer,
    access_token,
    approval_links,
    read_or_create_secret,
    signing_key,
)
from bot.state.store import StateStore

KEY = b"k" * 32
HASH = "ab" * 32


class Wall:
    def __init__(self, t: float = 1_000_000.0) -> None:
        self.t = t

    def __call__(self) -> float:
        return self.t


def test_a_link_verifies_and_carries_plan_version_and_action():
    signer = LinkSigner(KEY)
    claims = signer.verify(signer.sign("plan-1", HASH, "approve", 60), "plan-1", "approve")
    assert (claims.plan_id, claims.content_hash, claims.action) == ("plan-1", HASH, "approve")
    assert claims.nonce


def test_each_link_has_its_own_nonce():
    signer = LinkSigner(KEY)
    a, b = (signer.verify(signer.sign("p", HASH, "approve", 60)) for _ in range(2))
    assert a.nonce != b.nonce


@pytest.mark.parametrize("where", ["payload", "signature"])
def test_a_tampered_link_is_forged(where):
    signer = LinkSigner(KEY)
    body, signature = signer.sign("plan-1", HASH, "approve", 60).split(".")
    if where == "payload":
        other_body = LinkSigner(KEY).sign("plan-2", HASH, "approve", 60).split(".")[0]
        token = f"{other_body}.{signature}"
    else:
        token = f"{body}.{signature[:-2]}{'A' if signature[-2] != 'A' else 'B'}{signature[-1]}"
    with pytest.raises(LinkError) as caught:
        signer.verify(token)
    assert caught.value.reason == "forged"


def test_a_link_signed_with_another_key_is_forged():
    token = LinkSigner(b"x" * 32).sign("plan-1", HASH, "approve", 60)
    with pytest.raises(LinkError, match="signature"):
        LinkSigner(KEY).verify(token)


def test_a_link_expires():
    wall = Wall()
    signer = LinkSigner(KEY, wall=wall)
    token = signer.sign("plan-1", HASH, "approve", 60)
    wall.t += 59
    signer.verify(token)
    wall.t += 2
    with pytest.raises(LinkError) as caught:
        signer.verify(token)
    assert caught.value.reason == "expired"


def test_a_link_is_only_for_its_plan_and_action():
    signer = LinkSigner(KEY)
    token = signer.sign("plan-1", HASH, "reject", 60)
    for plan_id, action in (("plan-2", "reject"), ("plan-1", "approve")):
        with pytest.raises(LinkError) as caught:
            signer.verify(token, plan_id, action)
        assert caught.value.reason == "mismatch"


def test_a_token_minted_for_another_purpose_is_not_a_link():
    signer = LinkSigner(KEY)
    session = Signer(KEY).dumps("dashboard-session", {"p": "plan-1", "h": HASH, "a": "approve", "n": "x"}, 60)
    with pytest.raises(LinkError):
        signer.verify(session)


@pytest.mark.parametrize("junk", ["", "abc", "a.b", "....", "x" * 5000])
def test_malformed_tokens_are_refused(junk):
    with pytest.raises(LinkError):
        LinkSigner(KEY).verify(junk)


def test_links_are_single_use_in_the_state_database(state_target):
    with StateStore(state_target) as store:
        assert store.use_link("nonce-1", "plan-1", "approve")
        assert store.link_used("nonce-1")
        assert not store.use_link("nonce-1", "plan-1", "approve")
    with StateStore(state_target) as reopened:
        assert not reopened.use_link("nonce-1", "plan-1", "approve")
        assert not reopened.link_used("nonce-2")


def test_approval_links_point_at_confirmation_pages():
    links = approval_links(LinkSigner(KEY), "http://127.0.0.1:8780/", "rb-main-1", HASH, 60)
    assert links["approve"].startswith("http://127.0.0.1:8780/approvals/rb-main-1/approve?t=")
    assert links["reject"].startswith("http://127.0.0.1:8780/approvals/rb-main-1/reject?t=")


def test_secrets_are_generated_once_with_mode_0600(tmp_path):
    value, created = read_or_create_secret(tmp_path / "web-secret")
    assert created and len(value) >= 32
    assert stat.S_IMODE(os.stat(tmp_path / "web-secret").st_mode) == 0o600
    again, created_again = read_or_create_secret(tmp_path / "web-secret")
    assert (again, created_again) == (value, False)
    os.chmod(tmp_path / "web-secret", 0o644)
    read_or_create_secret(tmp_path / "web-secret")
    assert stat.S_IMODE(os.stat(tmp_path / "web-secret").st_mode) == 0o600


def test_the_environment_wins_over_the_files(tmp_path):
    assert (
        signing_key(tmp_path, {"REBALANCE_BOT_WEB_SECRET": "from-env-0123456789"}) == b"from-env-0123456789"
    )
    assert access_token(tmp_path, {"REBALANCE_BOT_WEB_TOKEN": "tok-0123456789abcdef"}) == (
        "tok-0123456789abcdef",
        False,
    )
    assert not (tmp_path / "web-secret").exists() and not (tmp_path / "web-token").exists()
    token, created = access_token(tmp_path, {})
    assert created and (tmp_path / "web-token").read_text().strip() == token
    assert signing_key(tmp_path, {}) == (tmp_path / "web-secret").read_text().strip().encode()
