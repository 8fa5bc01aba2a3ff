"""``stakes serve``: the browser app on this machine."""

from __future__ import annotations

import ipaddress
from pathlib import Path
from typing import Optional

import typer


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def register(app: typer.Typer) -> None:
    """Add the ``serve`` command to the CLI."""

    @app.command()
    def serve(
        host: str = typer.Option("127.0.0.1", "--host",
                                 help="Address to listen on (loopback unless you say otherwise)."),
        port: int = typer.Option(8000, "--port", min=0, max=65535, help="Port to listen on."),
        store: Optional[Path] = typer.Option(
            None, "--store", metavar="PATH",
            help="Run store (default: $STAKES_STORE or the user data directory)."),
        scenarios: Optional[Path] = typer.Option(
            None, "--scenarios", metavar="DIR",
            help="Folder of your scenarios (default: $STAKES_SCENARIOS or the user data "
            "directory)."),
    ) -> None:
        """Open the scenario library, editor, runs and reports in a browser."""
        try:
            import uvicorn

            from ..web.app import create_app
        except ImportError as exc:
            typer.echo(f"error: the web app needs the 'web' extra ({exc.name} is missing): "
                       "pip install 'stakes[web]'", err=True)
            raise typer.Exit(2) from None
        if not _is_loopback(host):
            typer.echo(f"warning: listening on {host}: anyone who can reach this address can "
                       "use the app (it has no login)", err=True)
        typer.echo(f"stakes: open http://{host if ':' not in host else f'[{host}]'}:{port}/ "
                   "in your browser (Ctrl+C stops)", err=True)
        uvicorn.run(create_app(store=store, scenario_dir=scenarios), host=host, port=port,
                    log_level="warning", server_header=False)
