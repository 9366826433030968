"""The generator's catalogue, read from the seeded MySQL source as the pipelines' read-only user."""

from __future__ import annotations

import json
import os
from pathlib import Path

import MySQLdb

from devstack.streaming.sessions import Catalogue, Customer

HERE = Path(__file__).resolve().parent


def _statement(name: str) -> str:
    return (HERE / name).read_text()


def catalogue_from_source(conn_json: str | None = None) -> Catalogue:
    """Customers and product codes of the source that `AIRFLOW_CONN_MYSQL_SOURCE` points at (the local stack's
    environment sets it)."""
    c = json.loads(conn_json or os.environ["AIRFLOW_CONN_MYSQL_SOURCE"])
    conn = MySQLdb.connect(host=c["host"], port=int(c["port"]), user=c["login"], password=c["password"],
                           database=c["schema"], charset="utf8mb4", connect_timeout=5)
    try:
        cur = conn.cursor()
        cur.execute(_statement("select_session_customers.sql"))
        customers = [Customer(int(n), city, country, credit) for n, city, country, credit in cur.fetchall()]
        cur.execute(_statement("select_session_products.sql"))
        products = [code for (code,) in cur.fetchall()]
    finally:
        conn.close()
    return Catalogue(customers=customers, product_codes=products)
