"""``sfmc-emulator``: run the emulator, or reset its state."""

from __future__ import annotations

import ipaddress
import logging
import os
import sys
from dataclasses import replace
from typing import NamedTuple

import click

from .affinity import AffinityError, choose_cpus, parse_cpus, pin_process
from .core import Config
from .scenario import ScenarioError, demo_scenario_path

DEFAULT_DB = "sfmc-emulator.sqlite3"
PORT = click.IntRange(0, 65535)


def database_option(help: str):
    """``--database/--db``, as every command names it; ``help`` says what the command does with it."""
    return click.option("--database", "--db", default=DEFAULT_DB, help=help)


ca_dir_option = click.option(
    "--ca-dir",
    type=click.Path(file_okay=False),
    help="The local CA's directory (default: $SFMC_EMULATOR_CA_DIR, else next to the database).",
)


def scenario_option(help: str):
    """``--scenario FILE``: a scenario file that must exist."""
    return click.option("--scenario", type=click.Path(exists=True, dir_okay=False), help=help)


# show_default for every command's options: those with a default print it in --help
@click.group(context_settings={"help_option_names": ["-h", "--help"], "show_default": True})
@click.version_option(package_name="sfmc-emulator")
def main():
    """A local Salesforce Marketing Cloud: OAuth, Data Extensions, Journey Builder events and contacts,
    with SFMC's rules, errors and 20 requests/second throttling. State lives in SQLite, or in PostgreSQL
    for an emulator shared by a team (--db postgresql://..., --workers N)."""


@main.command()
@click.option("--host", default="127.0.0.1", help="Interface to listen on.")
@click.option("--port", default=8085, type=PORT, help="Port to listen on (0 picks a free one).")
@database_option(
    "SQLite file holding all state, :memory: for a throw-away emulator, or a postgresql://user@host/dbname "
    "URL for a shared one."
)
@scenario_option("YAML/JSON scenario declaring tenants. Default: the bundled demo account.")
@click.option("--no-demo", is_flag=True, help="Start with no tenants unless --scenario gives some.")
@click.option(
    "--rate-limit",
    type=click.FloatRange(min=0),
    help="Requests/second per tenant for every tenant (0 turns throttling off).",
)
@click.option("--burst", type=click.FloatRange(min=0), help="Token-bucket burst per tenant.")
@click.option("--token-lifetime", type=click.IntRange(min=1), help="Access-token lifetime in seconds.")
@click.option(
    "--connection-limit",
    default=1000,
    type=click.IntRange(1, 100000),
    help="Open client connections at once (keep-alive load generators hold one each).",
)
@click.option("--threads", default=8, type=click.IntRange(1, 256), help="Server worker threads.")
@click.option(
    "--workers",
    default=1,
    type=click.IntRange(1, 64),
    help="Emulator processes sharing the port and the state (more than 1 needs a postgresql:// database).",
)
@click.option(
    "--cpu",
    metavar="auto|N[,N...]",
    callback=lambda _ctx, _param, value: _cpu_choice(value),
    help="Keep each server process on one CPU: 'auto' picks the least busy, or CPU numbers (one per --workers "
    "process, in turn). Serves faster on a few cores shared with the load generator (docs/performance.md); Linux.",
)
@click.option("--quiet", is_flag=True, help="Print only the URL line at start.")
@click.option(
    "--admin-token",
    envvar="SFMC_EMULATOR_ADMIN_TOKEN",
    help="Require this token on /_emulator calls (Authorization: Bearer or X-Emulator-Admin-Token).",
)
@click.option(
    "--journal-size",
    default=1000,
    type=click.IntRange(1, 1_000_000),
    help="Request-journal entries kept per tenant; older ones are evicted and counted.",
)
@click.option(
    "--journal-mb",
    default=256,
    type=click.IntRange(1, 1_000_000),
    help="Megabytes the request journal may hold across all tenants; the oldest entries go first past it.",
)
@click.option("--tls", "tls_default", is_flag=True, help="Serve HTTPS too: port 443 as root, else 8443.")
@click.option(
    "--tls-port",
    type=PORT,
    help="Serve HTTPS on this port with the local CA's certificate (for names mapped in /etc/hosts or DNS).",
)
@click.option(
    "--proxy-port",
    type=PORT,
    help="Run a forward proxy here: CONNECT to SFMC's host names is served by the emulator (see `env`).",
)
@ca_dir_option
@click.option(
    "--public-url",
    help="Base URL for instance URLs when clients reach the emulator by address (a TLS terminator in front).",
)
@click.option(
    "--trust-forwarded",
    is_flag=True,
    help="Honour X-Forwarded-Proto/X-Forwarded-Host (only behind a proxy you run).",
)
def serve(
    host,
    port,
    database,
    scenario,
    no_demo,
    rate_limit,
    burst,
    token_lifetime,
    connection_limit,
    threads,
    workers,
    cpu,
    quiet,
    admin_token,
    journal_size,
    journal_mb,
    tls_default,
    tls_port,
    proxy_port,
    ca_dir,
    public_url,
    trust_forwarded,
):
    """Serve the emulator with waitress (a production WSGI server) until interrupted."""
    import socket

    from .app import create_app
    from .waitress_server import create_server

    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    overrides = {
        k: v
        for k, v in (("rate_limit", rate_limit), ("burst", burst), ("token_lifetime", token_lifetime))
        if v is not None
    }
    warning = exposure_warning(host, admin_token)
    if warning:
        click.secho(warning, err=True, fg="red", bold=True)
    config = Config(
        database=database,
        admin_token=admin_token or None,
        journal_size=journal_size,
        journal_bytes=journal_mb * 1024 * 1024,
        public_url=public_url or None,
        trust_forwarded=trust_forwarded,
        workers=workers,
    )
    config = replace(config, default_settings=config.default_settings.updated(overrides))
    if scenario is None and not no_demo:
        scenario = str(demo_scenario_path())
    if workers > 1:
        if tls_default or tls_port is not None or proxy_port is not None:
            raise click.ClickException(
                "--tls, --tls-port and --proxy-port serve from one process; with --workers above 1 put your own "
                "TLS terminator or load balancer in front (see docs/shared-emulator.md)"
            )
        _serve_workers(config, scenario, overrides, host, port, threads, connection_limit, quiet, cpu)
        return
    if cpu is not None:  # before the app starts its threads: they start on this CPU too
        pin_process(choose_cpus(cpu.cpus, 1)[0])
    try:
        app = create_app(config, scenario=scenario)
    except ScenarioError as err:
        raise click.ClickException(f"the scenario is not valid:\n{err}") from None
    emulator = app.extensions["sfmc"]
    for tenant in emulator.tenants.all():
        if overrides:
            emulator.tenants.update_settings(tenant.id, overrides)
    server = create_server(
        app, host=host, port=port, threads=threads, connection_limit=connection_limit, ident="sfmc-emulator"
    )
    bound_port = server.effective_port if hasattr(server, "effective_port") else port
    url = f"http://{host if host not in ('0.0.0.0', '::') else socket.gethostname()}:{bound_port}"
    if tls_default and tls_port is None:
        tls_port = 443 if os.geteuid() == 0 else 8443
    if tls_port is not None or proxy_port is not None:
        from .tls import ensure_ca, start_front_door

        ca = ensure_ca(_ca_dir(ca_dir, database))
        door = start_front_door(
            app,
            ca,
            host=host,
            plain_port=bound_port,
            tls_port=tls_port,
            proxy_port=proxy_port,
            threads=threads,
            connection_limit=connection_limit,
        )
        if "tls" in door.bound:
            click.echo(f"SFMC emulator HTTPS on https://{host}:{door.bound['tls']}/  (CA: {ca.cert_path})")
        if "proxy" in door.bound:
            click.echo(
                f"SFMC emulator proxy on http://{host}:{door.bound['proxy']}/  (CA: {ca.cert_path}; "
                f"sfmc-emulator env --proxy-port {door.bound['proxy']} prints the exports)"
            )
    click.echo(f"SFMC emulator listening on {url}/  (database: {_safe_url(database)})", err=False)
    if not quiet:
        _banner(emulator, url)
    sys.stdout.flush()
    try:
        server.run()
    except KeyboardInterrupt:
        click.echo("stopped")


def _serve_workers(config, scenario, overrides, host, port, threads, connection_limit, quiet, cpu) -> None:
    """Prepare the shared database once, then fork the workers over one listening socket (each on its own CPU
    with ``--cpu``)."""
    from .app import create_app
    from .core import Emulator
    from .scenario import apply_scenario, load_scenario_file
    from .store import is_postgres_url, open_store
    from .waitress_server import create_server
    from .workers import listen, supervise

    if not is_postgres_url(config.database):
        raise click.ClickException(
            "--workers above 1 needs a database the processes can share: --db postgresql://user@host/dbname "
            "(SQLite serves one process; see docs/shared-emulator.md)"
        )
    store = open_store(config.database)
    emulator = Emulator(store, config=config)
    try:
        if scenario:
            apply_scenario(emulator, load_scenario_file(scenario), replace=False)
        for tenant in emulator.tenants.all():
            if overrides:
                emulator.tenants.update_settings(tenant.id, overrides)
    except ScenarioError as err:
        raise click.ClickException(f"the scenario is not valid:\n{err}") from None
    sock = listen(host, port)
    url = f"http://{host}:{sock.getsockname()[1]}"
    store.close()
    cpus = choose_cpus(cpu.cpus, config.workers) if cpu is not None else None

    def serve_one(index: int, ready) -> None:
        if cpus is not None:  # a replaced worker takes its index's CPU again
            pin_process(cpus[index])
        # tenants and the scenario's fault rules come from the database (the parent stored them once)
        app = create_app(config)
        server = create_server(app, sockets=[sock], threads=threads, connection_limit=connection_limit)
        ready()
        server.run()

    def announce() -> None:  # once every worker serves
        click.echo(
            f"SFMC emulator listening on {url}/  (database: {_safe_url(config.database)}, {config.workers} workers)"
        )
        if not quiet:
            _banner(emulator, url)
        sys.stdout.flush()

    supervise(config.workers, serve_one, announce)


class _CpuChoice(NamedTuple):
    cpus: list[int] | None  # None: the least busy, chosen at start


def _cpu_choice(value: str | None) -> _CpuChoice | None:
    """``--cpu``'s value checked against the CPUs this process may use (None when it is not given)."""
    if value is None:
        return None
    try:
        return _CpuChoice(parse_cpus(value))
    except AffinityError as err:
        raise click.BadParameter(str(err), param_hint="'--cpu'") from None


def _safe_url(database: str) -> str:
    """The database for a log line: a URL's password is never printed."""
    from urllib.parse import urlsplit, urlunsplit

    parts = urlsplit(database)
    if parts.password:
        netloc = parts.netloc.replace(f":{parts.password}@", ":***@")
        return urlunsplit(parts._replace(netloc=netloc))
    return database


def exposure_warning(host: str, admin_token: str | None) -> str | None:
    """The warning ``serve`` prints when its control plane is open to the network (None when it is not)."""
    if admin_token:
        return None
    try:
        loopback = ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        loopback = host.lower() == "localhost"
    if loopback:
        return None
    return (
        f"WARNING: listening on {host} without --admin-token: anyone who can reach this address can read "
        "the journal (request bodies) and reset or delete every tenant through /_emulator. "
        "Pass --admin-token or listen on 127.0.0.1."
    )


def _banner(emulator, url: str) -> None:
    for tenant in emulator.tenants.all():
        package = tenant.packages[0]
        s = tenant.settings
        click.echo(
            f"\ntenant {tenant.id!r}: subdomain {tenant.subdomain}, MIDs "
            f"{', '.join(str(b.mid) for b in tenant.business_units)}"
        )
        click.echo(f"  client_id     {package.client_id}\n  client_secret {package.client_secret}")
        click.echo(f"  rate limit    {s.rate_limit:g}/s (burst {s.burst:g}), tokens live {s.token_lifetime}s")
        des = ", ".join(de.key for de in emulator.data_extensions.list(tenant.id)) or "none"
        click.echo(f"  data extensions: {des}")
    click.echo(f"""
Point a client at it: auth base URL {url}/ (POST {url}/v2/token), REST base URL {url}/
  curl -s -X POST {url}/v2/token -H 'Content-Type: application/json' \\
    -d '{{"grant_type":"client_credentials","client_id":"demo-client-id","client_secret":"demo-client-secret"}}'
Inspect state under {url}/_emulator/tenants . Stop with Ctrl-C.""")


@main.command()
@database_option("SQLite file to reset.")
@click.option("--tenant", "tenant_id", help="Reset only this tenant (default: all).")
@click.option("--delete-tenants", is_flag=True, help="Also delete the tenants themselves, not just their data.")
def reset(database, tenant_id, delete_tenants):
    """Clear rows, tokens and logs from a database file (tenants and Data Extensions stay unless asked)."""
    from .core import Emulator
    from .store import open_store

    emulator = Emulator(open_store(database))
    if tenant_id and emulator.tenant(tenant_id) is None:
        known = ", ".join(t.id for t in emulator.tenants.all()) or "none"
        raise click.ClickException(f"no tenant '{tenant_id}' in {database} (tenants: {known})")
    targets = [tenant_id] if tenant_id else [t.id for t in emulator.tenants.all()]
    if delete_tenants:
        for tid in targets:
            emulator.delete_tenant(tid)
        click.echo(f"deleted {len(targets)} tenant(s) from {database}")
    else:
        emulator.reset(tenant_id)
        click.echo(f"reset {tenant_id or 'all tenants'} in {database}")


def _ca_dir(ca_dir: str | None, database: str):
    from .tls import default_ca_dir

    return ca_dir or os.environ.get("SFMC_EMULATOR_CA_DIR") or default_ca_dir(database)


@main.command()
@ca_dir_option
@database_option("Database whose directory holds the CA.")
@click.option("--pem", is_flag=True, help="Print the CA certificate itself instead of its path.")
def ca(ca_dir, database, pem):
    """Print the local CA's certificate path (made on first use): trust it in clients."""
    from .tls import ensure_ca

    authority = ensure_ca(_ca_dir(ca_dir, database))
    click.echo(authority.pem().rstrip() if pem else str(authority.cert_path))


@main.command()
@database_option("Database holding the tenants.")
@scenario_option("Take the tenants from a scenario.")
@click.option("--address", default="127.0.0.1", help="Address the names should resolve to.")
def hosts(database, scenario, address):
    """Print /etc/hosts lines mapping each loaded tenant's SFMC host names (and the legacy hosts) here."""
    from .core import Emulator
    from .domain.hosts import LEGACY_HOSTS, tenant_host_names
    from .scenario import apply_scenario, load_scenario_file
    from .store import open_store

    if scenario:
        emulator = Emulator(open_store(":memory:"))
        apply_scenario(emulator, load_scenario_file(scenario), replace=False)
    else:
        emulator = Emulator(open_store(database))
        if not emulator.tenants.all():
            emulator = Emulator(open_store(":memory:"))
            apply_scenario(emulator, load_scenario_file(str(demo_scenario_path())), replace=False)
    click.echo("# SFMC emulator host names (sfmc-emulator serve --tls-port 443); append to /etc/hosts")
    for tenant in emulator.tenants.all():
        click.echo(f"{address} {' '.join(tenant_host_names(tenant.subdomain))}  # tenant {tenant.id}")
    click.echo(f"{address} {' '.join(LEGACY_HOSTS)}")


@main.command()
@ca_dir_option
@database_option("Database whose directory holds the CA.")
@click.option("--proxy-port", default=8086, type=click.IntRange(1, 65535), help="The proxy's port.")
@click.option("--proxy-host", default="127.0.0.1", help="The proxy's address.")
@click.option("--no-proxy", is_flag=True, help="Only the CA variables (for names mapped in /etc/hosts).")
@click.option("--shell", type=click.Choice(["sh", "fish", "powershell"]), default="sh")
def env(ca_dir, database, proxy_port, proxy_host, no_proxy, shell):
    """Print shell exports pointing Python, Node and curl clients at the emulator (eval "$(sfmc-emulator env)")."""
    from .tls import ensure_ca, env_lines

    authority = ensure_ca(_ca_dir(ca_dir, database))
    proxy_url = None if no_proxy else f"http://{proxy_host}:{proxy_port}"
    for line in env_lines(authority, proxy_url, shell):
        click.echo(line)
