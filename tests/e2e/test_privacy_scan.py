"""No id of a demo run leaves through /metrics, the UI or the report downloads (issue 9).

One simulated month of the demo's municipality (the simulator the demo uses, `CASESTREAM_TEST_SCALE`
small: about 6 700 events) goes into a SQLite store; the embedded broker, the relay and a worker (the
pipeline test kit) project it and the exporter runs as its own process. Then everything a user or a
scraper can see is collected:

* every /metrics endpoint (exporter, relay, worker): the raw text, and every family, label value and
  sample value as parsed by prometheus-client;
* every UI page (every module of ui/views/) run by Streamlit's AppTest: every string of every element
  (markdown, captions, tiles, titles, chart specs) and every cell of every Arrow table the page sends
  (dataframes and chart data), plus the bytes of every CSV / Excel download the pages offer (recorded
  on the way through `ui.context.csv_bytes` / `xlsx_bytes`, which still build them);
* every report as `casestream report --format csv` and `--format json` write it (`services.render`).

The ids are derived from the event models, not listed by hand: every value of a field typed `UUID`,
`PersonId`, `Identifier` or `StreamId` (envelope and payload, nested models included) of every event in
the store at the end. Public by design and so not scanned: `unit_id`, the own units' ids, which the
metrics label `unit` and the per-unit tables show (docs/metrics.md "Labels and privacy"). A text leaks an
id when one of its tokens (a maximal run of id characters, also with edge punctuation stripped and split
at ':' and '/') equals one. The scanner is shown to work: one id planted in a copy of the collected
text, or as a label value of a scrape, is found.
"""

from __future__ import annotations

import io
import random
import re
import types
import typing
import urllib.request
import zipfile
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any
from uuid import UUID

import pyarrow as pa
import pytest
from google.protobuf.descriptor import FieldDescriptor
from google.protobuf.message import Message
from prometheus_client.parser import text_string_to_metric_families
from pydantic import BaseModel
from streamlit.testing.v1 import AppTest

from events.base import Identifier, PersonId
from events.envelope import Event, StreamId
from events.timeutil import Period
from services.kafka.broker import EmbeddedBroker
from services.metrics.exporter import exporter_argv
from services.readmodel.persist import open_readmodel
from services.render import to_csv, to_json
from services.reports import REPORT_NAMES, bundle_from_store, report_from_bundle
from services.settings import Settings
from services.simulator.history import Simulation, SimulationConfig
from services.simulator.sinks import load_store
from services.store import open_store
from tests.integration.pipeline_kit import SCALE, Pipeline, caught_up, wait_for
from tests.integration.test_prometheus_exporter import free_port

ROOT = Path(__file__).resolve().parents[2]
APP = ROOT / "ui" / "app.py"
VIEWS = sorted(p.relative_to(APP.parent).as_posix() for p in (APP.parent / "views").glob("*.py"))
AS_OF = date(2021, 8, 31)
ID_TYPES: tuple[object, ...] = (UUID, PersonId, Identifier, StreamId)
PUBLIC_ID_FIELDS = frozenset({"unit_id"})  # own units: the `unit` label and the per-unit tables
TOKEN = re.compile(r"[A-Za-z0-9_.:/-]+")


# --- the ids, from the event models -----------------------------------------------------------------

def _is_id_type(hint: object, kinds: tuple[object, ...]) -> bool:
    if typing.get_origin(hint) in (typing.Union, types.UnionType):
        return any(_is_id_type(arg, kinds) for arg in typing.get_args(hint) if arg is not type(None))
    return any(hint is t or hint == t for t in kinds)


def _ids_of(model: BaseModel, kinds: tuple[object, ...] = ID_TYPES) -> Iterator[str]:
    """The values of the model's fields typed as one of `kinds` (nested models too), public ones aside."""
    hints = typing.get_type_hints(type(model), include_extras=True)
    for name in type(model).model_fields:
        value = getattr(model, name)
        if value is None or name in PUBLIC_ID_FIELDS:
            continue
        if _is_id_type(hints.get(name), kinds):
            yield str(value)
        for nested in value if isinstance(value, list | tuple) else [value]:
            if isinstance(nested, BaseModel):
                yield from _ids_of(nested, kinds)


def ids_in(events: Iterable[Event]) -> set[str]:
    """Every id of the events: envelope (event_id, stream_id) and payload fields of an id type."""
    found: set[str] = set()
    for event in events:
        found |= {str(event.event_id), event.stream_id, *_ids_of(event.data)}
    return found


# --- the scanner -------------------------------------------------------------------------------------

def tokens(text: str) -> set[str]:
    out: set[str] = set()
    for run in TOKEN.findall(text):
        out |= {run, run.strip("._:/-"), *re.split(r"[:/]", run)}
    return out


def leaks(texts: Iterable[str], ids: set[str]) -> set[str]:
    found: set[str] = set()
    for text in texts:
        found |= tokens(text) & ids
    return found


def metrics_texts(raw: str) -> list[str]:
    """The raw scrape and every name, label value and sample value prometheus-client parses from it."""
    out = [raw]
    for family in text_string_to_metric_families(raw):
        out += [family.name, family.documentation]
        for sample in family.samples:
            out += [sample.name, repr(sample.value), *sample.labels.values()]
    return out


# --- what the UI sends ---------------------------------------------------------------------------------

def _arrow_cells(data: bytes) -> list[str] | None:
    try:
        table = pa.ipc.open_stream(pa.py_buffer(data)).read_all()
    except (pa.ArrowInvalid, OSError):
        return None
    cells = [str(name) for name in table.column_names]
    for column in table.columns:
        cells += [str(v) for v in column.to_pylist()]
    return cells


def proto_texts(message: Message) -> Iterator[str]:
    """Every string of a message, recursively; bytes as Arrow table cells when they are Arrow IPC."""
    for fd, value in message.ListFields():
        values = [value] if isinstance(value, str | bytes | Message | int | float) else list(value)
        for item in values:
            if fd.type == FieldDescriptor.TYPE_MESSAGE:
                yield from proto_texts(item)
            elif fd.type == FieldDescriptor.TYPE_STRING:
                yield item
            elif fd.type == FieldDescriptor.TYPE_BYTES:
                cells = _arrow_cells(item)
                yield from cells if cells is not None else [item.decode("latin-1")]


def xlsx_texts(data: bytes) -> list[str]:
    with zipfile.ZipFile(io.BytesIO(data)) as book:
        return [book.read(name).decode("utf-8", "replace") for name in book.namelist()]


@dataclass
class Downloads:
    """The download buttons' bytes, recorded while `ui.context` builds them (the real functions run)."""

    texts: list[str] = field(default_factory=list)

    def csv(self, real: Callable[[Any], bytes]) -> Callable[[Any], bytes]:
        def record(view: Any) -> bytes:
            data = real(view)
            self.texts.append(data.decode("utf-8-sig"))
            return data
        return record

    def xlsx(self, real: Callable[[Any], bytes]) -> Callable[[Any], bytes]:
        def record(view: Any) -> bytes:
            data = real(view)
            self.texts.extend(xlsx_texts(data))
            return data
        return record


# --- the run -------------------------------------------------------------------------------------------

@dataclass
class Seen:
    metrics: dict[str, str]
    ui: dict[str, list[str]]
    downloads: list[str]
    reports: list[str]
    ids: set[str]
    persons: set[str]
    units: set[str]
    unit_names: set[str]


def demo_history(seed: int = 9) -> Iterator[dict[str, Any]]:
    """The demo municipality up to the reference day: one simulated month at the small scale (the demo's)."""
    first = {"medium": date(2021, 6, 1), "large": date(2021, 1, 1)}.get(SCALE, date(2021, 8, 1))
    config = SimulationConfig(start_year=2021, years=1, start=first,
                              until=datetime(2021, 8, 31, 22, tzinfo=UTC))
    return Simulation(config, random.Random(seed)).events()


def fetch(port: int) -> str:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=30) as response:
        return str(response.read().decode("utf-8"))


def scrape_all(pipe: Pipeline, store_url: str) -> dict[str, str]:
    ports = {"exporter": free_port(), "relay": free_port(), "worker": free_port()}
    pipe._proc("exporter", exporter_argv(Settings(db=store_url, metrics_as_of=AS_OF), port=ports["exporter"]))
    pipe.relay("--metrics-port", str(ports["relay"]))
    pipe.worker(0, "--metrics-port", str(ports["worker"]))
    store = open_store(store_url)
    head = store.head()
    store.close()
    engine = open_readmodel(pipe.readmodel_url)
    try:
        wait_for(caught_up(engine, head), 180, "the worker to project the demo month", pipe)
    finally:
        engine.dispose()
    wanted = {"exporter": "casestream_unit_occupancy_accumulated_ratio{",
              "relay": "casestream_events_published_total ", "worker": "casestream_events_projected_total{"}
    out: dict[str, str] = {}
    for name, port in ports.items():
        wait_for(lambda n=name, p=port: wanted[n] in _try_fetch(p), 60, f"the {name}'s /metrics", pipe)
        out[name] = fetch(port)
    return out


def _try_fetch(port: int) -> str:
    try:
        return fetch(port)
    except OSError:
        return ""


def render_pages(monkeypatch: pytest.MonkeyPatch, store_url: str, var: Path) -> tuple[dict[str, list[str]],
                                                                                       list[str]]:
    from ui import context

    downloads = Downloads()
    monkeypatch.setattr(context, "csv_bytes", downloads.csv(context.csv_bytes))
    monkeypatch.setattr(context, "xlsx_bytes", downloads.xlsx(context.xlsx_bytes))
    monkeypatch.setenv("CASESTREAM_DB", store_url)
    monkeypatch.setenv("CASESTREAM_VAR_DIR", str(var))
    monkeypatch.setenv("CASESTREAM_FORECAST_SIMULATIONS", "200")
    app = AppTest.from_file(str(APP), default_timeout=120).run()
    pages: dict[str, list[str]] = {}
    for path in VIEWS:
        app.switch_page(path).run()
        assert not app.exception, (path, [e.value for e in app.exception])
        pages[path] = [text for node in app._tree if getattr(node, "proto", None) is not None
                       for text in proto_texts(node.proto)]
    return pages, downloads.texts


def report_texts(store_url: str) -> list[str]:
    store = open_store(store_url)
    try:
        state = bundle_from_store(store)
    finally:
        store.close()
    out = []
    for name in REPORT_NAMES:
        report = report_from_bundle(state, name, Period(date(2021, 1, 1), AS_OF), Settings())
        out += [to_csv(report), to_json(report).decode()]
    return out


@pytest.fixture(scope="module")
def seen(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Seen]:
    tmp = tmp_path_factory.mktemp("privacy")
    monkeypatch = pytest.MonkeyPatch()
    with EmbeddedBroker(tmp / "broker.log") as broker:
        pipe = Pipeline(tmp, broker.bootstrap, extra_env={"CASESTREAM_FORECAST_SIMULATIONS": "200"})
        store = open_store(pipe.store_url)
        loaded = load_store(store, demo_history())
        assert loaded.accepted > 1000 and not loaded.conflicts
        store.close()
        try:
            metrics = scrape_all(pipe, pipe.store_url)
            ui, downloads = render_pages(monkeypatch, pipe.store_url, tmp / "var")
        finally:
            monkeypatch.undo()
            pipe.stop_all()
    store = open_store(pipe.store_url)
    try:
        events = list(store.read_all())
    finally:
        store.close()
    persons = {p for e in events for p in _ids_of(e.data, (PersonId,))}
    units = {str(u) for e in events if (u := getattr(e.data, "unit_id", None)) is not None}
    names = {e.data.name for e in events if e.type == "unit.capacity_set"}  # type: ignore[attr-defined]
    yield Seen(metrics, ui, downloads, report_texts(pipe.store_url), ids_in(events), persons, units, names)


def test_the_ids_come_from_the_event_models(seen: Seen) -> None:
    kinds = {re.sub(r"\d+", "N", re.sub(r"^[0-9a-f]{8}-[0-9a-f-]{27}$", "uuid", i)) for i in seen.ids}
    assert {"uuid", "c-N-N", "pl-N-N", "p-N-N", "u-N-N"} <= kinds  # events, cases, placements, persons,
    assert len(seen.persons) > 100                                    # investigations
    assert seen.units and not seen.ids & seen.units  # unit ids are public


def test_the_scan_reads_label_values_table_cells_and_downloads(seen: Seen) -> None:
    """Public unit data are seen where they belong: so label values and table cells really are scanned."""
    assert leaks(metrics_texts(seen.metrics["exporter"]), seen.units)  # the `unit` label
    assert seen.unit_names & set(seen.ui["views/belaggning.py"])  # cells of the occupancy table
    assert seen.unit_names & set(seen.reports[0].replace(",", "\n").splitlines())  # occupancy.csv


def test_no_id_in_any_metrics_endpoint(seen: Seen) -> None:
    for name, raw in seen.metrics.items():
        assert leaks(metrics_texts(raw), seen.ids) == set(), name


def test_no_id_on_any_ui_page(seen: Seen) -> None:
    assert set(seen.ui) == set(VIEWS) and all(len(texts) > 20 for texts in seen.ui.values())
    for page, texts in seen.ui.items():
        assert leaks(texts, seen.ids) == set(), page


def test_no_id_in_the_downloads_or_the_report_files(seen: Seen) -> None:
    assert seen.downloads and len(seen.reports) == 2 * len(REPORT_NAMES)
    assert leaks(seen.downloads, seen.ids) == set()
    assert leaks(seen.reports, seen.ids) == set()


def test_the_scanner_finds_a_planted_id(seen: Seen) -> None:
    person = min(seen.persons)
    raw = seen.metrics["exporter"]
    planted = raw.replace('unit="', f'unit="{person}', 1)  # glued to a unit id: not a token of its own
    assert leaks(metrics_texts(planted), seen.ids) == set()
    planted = raw + f'casestream_unit_places{{unit="{person}",kind="long_stay"}} 1.0\n'
    assert leaks(metrics_texts(planted), seen.ids) == {person}
    page, texts = next(iter(seen.ui.items()))
    assert leaks([*texts, f"Ärende {person}."], seen.ids) == {person}, page
    event_id = next(i for i in seen.ids if len(i) == 36)
    assert leaks([seen.reports[0] + f"\n{event_id},1\n"], seen.ids) == {event_id}
