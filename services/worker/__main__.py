"""`python -m services.worker …`: the worker without the rest of the CLI (what the demo and tests start)."""

import typer

from services.worker.cli import worker

typer.run(worker)
