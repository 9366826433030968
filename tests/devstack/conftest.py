"""TEMPORARY (seed developer only): private MariaDB on 3399. Delete before handing over."""

import pytest


@pytest.fixture(scope="session")
def source_db_admin() -> dict[str, object]:
    return {"host": "127.0.0.1", "port": 3399, "user": "root", "password": "seedpw"}
