"""Access events: who looked at what, and when (åtkomstloggning, for the monthly logguppföljning).

`access.viewed` — visning: one view of unit-level or case-level figures in the UI, one run of a
raw-figure report (`casestream report`, no small-cell protection) or one view of the log review itself.
Who is the user's *subject*: the pseudonymous `sub` claim of the sign-in token (never a name or an
e-mail address: a subject with `@` or a personnummer is refused), or `local:<login>` for a command
run on the server, or `anonym` when sign-in is switched off. When is the envelope's `occurred_at`
(an instant; `recorded_at` equals it). Stream: `access:<YYYY-MM>`, the Stockholm month of the view,
so a month's log review reads one stream. No projection reads these events; no figure is logged.
"""

from __future__ import annotations

from datetime import date
from typing import Annotated, Literal

from pydantic import AfterValidator, Field, model_validator

from events.base import EventData, Identifier
from events.privacy import find_personnummer

Role = Literal["oversikt", "enhet", "controller"]
Level = Literal["unit", "case", "raw", "log"]
Channel = Literal["ui", "cli"]


def _pseudonymous(value: str) -> str:
    if find_personnummer(value) is not None:
        raise ValueError("looks like a Swedish personnummer; the subject must be a pseudonymous id")
    return value


# Printable ASCII without spaces or "@": an OIDC `sub` (opaque), never a name or an e-mail address.
Subject = Annotated[
    str, Field(min_length=1, max_length=255, pattern=r"^[A-Za-z0-9][A-Za-z0-9_.:|/+=~-]*$"),
    AfterValidator(_pseudonymous),
]
ViewName = Annotated[str, Field(min_length=1, max_length=80, pattern=r"^[a-z][a-z0-9_.:-]*$")]
SessionToken = Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_-]+$")]


class AccessViewed(EventData):
    """Visning: a user saw unit-level or case-level figures, raw report figures, or the access log."""

    TYPE = "access.viewed"
    subject: Subject = Field(description="who: the pseudonymous subject (`sub` claim), `local:<login>` "
                             "or `anonym` (sign-in off); never a name or an e-mail address")
    role: Role = Field(description="the role the view was shown under: oversikt, enhet or controller")
    view: ViewName = Field(description="what: the page or report, e.g. `belaggning`, `report:occupancy`")
    level: Level = Field(description="unit (per own unit), case (per case), raw (unprotected report "
                         "figures) or log (the log review)")
    channel: Channel = Field(default="ui", description="ui (Streamlit) or cli (`casestream report`)")
    unit_id: Identifier | None = Field(default=None, description="the unit viewed, when one was chosen")
    period_start: date | None = Field(default=None, description="first day of the business period shown")
    period_end: date | None = Field(default=None, description="last day of the business period shown")
    known_at: date | None = Field(default=None, description="the as-known-at / as-reported-on day, if any")
    session: SessionToken | None = Field(default=None, description="opaque id of the UI session")

    @model_validator(mode="after")
    def _period_in_order(self) -> AccessViewed:
        if (self.period_start is None) != (self.period_end is None):
            raise ValueError("period_start and period_end go together")
        start, end = self.period_start, self.period_end
        if start is not None and end is not None and end < start:
            raise ValueError(f"period_end {self.period_end} is before period_start {self.period_start}")
        return self
