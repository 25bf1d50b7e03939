"""``sfmc-connector``: send Segment events to SFMC from a file, or serve Segment's tracking API."""

from __future__ import annotations

import hashlib
import json
import sys
import time

import click

from .settings import SettingsError, load_settings

settings_option = click.option(
    "--settings",
    "settings_path",
    type=click.Path(exists=True, dir_okay=False),
    help="YAML/JSON destination settings (SFMC_* environment variables override it).",
)
outbox_option = click.option("--outbox", help="Outbox SQLite file (default: the settings' outbox_path).")


def _load(settings_path, outbox):
    try:
        return load_settings(settings_path, overrides={"outbox_path": outbox} if outbox else None)
    except SettingsError as err:
        raise click.ClickException(f"the settings are not valid:\n{err}") from None


def _destination(settings):
    from .delivery.destination import Destination

    destination = Destination(settings)
    for note in settings.advisories():
        click.echo(f"note: {note}", err=True)
    return destination


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="sfmc-emulator")
def main():
    """A Segment-to-Salesforce Marketing Cloud destination: identify, track, API events, contacts,
    batching and Personas, with a durable outbox so no event is lost."""


def read_ndjson(path: str):
    """(events, unreadable) from a newline-delimited JSON file; unreadable lines keep their reason."""
    events, unreadable = [], []
    with click.open_file(path, encoding="utf-8") as handle:
        for number, line in enumerate(handle, start=1):
            if not line.strip():
                continue
            try:
                event = json.loads(line)
                if not isinstance(event, dict):
                    raise ValueError("not a JSON object")
                events.append(event)
            except ValueError as err:
                digest = hashlib.sha1(f"{path}:{number}:{line}".encode()).hexdigest()[:16]
                unreadable.append((f"unreadable-{digest}", line, f"line {number}: not a JSON event ({err})"))
    return events, unreadable


@main.command()
@click.argument("events_file", type=click.Path(exists=True, dir_okay=False, allow_dash=True))
@settings_option
@outbox_option
@click.option("--progress/--no-progress", default=True, show_default=True, help="Show a progress bar.")
@click.option("--summary-json", type=click.Path(dir_okay=False, writable=True), help="Also write the summary here.")
def send(events_file, settings_path, outbox, progress, summary_json):
    """Queue the events of an NDJSON file (one Segment event per line) and deliver everything pending.

    Events are stored in the outbox first, so a run that is interrupted resumes where it stopped
    when started again (with the same or another file). Exit status 0 when nothing is left
    pending, 3 when SFMC stayed unreachable and events wait in the outbox.
    """
    from tqdm import tqdm

    settings = _load(settings_path, outbox)
    destination = _destination(settings)
    events, unreadable = read_ndjson(events_file)
    accepted, duplicates = destination.accept(events)
    if unreadable:
        destination.outbox.reject_unreadable(unreadable)
    pending = destination.outbox.counts()["pending"]
    click.echo(
        f"queued {accepted} event(s) ({duplicates} already in the outbox, {len(unreadable)} unreadable); "
        f"{pending} pending",
        err=True,
    )
    with tqdm(total=pending, unit="ev", disable=not progress, file=sys.stderr) as bar:
        summary = destination.deliver_pending(on_progress=bar.update)
    if unreadable:
        summary.rejected["malformed_input"] += len(unreadable)
    report = {**summary.as_dict(), **destination.client.stats.as_dict()}
    _print_summary(report)
    if summary_json:
        with open(summary_json, "w", encoding="utf-8") as handle:
            json.dump(report, handle, indent=2)
    if summary.pending:
        raise SystemExit(3)


def _print_summary(report: dict) -> None:
    click.echo(f"delivered  {report['delivered']}")
    for title, key in (("rejected", "rejected"), ("dropped", "dropped")):
        total = sum(report[key].values())
        click.echo(f"{title:<10} {total}" + "".join(f"\n  {n:>6}  {code}" for code, n in report[key].items()))
    if report.get("retried"):
        click.echo(
            f"sent again {sum(report['retried'].values())} time(s) after a transient failure: "
            + ", ".join(f"{code} {n}" for code, n in report["retried"].items())
        )
    click.echo(
        f"pending    {report['pending']}"
        + (f"  (stopped: {report['stopped_because']})" if report["stopped_because"] else "")
    )
    click.echo(
        f"requests   {report['requests']} ({report['throttled_429']} answered 429, {report['retries']} retries, "
        f"{report['token_requests']} token requests"
        + (f", {report['capped_waits']} Retry-After waits capped" if report.get("capped_waits") else "")
        + ")"
    )


@main.command()
@settings_option
@outbox_option
def status(settings_path, outbox):
    """Count the outbox's events by status, with their reasons, and show the bound on every wait.

    Pending events waiting after a transient failure show its reason (e.g. ``async_job_stalled``,
    ``transient_row_error``); ``new`` ones have not been tried yet.
    """
    from .delivery.outbox import Outbox

    settings = _load(settings_path, outbox)
    box = Outbox(settings.outbox_path)
    for state, count in box.counts().items():
        click.echo(f"{state:<10} {count}")
        if count and state in ("pending", "rejected", "dropped"):
            for code, n in box.reasons(state).items():
                click.echo(f"  {n:>6}  {code}")
    due = box.next_due()
    if due is not None and due > time.time():
        click.echo(f"next attempt in {due - time.time():.1f}s")
    click.echo(
        f"waits      job_deadline {settings.batching.job_deadline:g}s, max_retry_after {settings.max_retry_after:g}s, "
        f"max_backoff {settings.max_backoff:g}s, transient_retries {settings.transient_retries} "
        f"(retry_delay {settings.retry_delay:g}s, doubling)"
    )


@main.command()
@settings_option
@outbox_option
@click.option("--limit", default=20, show_default=True)
@click.option(
    "--status",
    "state",
    type=click.Choice(["rejected", "dropped", "pending"]),
    default="rejected",
    show_default=True,
)
def rejected(settings_path, outbox, limit, state):
    """List rejected (or dropped, or pending) events with their reasons, newest first, as JSON lines."""
    from .delivery.outbox import Outbox

    for item in Outbox(_load(settings_path, outbox).outbox_path).listing(state, limit):
        click.echo(json.dumps(item))


@main.command()
@settings_option
@outbox_option
def requeue(settings_path, outbox):
    """Mark rejected events pending again (after fixing what SFMC refused); the next send delivers them."""
    from .delivery.outbox import Outbox

    click.echo(f"requeued {Outbox(_load(settings_path, outbox).outbox_path).requeue()} event(s)")


@main.command()
@settings_option
@outbox_option
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8086, show_default=True, type=click.IntRange(0, 65535))
@click.option("--write-key", envvar="SEGMENT_WRITE_KEY", help="Required write key (HTTP basic user name).")
@click.option("--interval", default=1.0, show_default=True, help="Seconds between delivery passes when idle.")
def serve(settings_path, outbox, host, port, write_key, interval):
    """Accept Segment's tracking API (/v1/identify, /v1/track, /v1/batch, ...) and deliver in the background."""
    from waitress.server import create_server

    from .ingest import DeliveryLoop, create_ingest_app

    destination = _destination(_load(settings_path, outbox))
    loop = DeliveryLoop(destination, interval).start()
    server = create_server(create_ingest_app(destination, write_key, loop.wake), host=host, port=port, threads=8)
    click.echo(
        f"Segment tracking API listening on http://{host}:{server.effective_port}/  "
        f"(outbox: {destination.settings.outbox_path})"
    )
    sys.stdout.flush()
    try:
        server.run()
    except KeyboardInterrupt:
        pass
    finally:
        loop.stop()
