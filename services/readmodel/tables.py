"""Read-model tables: one fact table per projection (`rm_<projection>`), positions, generations, relay.

`rm_<projection>` holds one row per event that changes that projection's state (a placement fact, a
capacity fact, an aktualisering, a retraction ...), keyed by its store position (1:1 with the event
id), so writing a row twice changes nothing. The row carries the event's canonical JSON (the fact's
source) plus `recorded_us` (recorded_at in UTC microseconds, for "as known at"), `partition` and
`type`. `source.py` rebuilds `projections.bundle.State` from these rows with the same pure folds.
`projection_position` keeps, per projection and partition, the highest store position applied (and
the Kafka offset, only a resume hint). `rm_generation` names the live generation of each projection
(`casestream rebuild` fills a new one and switches the pointer). `relay_position` is the relay's
published position; `pipeline_key` the key the relay signs messages with (`services.kafka.signing`).
"""

from __future__ import annotations

from typing import Any, Final

from sqlalchemy import BigInteger, Column, Integer, LargeBinary, MetaData, String, Table, inspect, select
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError, OperationalError, ProgrammingError
from sqlmodel import Field, SQLModel

PROJECTIONS: Final = ("care_costs", "occupancy", "intake", "investigations", "budget", "ekb", "workload")

# The fact row's columns, in order. Only what a reader uses: the key, `recorded_us` ("as known at"),
# the body (the fact itself, folded by `source.py`); `partition` and `type` for inspection. Event id,
# stream and business day are in the body: as columns they cost ~2 µs of the worker's ~40 per event
# (building them, binding them) and no reader used them.
FACT_COLUMNS: Final = ("position", "partition", "type", "recorded_us", "body")

facts_metadata = MetaData()  # the per-generation fact tables, built on demand (kept off SQLModel.metadata)


class ProjectionPosition(SQLModel, table=True):
    __tablename__ = "projection_position"

    projection: str = Field(primary_key=True, max_length=40)
    partition: int = Field(primary_key=True)
    position: int = Field(default=0, sa_type=BigInteger)  # highest store position applied from this partition
    offset: int = Field(default=-1, sa_type=BigInteger)  # Kafka offset of the last applied: a resume hint
    events: int = 0  # messages applied from this partition (all types)


class ReadModelGeneration(SQLModel, table=True):
    __tablename__ = "rm_generation"

    projection: str = Field(primary_key=True, max_length=40)
    generation: int = 0


class RelayPosition(SQLModel, table=True):
    __tablename__ = "relay_position"

    topic: str = Field(primary_key=True, max_length=200)
    position: int = 0  # highest store position acknowledged by the broker


class PipelineKey(SQLModel, table=True):
    """The key the relay signs case-events messages with (one row, created at first use)."""

    __tablename__ = "pipeline_key"

    name: str = Field(primary_key=True, max_length=40)
    key_hex: str = Field(max_length=128)  # random 32 bytes, hex


def fact_table_name(projection: str, generation: int) -> str:
    if projection not in PROJECTIONS:
        raise ValueError(f"unknown projection {projection!r}; choose one of {', '.join(PROJECTIONS)}")
    return f"rm_{projection}" if generation == 0 else f"rm_{projection}_g{generation}"


def fact_table(projection: str, generation: int = 0) -> Table:
    name = fact_table_name(projection, generation)
    if name in facts_metadata.tables:
        return facts_metadata.tables[name]
    return Table(
        name,
        facts_metadata,
        # The store position is an event's identity in the pipeline (CONVENTIONS §5): as the INTEGER
        # PRIMARY KEY it is SQLite's rowid, so inserts append to one B-tree in (nearly) key order.
        # BIGINT like the store's position (SQLite: INTEGER, the 64-bit rowid).
        Column(
            "position", BigInteger().with_variant(Integer(), "sqlite"), primary_key=True, autoincrement=False
        ),
        Column("partition", Integer, nullable=False),
        Column("type", String(60), nullable=False),
        Column("recorded_us", BigInteger, nullable=True),  # recorded_at as UTC microseconds since 1970
        Column("body", LargeBinary, nullable=False),
    )


CONTROL_TABLES: Final = (ProjectionPosition, ReadModelGeneration, RelayPosition, PipelineKey)


class OldLayout(RuntimeError):
    """The read-model database has fact tables of an earlier column layout."""


def check_layout(engine: Engine, name: str) -> None:
    """A clear error when an existing fact table has other columns than `FACT_COLUMNS`."""
    found = {c["name"] for c in inspect(engine).get_columns(name)}
    if found != set(FACT_COLUMNS):
        raise OldLayout(
            f"read-model table {name} has the columns {sorted(found)}, this version writes "
            f"{list(FACT_COLUMNS)}: run `casestream rebuild all` (it fills new tables from the store), "
            "or delete the read-model database (it is rebuilt from the store)"
        )


def create_all(engine: Engine) -> None:
    """Create the control tables and the live generation's fact tables (idempotent). Processes that
    start together (the demo's worker, exporter and UI) may create them at once: a table another one
    created between the check and the CREATE, or a generation row it inserted, is taken as made."""
    for model in CONTROL_TABLES:
        _create(model.__table__, engine)  # type: ignore[union-attr]
    for projection in PROJECTIONS:
        _create(fact_table(projection, 0), engine)
    gen = ReadModelGeneration.__table__  # type: ignore[attr-defined]
    for attempt in (1, 2):
        try:
            with engine.begin() as conn:  # one row per projection, so writers can lock it (PostgreSQL)
                known = set(conn.execute(select(gen.c.projection)).scalars())
                missing = [{"projection": p, "generation": 0} for p in PROJECTIONS if p not in known]
                if missing:
                    conn.execute(gen.insert(), missing)
            return
        except IntegrityError:  # another process inserted them meanwhile: read them again
            if attempt == 2:
                raise


def _create(table: Any, engine: Engine) -> None:
    try:
        table.create(engine, checkfirst=True)
    except (OperationalError, ProgrammingError, IntegrityError) as exc:  # made meanwhile, or a real error
        if not inspect(engine).has_table(table.name):  # not another process's CREATE: a real error
            raise exc from None
