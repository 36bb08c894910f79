"""Live events after the history: new cases and their next steps, placements starting and ending.

`LiveFeed.tick()` returns the next event(s) with `occurred_at` = today and `recorded_at` = now (the
clock is passed in). The mix keeps levels steady: about as many placements end as start, and each
new aktualisering is followed, a few ticks later, by its förhandsbedömning and for a share an
utredning. Live ids carry a run tag drawn from the feed's own random source (`c-live3fa2-1880-…`),
so a second live run never reuses a stream or event id of the first.
"""

from __future__ import annotations

import random
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from events.timeutil import local_date
from services.simulator.calibration import Calibration
from services.simulator.core import Context, Raw
from services.simulator.placements import line_spec

Step = tuple[str, dict[str, Any]]


@dataclass
class LiveFeed:
    cal: Calibration
    municipality: str
    rng: random.Random
    clock: Callable[[], datetime]
    running: list[str] = field(default_factory=list)  # placement ids that may end
    pending: deque[Step] = field(default_factory=deque)
    ctx: Context = field(init=False)
    tag: str = field(init=False)

    def __post_init__(self) -> None:
        today = local_date(self.clock())
        self.ctx = Context(self.cal, self.rng, self.municipality, today, today)
        self.tag = f"live{self.rng.getrandbits(16):04x}"

    def _emit(self, etype: str, stream: str, data: dict[str, Any], version: int = 1) -> Raw:
        now = self.clock()
        event = self.ctx.emit(etype, stream, local_date(now), data, now, version)
        self.ctx.timeline.heap.clear()  # live events go out at once; nothing waits
        return event

    def tick(self) -> Raw:
        r = self.rng.random()
        if self.pending and r < 0.45:
            kind, args = self.pending.popleft()
            return self._follow(kind, args)
        if r < 0.92 or not self.running:
            return self._new_case()
        if r < 0.96:
            return self._start_placement()
        return self._end_placement()

    def _new_case(self) -> Raw:
        tg = self.ctx.pick(self.cal.intake["target_group_shares"])
        person = self.ctx.new_id(f"p-{self.tag}")
        case = self.ctx.new_id(f"c-{self.tag}")
        sex = "female" if self.rng.random() < self.cal.female_share else "male"
        channel = self.ctx.pick(self.cal.intake["channel_shares"])
        self.pending.append(("assess", {"case": case, "person": person, "tg": tg}))
        return self._emit("case.actualised", case, {"person": person, "channel": channel, "target_group": tg,
                                                    "sex": sex})

    def _follow(self, kind: str, args: dict[str, Any]) -> Raw:
        case = args["case"]
        if kind == "assess":
            investigate = self.rng.random() < 0.3
            self.pending.append(("open", args) if investigate else ("close", args))
            outcome = "investigation" if investigate else "no_investigation"
            return self._emit("assessment.completed", case, {"outcome": outcome, "target_group": args["tg"]})
        if kind == "open":
            inv = self.ctx.new_id(f"u-{self.tag}")
            data = {"investigation_id": inv, "person": args["person"], "target_group": args["tg"]}
            return self._emit("investigation.opened", case, data)
        return self._emit("case.closed", case, {"reason": "no_investigation"})

    def _start_placement(self) -> Raw:
        lines = [ln for ln in self.cal.lines if ln.price_unit == "day" and ln.mean_days > 0]
        spec = line_spec(self.ctx, self.rng.choice(lines))
        pid, person = self.ctx.new_id(f"pl-{self.tag}"), self.ctx.new_id(f"p-{self.tag}")
        return self._emit("placement.started", pid, {
            "placement_id": pid, "person": person, "category": spec.category, "regime": spec.regime,
            "target_group": spec.target_group, "legal_basis": spec.legal_basis, "sex": "unknown",
            "price_sek": spec.price_sek, "price_unit": spec.price_unit}, version=2)

    def _end_placement(self) -> Raw:
        pid = self.running.pop(self.rng.randrange(len(self.running)))
        return self._emit("placement.ended", pid, {"placement_id": pid, "reason": "planned"})



def run_live(feed: LiveFeed, write: Callable[[list[Raw]], None], rate: float,
             should_stop: Callable[[], bool], tick_seconds: float = 0.2) -> int:
    """Produce `rate` events per second in small batches until `should_stop()`; returns the count."""
    sent, began = 0, time.monotonic()
    while not should_stop():
        due = int((time.monotonic() - began) * rate) - sent
        if due > 0:
            write([feed.tick() for _ in range(due)])
            sent += due
        time.sleep(tick_seconds)
    return sent
