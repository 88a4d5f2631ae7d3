import pytest

from tests.web.conftest import no_users  # noqa: F401  (the web's user tables emptied: test_users.py)


@pytest.fixture
def cli_db(db_url, monkeypatch, tmp_path):
    """`tthc` run in a temporary folder on the test database (either backend)."""
    monkeypatch.setenv("TTHC_DATABASE_URL", db_url)
    monkeypatch.setenv("TTHC_PATHS_VAR_DIR", str(tmp_path / "var"))
    monkeypatch.chdir(tmp_path)
    return db_url
