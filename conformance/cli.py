"""``sfmc-conformance``: run the conformance suite against a connector, check the emulator's fidelity,
and keep the coverage table up to date."""

from __future__ import annotations

import sys
from concurrent.futures import ThreadPoolExecutor, as_completed
from contextlib import nullcontext
from pathlib import Path

import click

from emulator.launcher import serve_command, start_emulator

from .adapters import AdapterError
from .cases import CaseError, load_cases
from .connectors import make_adapter
from .coverage import coverage_table
from .report import MARK, json_report, junit_xml, text_report
from .runner import FAILED, PASSED, load_profile, run_case
from .service import EmulatorClient


def _emulator(url: str | None, *options: str):
    return nullcontext(url) if url else _Started(*options)


class _Started:
    def __init__(self, *options: str):
        self.options = options

    def __enter__(self) -> str:
        shown = " ".join(serve_command(*self.options)[3:])
        click.echo(f"starting an emulator (sfmc-emulator {shown}) ...", err=True)
        self.server = start_emulator(*self.options)
        return self.server.url

    def __exit__(self, *exc) -> None:
        self.server.stop()


def _cases(cases_dir, pattern):
    try:
        return load_cases(cases_dir, pattern)
    except CaseError as err:
        raise click.ClickException(f"the case files are not valid:\n{err}") from None


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="sfmc-emulator")
def main():
    """Check a Segment-to-SFMC connector, in any language, against the seed's rules and SFMC's contract,
    rule by rule, using the emulator."""


@main.command()
@click.option(
    "--connector",
    "connector_spec",
    required=True,
    help="python:module:function | cmd:<command line> | serve:<command template> | http://host:port | "
    "segment-actions:<action>[:fields] (Segment's published destination)",
)
@click.option("--cases", "cases_dir", type=click.Path(exists=True), help="Case directory or file (default: bundled).")
@click.option("-k", "pattern", help="Only cases whose id, rule or title contains PATTERN.")
@click.option("--junit", type=click.Path(dir_okay=False, writable=True), help="Write a JUnit XML report.")
@click.option("--json", "json_path", type=click.Path(dir_okay=False, writable=True), help="Write a JSON report.")
@click.option("--faults", "profile_name", help="Replay the cases under a fault profile: flaky, token-expiry or a file.")
@click.option(
    "--emulator", "emulator_url", envvar="SFMC_EMULATOR_URL", help="Use this running emulator instead of starting one."
)
@click.option("--admin-token", envvar="SFMC_EMULATOR_ADMIN_TOKEN", help="The emulator's admin token, if it has one.")
@click.option("--write-key", envvar="SEGMENT_WRITE_KEY", help="Write key for serve:/http:// connectors.")
@click.option("--jobs", "-j", default=4, show_default=True, type=click.IntRange(1, 64), help="Cases run at once.")
@click.option("--verbose", "-v", is_flag=True, help="Show every request body of failed cases.")
def run(
    connector_spec,
    cases_dir,
    pattern,
    junit,
    json_path,
    profile_name,
    emulator_url,
    admin_token,
    write_key,
    jobs,
    verbose,
):
    """Run the cases against a connector and report pass/fail per rule. Exit status 1 when a case fails."""
    try:
        adapter = make_adapter(connector_spec, write_key=write_key)
    except AdapterError as err:
        raise click.ClickException(str(err)) from None
    cases = _cases(cases_dir, pattern)
    if not cases:
        raise click.ClickException(f"no case matches -k {pattern!r}")
    try:
        profile = load_profile(profile_name) if profile_name else None
    except ValueError as err:
        raise click.ClickException(str(err)) from None
    jobs = 1 if adapter.serial else jobs
    results = []
    with _emulator(emulator_url, *([] if emulator_url else adapter.emulator_options())) as url:
        client = EmulatorClient(url, admin_token)
        client.health()
        click.echo(
            f"running {len(cases)} case(s) against {adapter.name} on {url}"
            + (f" under fault profile '{profile.name}'" if profile else ""),
            err=True,
        )
        with ThreadPoolExecutor(jobs) as pool:
            futures = [pool.submit(run_case, case, adapter, client, profile) for case in cases]
            for done, future in enumerate(as_completed(futures), start=1):
                result = future.result()
                results.append(result)
                click.echo(
                    f"[{done}/{len(cases)}] {MARK[result.status]:<5} {result.case.id} "
                    f"({', '.join(result.case.rules)}) {result.duration:.1f}s",
                    err=True,
                )
    order = {case.id: i for i, case in enumerate(cases)}
    results.sort(key=lambda r: order[r.case.id])
    click.echo(text_report(results, adapter.name, verbose))
    if junit:
        Path(junit).write_text(junit_xml(results, adapter.name), encoding="utf-8")
    if json_path:
        Path(json_path).write_text(json_report(results, adapter.name), encoding="utf-8")
    if any(r.status not in (PASSED,) and r.status != "waiting" for r in results):
        sys.exit(1)


@main.command("list")
@click.option("--cases", "cases_dir", type=click.Path(exists=True))
@click.option("-k", "pattern")
def list_cases(cases_dir, pattern):
    """List the cases with their rules and where they are defined."""
    for case in _cases(cases_dir, pattern):
        click.echo(f"{case.id:<50} {','.join(case.rules):<28} {case.source}")


@main.command()
@click.option("--cases", "cases_dir", type=click.Path(exists=True))
@click.option(
    "--write",
    "write_path",
    type=click.Path(dir_okay=False, writable=True),
    help="Write the table to this file instead of printing it.",
)
def coverage(cases_dir, write_path):
    """The coverage table: rule -> cases that check it."""
    from .fidelity import load_checks

    table = coverage_table(_cases(cases_dir, None), load_checks())
    if write_path:
        Path(write_path).write_text(table, encoding="utf-8")
        click.echo(f"wrote {write_path}", err=True)
    else:
        click.echo(table, nl=False)


@main.command()
@click.option(
    "--emulator",
    "emulator_url",
    envvar="SFMC_EMULATOR_URL",
    help="An emulator (with its /_emulator control plane) to check; default: start one.",
)
@click.option("--admin-token", envvar="SFMC_EMULATOR_ADMIN_TOKEN")
@click.option(
    "--target",
    help="Another SFMC-compatible base URL (auth and REST on one host), checked without "
    "a control plane: needs --client-id and --client-secret.",
)
@click.option("--client-id", envvar="SFMC_CLIENT_ID")
@click.option("--client-secret", envvar="SFMC_CLIENT_SECRET")
@click.option(
    "--de-key",
    help="With --target: a DE with a Text primary key 'Contact Key' and an EmailAddress "
    "column 'Email', for the row checks.",
)
@click.option("--junit", type=click.Path(dir_okay=False, writable=True))
def fidelity(emulator_url, admin_token, target, client_id, client_secret, de_key, junit):
    """Check an SFMC-compatible endpoint's answers (status codes, envelopes, headers) against SFMC's shapes."""
    from .fidelity import fidelity_junit, fidelity_report, run_fidelity

    if target and not (client_id and client_secret):
        raise click.ClickException("--target needs --client-id and --client-secret (or SFMC_CLIENT_ID/SECRET)")
    context = nullcontext(None) if target else _emulator(emulator_url)
    with context as url:
        outcomes = run_fidelity(
            url, admin_token=admin_token, target=target, client_id=client_id, client_secret=client_secret, de_key=de_key
        )
    click.echo(fidelity_report(outcomes, target or url or ""))
    if junit:
        Path(junit).write_text(fidelity_junit(outcomes), encoding="utf-8")
    if any(o["status"] == FAILED for o in outcomes):
        sys.exit(1)
