"""`python -m services.kafka broker|relay …`: the pipeline processes without the rest of the CLI."""

import typer

from services.kafka.cli import register

app = typer.Typer(add_completion=False, no_args_is_help=True)
register(app)
app()
