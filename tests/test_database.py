"""The connection and the migrations."""

from __future__ import annotations

import threading
from typing import Any

import sqlalchemy as sa
from alembic.config import Config
from alembic.script import ScriptDirectory

from backend import ratelimit
from backend.store.database import (
    HEAD, MIGRATIONS, Database, create_engine, current_revision, migrate, pending_migrations,
)
from backend.store.tables import rate_events


def test_head_names_the_newest_migration():
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    assert ScriptDirectory.from_config(config).get_current_head() == HEAD


def test_a_new_database_is_migrated_to_head(tmp_path):
    engine = create_engine(f"sqlite:///{tmp_path / 'new.db'}")
    assert current_revision(engine) is None and pending_migrations(engine)
    migrate(engine)
    assert current_revision(engine) == HEAD and not pending_migrations(engine)
    migrate(engine)
    assert current_revision(engine) == HEAD
    engine.dispose()


def test_sqlite_folders_are_created(tmp_path):
    engine = create_engine(f"sqlite:///{tmp_path / 'a' / 'b' / 'porch.db'}")
    migrate(engine)
    assert (tmp_path / "a" / "b" / "porch.db").is_file()
    engine.dispose()


def test_processes_starting_together_on_a_new_database_all_migrate(database_url):
    # Several backends behind a load balancer start at once after a release; none may fail.
    engines = [create_engine(database_url) for _ in range(4)]
    barrier = threading.Barrier(len(engines))
    failures: list[BaseException] = []

    def start(engine: Any) -> None:
        barrier.wait()
        try:
            migrate(engine)
        except BaseException as error:  # noqa: BLE001 - reported below, with the engine's store
            failures.append(error)

    threads = [threading.Thread(target=start, args=(engine,)) for engine in engines]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert failures == []
    assert all(current_revision(engine) == HEAD for engine in engines)
    for engine in engines:
        engine.dispose()


def test_concurrent_writers_in_one_process_all_commit(database_url):
    # SQLite writers of one process queue on a lock instead of SQLite's sleeping busy handler.
    engine = create_engine(database_url)
    migrate(engine)
    database = Database(engine)
    barrier = threading.Barrier(16)

    def write(n: int) -> None:
        barrier.wait()
        database.run(lambda conn: ratelimit.record(conn, n, "test"))

    threads = [threading.Thread(target=write, args=(n,)) for n in range(16)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    count = sa.select(sa.func.count()).select_from(rate_events)
    assert database.run(lambda conn: conn.execute(count).scalar(), write=False) == 16
    engine.dispose()
