"""The fleet's shared guards on a real PostgreSQL server: one key's request budget across workers, and one
worker per household at a time."""

from __future__ import annotations

from time import monotonic

from sqlalchemy import text

from bot.fleet.lock import household_lock
from bot.fleet.ratelimit import KeyBudget, key_hash
from bot.state.db import Database


class ServerTime:
    """Steps the bucket's clock instead of sleeping: a pause moves the bucket's last refill back by as much,
    which is what the server's clock moving forward would do."""

    def __init__(self, db: Database, key_id: str) -> None:
        self.db, self.key, self.elapsed = db, key_hash(key_id), 0.0

    def sleep(self, seconds: float) -> None:
        self.elapsed += seconds
        with self.db.engine.begin() as conn:
            conn.execute(
                text(
                    "UPDATE fleet_rate_buckets SET updated_at = updated_at - make_interval(secs => :s)"
                    " WHERE key = :key"
                ),
                {"s": seconds, "key": self.key},
            )


def test_two_workers_on_one_key_send_at_most_the_limit_in_a_minute(postgres) -> None:
    db = Database(postgres.database())
    time = ServerTime(db, "PKTEST")
    started = monotonic()
    workers = [KeyBudget(db, "PKTEST", 200, sleep=time.sleep) for _ in range(2)]
    # a burst goes at once: a quarter of the limit, shared by both workers, then each token waits for refill
    for n in range(50):
        workers[n % 2].take()
    assert time.elapsed == 0.0
    sent = 50
    while True:
        workers[sent % 2].take()
        if time.elapsed > 60.0:
            break
        sent += 1
    # 200 a minute is Alpaca's limit per key: the two workers together never exceed it in the first minute
    # (the server's own clock also ran while the test did: its refills, 2.5 a second, are allowed for)
    real = monotonic() - started
    assert 195 <= sent <= 200 + 2.5 * real + 1, (sent, real)
    assert sum(w.waited for w in workers) > 59.0
    db.close()


def test_the_bucket_holds_no_key_id(postgres) -> None:
    db = Database(postgres.database())
    KeyBudget(db, "PKSECRETKEYID", 200).take()
    with db.engine.connect() as conn:
        keys = [row[0] for row in conn.execute(text("SELECT key FROM fleet_rate_buckets"))]
    assert keys == [key_hash("PKSECRETKEYID")] and "PKSECRETKEYID" not in keys[0]
    db.close()


def test_a_household_is_planned_by_one_worker_at_a_time(postgres) -> None:
    url = postgres.database()
    db, other = Database(url), Database(url)  # two workers' own engines
    with household_lock(db, "smith") as first:
        assert first
        with household_lock(other, "smith") as second, household_lock(other, "jones") as third:
            assert not second  # the second visit of smith is refused at once, not queued
            assert third  # another household is not held up
    with household_lock(other, "smith") as again:
        assert again  # released with the visit
    db.close()
    other.close()
