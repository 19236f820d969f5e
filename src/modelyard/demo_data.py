"""The demo's data: a small SQLite warehouse of subscribers and their activity, an admin's
connection to it, and three described datasets granted to the `churn` project.

The data is generated (seeded, so every demo is the same) with the effects a churn model
should find: month-to-month contracts, short tenure, high charges and many support calls
raise the chance to churn. Idempotent: loading it twice changes nothing.
"""

from __future__ import annotations

import sqlite3
from datetime import date, datetime, timedelta
from pathlib import Path

import numpy as np
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from modelyard.accounts.actors import Actor
from modelyard.accounts.service import find_user
from modelyard.accounts.tables import UserRow
from modelyard.config import Settings
from modelyard.data import connections, profiles
from modelyard.data import service as datasets
from modelyard.data.keys import secret_box
from modelyard.data.schemas import ColumnDoc, ConnectionCreate, DatasetCreate
from modelyard.data.tables import DatasetRow

CUSTOMERS = 5_000
AS_OF = date(2026, 11, 1)
COUNTRIES = ["DE", "FR", "NL", "ES", "IT", "PL"]
CONTRACTS = ["month-to-month", "one-year", "two-year"]

ACTIVITY_QUERY = """SELECT c.customer_id, c.contract, c.tenure_months, c.monthly_charges,
       c.support_calls,
       SUM(CASE WHEN e.kind = 'login' THEN 1 ELSE 0 END) AS logins_90d,
       SUM(CASE WHEN e.kind = 'support_call' THEN 1 ELSE 0 END) AS support_calls_90d,
       COALESCE(SUM(CASE WHEN e.kind = 'payment' THEN e.amount END), 0) AS paid_90d,
       c.churned
FROM customers AS c
LEFT JOIN events AS e
  ON e.customer_id = c.customer_id AND e.at >= '2026-08-03'
GROUP BY c.customer_id, c.contract, c.tenure_months, c.monthly_charges, c.support_calls,
         c.churned"""


def generate_warehouse(path: Path, seed: int = 7) -> None:
    """Write the demo warehouse: `customers` (one row each) and `events` (their activity)."""
    rng = np.random.default_rng(seed)
    contract = rng.choice(3, CUSTOMERS, p=[0.55, 0.25, 0.20])
    tenure = np.clip(rng.gamma(2.0, 14.0, CUSTOMERS).astype(int) + 1, 1, 72)
    charges = np.round(rng.uniform(19.0, 119.0, CUSTOMERS), 2)
    calls = rng.poisson(0.8 + 1.2 * (charges > 90), CUSTOMERS)
    logit = 0.2 - 1.3 * contract - 0.045 * tenure + 0.018 * (charges - 70) + 0.45 * calls
    churned = rng.random(CUSTOMERS) < 1 / (1 + np.exp(-logit))
    country = rng.choice(len(COUNTRIES), CUSTOMERS, p=[0.3, 0.2, 0.15, 0.15, 0.12, 0.08])
    customers = []
    for i in range(CUSTOMERS):
        signup = AS_OF - timedelta(days=int(tenure[i]) * 30 + int(rng.integers(0, 30)))
        customers.append(
            (
                f"C{i + 1:05d}",
                f"customer{i + 1}@example.com",
                COUNTRIES[country[i]],
                signup.isoformat(),
                CONTRACTS[contract[i]],
                int(tenure[i]),
                float(charges[i]),
                int(calls[i]),
                int(churned[i]),
            )
        )
    events = []
    start = datetime(2026, 5, 5)
    for i, row in enumerate(customers):
        active = 0.3 if churned[i] else 1.0
        kinds = ["login"] * int(rng.poisson(12 * active)) + ["support_call"] * int(calls[i])
        kinds += ["payment"] * 6
        if rng.random() < 0.05:
            kinds.append("plan_change")
        for kind in kinds:
            at = start + timedelta(minutes=int(rng.integers(0, 180 * 24 * 60)))
            amount = float(charges[i]) if kind == "payment" else None
            events.append((row[0], at.isoformat(sep=" "), kind, amount))
    events.sort(key=lambda e: e[1])
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.unlink(missing_ok=True)
    with sqlite3.connect(tmp) as db:
        db.execute(
            "CREATE TABLE customers (customer_id TEXT PRIMARY KEY, email TEXT, country TEXT, "
            "signup_date TEXT, contract TEXT, tenure_months INTEGER, monthly_charges REAL, "
            "support_calls INTEGER, churned INTEGER)"
        )
        db.executemany("INSERT INTO customers VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)", customers)
        db.execute(
            "CREATE TABLE events (event_id INTEGER PRIMARY KEY, customer_id TEXT, at TEXT, "
            "kind TEXT, amount REAL)"
        )
        db.executemany(
            "INSERT INTO events (customer_id, at, kind, amount) VALUES (?, ?, ?, ?)", events
        )
        db.execute("CREATE INDEX events_customer ON events (customer_id, at)")
    db.close()
    tmp.replace(path)


def _datasets(owner: str) -> list[DatasetCreate]:
    doc = ColumnDoc
    return [
        DatasetCreate(
            name="customers",
            connection="warehouse",
            table="customers",
            owner=owner,
            tags=["churn", "customers", "gold"],
            grants=["churn"],
            description=(
                "One row per subscriber as of 2026-11-01, from the billing system.\n\n"
                "- `churned` is 1 when the customer cancelled within 30 days of that date.\n"
                "- About a quarter of customers churn, so accuracy alone flatters a model.\n"
                "- Refreshed nightly; ask **mentor** about anything odd."
            ),
            columns={
                "customer_id": doc(description="stable id, also used in `events`"),
                "email": doc(description="contact address", pii=True),
                "country": doc(description="billing country (ISO 3166 alpha-2)"),
                "signup_date": doc(description="first day of the subscription"),
                "contract": doc(description="month-to-month, one-year or two-year"),
                "tenure_months": doc(description="whole months subscribed"),
                "monthly_charges": doc(description="current monthly bill, EUR"),
                "support_calls": doc(description="support calls in the last 12 months"),
                "churned": doc(description="1 = cancelled within 30 days (the label)"),
            },
        ),
        DatasetCreate(
            name="events",
            connection="warehouse",
            table="events",
            owner=owner,
            tags=["churn", "events", "raw"],
            grants=["churn"],
            description=(
                "Everything subscribers did in the last 180 days: logins, support calls, "
                "payments and plan changes, one row per event."
            ),
            columns={
                "customer_id": doc(description="joins to `customers`"),
                "at": doc(description="when it happened (UTC)"),
                "kind": doc(description="login, support_call, payment or plan_change"),
                "amount": doc(description="EUR, for payments only"),
            },
        ),
        DatasetCreate(
            name="customer-activity",
            connection="warehouse",
            query=ACTIVITY_QUERY,
            owner=owner,
            tags=["churn", "features"],
            grants=["churn"],
            description=(
                "Training features: each customer with their activity over the 90 days "
                "before 2026-11-01 (logins, support calls, payments) and the churn label."
            ),
        ),
    ]


def load_demo_data(factory: sessionmaker[Session], settings: Settings) -> None:
    path = settings.home / "demo" / "warehouse.sqlite"
    if not path.exists():
        generate_warehouse(path)
    box = secret_box(settings)
    with factory() as session:
        admin = session.scalars(
            select(UserRow).where(UserRow.is_admin).order_by(UserRow.id)
        ).first()
        if admin is None:
            raise RuntimeError("the demo needs an admin; run ensure_admin first")
        system = Actor.of(admin, "system")
        if connections.find_connection(session, "warehouse") is None:
            connections.create_connection(
                session,
                system,
                box,
                ConnectionCreate(
                    name="warehouse",
                    kind="sqlite",
                    description="The demo's data warehouse (a SQLite file in the home folder).",
                    settings={"path": str(path)},
                ),
            )
        owner = "mentor" if find_user(session, "mentor") else admin.username
        for data in _datasets(owner):
            if session.scalar(select(DatasetRow.id).where(DatasetRow.name == data.name)) is None:
                datasets.create_dataset(session, system, box, data)
                profiles.refresh_profile(session, system, box, data.name)
