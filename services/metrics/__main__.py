"""`python -m services.metrics exporter …`: the KPI exporter without the rest of the CLI."""

import typer

from services.metrics.exporter import register

app = typer.Typer(add_completion=False, no_args_is_help=True)


@app.callback()
def metrics() -> None:
    """casestream metrics processes."""


register(app)
app()
