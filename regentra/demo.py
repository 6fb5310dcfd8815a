"""The offline demo: a fresh SQLite file seeded with an MSP that has work in every state."""

from __future__ import annotations

import os
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy.orm import Session

from regentra.audit.service import Actor
from regentra.clients import service as clients
from regentra.clients.schemas import ClientCreate
from regentra.config import VAR_DIR, get_settings
from regentra.db import get_engine, get_sessionmaker, session_scope
from regentra.migrate import upgrade
from regentra.models import Org, TimeEntry, User
from regentra.orgs import service as orgs
from regentra.tickets import service as tickets
from regentra.tickets.schemas import TicketCreate
from regentra.time_entries import service as entries
from regentra.time_entries.schemas import TimeEntryCreate

PASSWORD = "regentra-demo"  # noqa: S105 (the offline demo's published logins)
DEMO_DB = VAR_DIR / "demo.db"

USERS = [
    ("admin", "admin@northwind.example", "Morgan Admin"),
    ("approver", "approver@northwind.example", "Avery Approver"),
    ("technician", "taylor@northwind.example", "Taylor Tech"),
    ("technician", "jordan@northwind.example", "Jordan Tech"),
]


def use_demo_database() -> None:
    """Point this process (and the server it starts) at the demo's own SQLite file."""
    os.environ["REGENTRA_DATABASE_URL"] = f"sqlite:///{DEMO_DB}"
    get_settings.cache_clear()
    get_engine.cache_clear()
    get_sessionmaker.cache_clear()


def prepare(*, reset: bool = True) -> list[tuple[str, str, str]]:
    use_demo_database()
    if reset:
        for suffix in ("", "-wal", "-shm"):
            DEMO_DB.with_name(DEMO_DB.name + suffix).unlink(missing_ok=True)
    upgrade(get_settings().database_url)
    with session_scope() as session:
        if session.query(Org).count() == 0:
            seed(session)
    return [(role, email, PASSWORD) for role, email, _ in USERS]


def seed(session: Session) -> None:
    org, admin = orgs.create_org(
        session,
        name="Northwind IT Services",
        admin_email=USERS[0][1],
        admin_password=PASSWORD,
        admin_name=USERS[0][2],
        timezone="America/New_York",
        default_currency="USD",
        default_hourly_rate=15000,
    )
    people: dict[str, User] = {USERS[0][1]: admin}
    for role, email, name in USERS[1:]:
        people[email] = orgs.add_user(
            session,
            org_id=org.id,
            email=email,
            password=PASSWORD,
            role=role,
            name=name,
            actor=Actor.of(admin),
        )
    approver = people["approver@northwind.example"]
    taylor = people["taylor@northwind.example"]
    jordan = people["jordan@northwind.example"]
    by_admin = Actor.of(admin)
    contoso = clients.create(
        session,
        org=org,
        data=ClientCreate(name="Contoso Dental", billing_email="ap@contoso-dental.example"),
        actor=by_admin,
    )
    fabrikam = clients.create(
        session,
        org=org,
        data=ClientCreate(
            name="Fabrikam Legal",
            billing_email="billing@fabrikam-legal.example",
            hourly_rate=18500,
            compliance_enabled=True,
        ),
        actor=by_admin,
    )
    tailspin = clients.create(
        session,
        org=org,
        data=ClientCreate(
            name="Tailspin Logistics", billing_email="finance@tailspin.example", currency="EUR"
        ),
        actor=by_admin,
    )
    t = [
        tickets.create(
            session, org_id=org.id, data=TicketCreate(client_id=c.id, title=title), actor=by_admin
        )
        for c, title in (
            (contoso, "Front desk PC will not boot"),
            (contoso, "Set up new hygienist workstation"),
            (fabrikam, "Quarterly backup restore test"),
            (fabrikam, "MFA rollout for partners"),
            (tailspin, "Warehouse Wi-Fi dead spots"),
        )
    ]
    today = datetime.now(ZoneInfo(org.timezone)).date()

    def log(tech: User, ticket_idx: int, days_ago: int, minutes: int, text: str) -> TimeEntry:
        return entries.create(
            session,
            org=org,
            user=tech,
            data=TimeEntryCreate(
                ticket_id=t[ticket_idx].id,
                work_date=today - timedelta(days=days_ago),
                minutes=minutes,
                description=text,
            ),
        )

    # Drafts
    log(taylor, 0, 0, 45, "Diagnosed failed SSD, ordered replacement")
    log(jordan, 4, 0, 120, "Site survey, heat map of the warehouse")
    # Submitted, waiting for approval
    for tech, idx, ago, mins, text in (
        (taylor, 1, 1, 90, "Imaged workstation, installed practice software"),
        (jordan, 3, 1, 60, "Enrolled partners in MFA, support calls"),
        (taylor, 2, 2, 150, "Restore test of file server and SQL backups"),
    ):
        e = log(tech, idx, ago, mins, text)
        entries.submit(session, user=tech, entry_id=e.id)
    # Approved
    for tech, idx, ago, mins, text in (
        (taylor, 0, 3, 30, "Remote session: printer queue stuck"),
        (jordan, 2, 4, 75, "Verified offsite replication"),
        (jordan, 4, 5, 240, "Installed two access points"),
    ):
        e = log(tech, idx, ago, mins, text)
        entries.submit(session, user=tech, entry_id=e.id)
        entries.approve(session, org=org, user=approver, entry_id=e.id)
    # Rejected
    e = log(taylor, 3, 6, 480, "MFA rollout")
    entries.submit(session, user=taylor, entry_id=e.id)
    entries.reject(
        session,
        org=org,
        user=approver,
        entry_id=e.id,
        reason="8 hours looks high for this ticket: split it by day and add detail",
    )
