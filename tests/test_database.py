"""The connection and the migrations."""

from __future__ import annotations

from alembic.config import Config
from alembic.script import ScriptDirectory

from backend.store.database import HEAD, MIGRATIONS, create_engine, current_revision, migrate, pending_migrations


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
