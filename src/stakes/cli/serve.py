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
    from ..web.limits import Limits

    d = Limits()

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
        allow_host: Optional[list[str]] = typer.Option(
            None, "--allow-host", metavar="NAME",
            help="Host name the app answers to (repeatable); default: 127.0.0.1, localhost, "
            "::1 and the --host address."),
        workers: int = typer.Option(d.workers, "--workers", min=1, max=64,
                                    help="Worker processes for runs and uploads."),
        queue: int = typer.Option(d.queue, "--queue", min=1, max=10_000,
                                  help="Jobs that may wait for a worker; more are refused."),
        job_seconds: float = typer.Option(d.job_seconds, "--job-seconds", min=1,
                                          help="Time limit of one run or sweep."),
        upload_seconds: float = typer.Option(d.upload_seconds, "--upload-seconds", min=1,
                                             help="Time limit for reading one upload."),
        job_memory: int = typer.Option(d.memory_mb, "--job-memory", min=64, metavar="MIB",
                                       help="Memory limit of one worker process, MiB."),
        max_actors: int = typer.Option(d.max_actors, "--max-actors", min=1,
                                       help="Largest scenario accepted: actors."),
        max_cells: int = typer.Option(d.max_cells, "--max-cells", min=1,
                                      help="Largest scenario accepted: actors x issues."),
    ) -> None:
        """Open the scenario library, editor, runs and reports in a browser."""
        try:
            import uvicorn

            from ..web.app import create_app
            from ..web.security import DEFAULT_HOSTS
        except ImportError as exc:
            typer.echo(f"error: the web app needs the 'web' extra ({exc.name} is missing): "
                       "pip install 'stakes[web]'", err=True)
            raise typer.Exit(2) from None
        if not _is_loopback(host):
            typer.echo(f"warning: listening on {host}: anyone who can reach this address can "
                       "use the app (it has no login)", err=True)
        hosts = list(allow_host or DEFAULT_HOSTS)
        if host not in ("0.0.0.0", "::") and host not in hosts:
            hosts.append(host)
        limits = Limits(workers=workers, queue=queue, job_seconds=job_seconds,
                        upload_seconds=upload_seconds, memory_mb=job_memory,
                        max_actors=max_actors, max_cells=max_cells)
        typer.echo(f"stakes: open http://{host if ':' not in host else f'[{host}]'}:{port}/ "
                   "in your browser (Ctrl+C stops)", err=True)
        uvicorn.run(create_app(store=store, scenario_dir=scenarios, hosts=hosts, limits=limits),
                    host=host, port=port, log_level="warning", server_header=False)
