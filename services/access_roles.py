"""Roles and what each may see (behörighet): pure rules the UI only asks, never decides itself.

Three roles, each seeing everything the one before it sees:

* **oversikt** (översikt): Översikt and the pages of aggregate, municipality-level figures (Externa köp,
  Aktualiseringar och utredningar, Prognos), small-cell protected, without downloads;
* **enhet** (enhetsnivå): plus the pages of figures per own unit (Beläggning);
* **controller**: everything, including CSV/Excel downloads and the log review (Logguppföljning).

With sign-in on, the role comes from a claim of the identity token (`auth_role_claim`, a string or a
list of strings, e.g. groups) through `auth_role_map` (claim value -> role); several mapped values give
the highest role. A signed-in user whose claim maps to no role, or whose subject is not usable as a
pseudonymous id, gets no page, only a message. With sign-in off every user has `auth_role`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Final, Literal, get_args

from pydantic import TypeAdapter, ValidationError

from events.access import Level, Role, Subject

ROLES: Final[tuple[Role, ...]] = get_args(Role)
RANK: Final[dict[Role, int]] = {role: rank for rank, role in enumerate(ROLES)}
ROLE_SV: Final[dict[Role, str]] = {"oversikt": "Översikt", "enhet": "Enhetsnivå", "controller": "Controller"}
ANONYMOUS: Final = "anonym"  # the subject of every view while sign-in is off

PageLevel = Literal["municipality", "unit", "log"]


@dataclass(frozen=True, slots=True)
class PageRule:
    """A page of the UI: the lowest role that sees it and the level of the figures it shows."""

    key: str
    level: PageLevel
    least: Role


# In the navigation's order. `key` is the page's url path and the `view` of its access events.
PAGES: Final[tuple[PageRule, ...]] = (
    PageRule("oversikt", "municipality", "oversikt"),
    PageRule("externa-kop", "municipality", "oversikt"),
    PageRule("belaggning", "unit", "enhet"),
    PageRule("aktualiseringar", "municipality", "oversikt"),
    PageRule("prognos", "municipality", "oversikt"),
    PageRule("logguppfoljning", "log", "controller"),
)
_BY_KEY: Final = {p.key: p for p in PAGES}


def rule(page: str) -> PageRule:
    try:
        return _BY_KEY[page]
    except KeyError:
        raise ValueError(f"unknown page {page!r}; pages: {', '.join(_BY_KEY)}") from None


def may_see(role: Role, page: str) -> bool:
    return RANK[role] >= RANK[rule(page).least]


def pages_for(role: Role) -> tuple[str, ...]:
    """The pages a role sees, in navigation order (Översikt first)."""
    return tuple(p.key for p in PAGES if may_see(role, p.key))


def may_download(role: Role) -> bool:
    """CSV and Excel downloads of tables: the controller only."""
    return role == "controller"


def logged_level(page: str) -> Level | None:
    """The access-event level of a page's view; None when its figures are municipality-wide (not logged)."""
    level = rule(page).level
    return None if level == "municipality" else level


def check_role_map(mapping: Mapping[str, str]) -> None:
    """Refuse a mapping that names no known role (CASESTREAM_AUTH_ROLE_MAP), naming the entry."""
    for value, role in mapping.items():
        if role not in ROLES:
            raise ValueError(f"CASESTREAM_AUTH_ROLE_MAP: {value!r} maps to {role!r}; "
                             f"roles: {', '.join(ROLES)}")


def role_from_claims(claims: Mapping[str, object], claim: str, mapping: Mapping[str, str]) -> Role | None:
    """The highest role the claim's value(s) map to, or None (missing claim, or no value maps)."""
    value = claims.get(claim)
    values = value if isinstance(value, list | tuple) else [] if value is None else [value]
    mapped = {mapping.get(str(v)) for v in values}
    known = [r for r in ROLES if r in mapped]  # ROLES is in rank order: the last is the highest
    return known[-1] if known else None


_SUBJECT: Final = TypeAdapter(Subject)


def subject_of(claims: Mapping[str, object]) -> str | None:
    """The token's `sub` when it is usable as a pseudonymous id (no "@", no spaces, no personnummer)."""
    sub = claims.get("sub")
    if not isinstance(sub, str):
        return None
    try:
        return _SUBJECT.validate_python(sub)
    except ValidationError:
        return None


AccessState = Literal["ok", "signed_out", "unknown_role", "bad_subject"]


@dataclass(frozen=True, slots=True)
class Access:
    """Who the session is and what it may see: `role` is set when state is ok, `subject` also when the
    role is unknown."""

    state: AccessState
    sign_in: bool  # sign-in is on
    role: Role | None = None
    subject: str | None = None

    def pages(self) -> tuple[str, ...]:
        return () if self.role is None else pages_for(self.role)


def resolve(sign_in: bool, user: Mapping[str, object], *, claim: str, mapping: Mapping[str, str],
            role_when_off: Role) -> Access:
    """The session's access from the sign-in setting and the identity claims (`st.user` as a dict)."""
    if not sign_in:
        return Access("ok", False, role_when_off, ANONYMOUS)
    if not user.get("is_logged_in"):
        return Access("signed_out", True)
    subject = subject_of(user)
    if subject is None:
        return Access("bad_subject", True)
    role = role_from_claims(user, claim, mapping)
    if role is None:
        return Access("unknown_role", True, None, subject)
    return Access("ok", True, role, subject)
