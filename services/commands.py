"""Registers the commands that live in their own modules onto the `casestream` CLI."""

from __future__ import annotations

import typer


def register_all(app: typer.Typer) -> None:
    from services.demo import demo
    from services.simulator.cli import simulate_command

    app.command("simulate", help="Generate a seeded, realistic municipality history (JSONL or into the store).")(
        simulate_command
    )
    app.command("demo", help="Simulate two years into a local store and print the report tables.")(demo)
