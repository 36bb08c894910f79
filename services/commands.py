"""Registers the commands that live in their own modules onto the `casestream` CLI.

Each module listed in `COMMAND_MODULES` exposes `register(app: typer.Typer) -> None`; importing them
happens only here, inside `main()`, so importing the CLI does nothing heavy.
"""

from __future__ import annotations

import importlib

import typer

COMMAND_MODULES: tuple[str, ...] = (
    "services.metrics.exporter",
    "services.metrics.bench",
    "services.simulator.cli",
    "services.demo",
    "services.kafka.cli",
    "services.worker.cli",
    "services.readmodel.cli",
    "services.bench",
    "services.audit.cli",
    "services.audit.bench",
    "services.forecasting_cli",
    "services.ui_command",
    "services.chaos",
    "services.privacy.cli",
)


def register_all(app: typer.Typer) -> None:
    for name in COMMAND_MODULES:
        module = importlib.import_module(name)
        module.register(app)
