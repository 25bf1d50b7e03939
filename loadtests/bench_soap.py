"""SOAP write throughput against REST: the same 2,500 rows as one SOAP ``Create`` and as REST rowsets.

Starts a real ``sfmc-emulator serve`` (free port, ``--rate-limit 0``, a temporary database file, the
sync benchmark's 10-column Data Extension), then, over one keep-alive ``requests`` session:

* SOAP: one ``Create`` of 2,500 ``DataExtensionObject``s (``SaveOptions`` ``UpdateAdd``) on ``/Service.asmx``;
* REST: the same 2,500 rows as one ``POST /hub/v1/dataevents/key:{key}/rowset``, and as 50 rowsets of 50
  rows (SFMC's recommended batch), one after the other.

Each variant runs ``--repeats`` times on fresh primary keys; the median is reported with every
figure, and the ratios SOAP ÷ REST are measured in the same run, so they mean something on a
small, noisy machine where the absolute figures do not.

    python -m loadtests.bench_soap [--rows 2500] [--repeats 3] [--json-out figures.json]
"""

from __future__ import annotations

import json
import statistics
import tempfile
import time
import xml.etree.ElementTree as ET
from pathlib import Path

import click
import requests

from .bench_sync import CLIENT_ID, CLIENT_SECRET, scenario_file
from .common import DE_KEY, row, running, start_emulator

SOAP_NS = "http://schemas.xmlsoap.org/soap/envelope/"
ET_NS = "http://exacttarget.com/wsdl/partnerAPI"
XSI_NS = "http://www.w3.org/2001/XMLSchema-instance"
TOOL = "python requests, one keep-alive session, sequential"


def soap_create(token: str, rows: list[dict]) -> bytes:
    """A Create of DataExtensionObjects (UpdateAdd), built as FuelSDK's suds client would send it."""
    envelope = ET.Element(f"{{{SOAP_NS}}}Envelope")
    header = ET.SubElement(envelope, f"{{{SOAP_NS}}}Header")
    ET.SubElement(header, "{http://exacttarget.com}fueloauth").text = token
    request = ET.SubElement(ET.SubElement(envelope, f"{{{SOAP_NS}}}Body"), f"{{{ET_NS}}}CreateRequest")
    option = ET.SubElement(
        ET.SubElement(ET.SubElement(request, f"{{{ET_NS}}}Options"), f"{{{ET_NS}}}SaveOptions"),
        f"{{{ET_NS}}}SaveOption",
    )
    ET.SubElement(option, f"{{{ET_NS}}}PropertyName").text = "*"
    ET.SubElement(option, f"{{{ET_NS}}}SaveAction").text = "UpdateAdd"
    for item in rows:
        obj = ET.SubElement(request, f"{{{ET_NS}}}Objects", {f"{{{XSI_NS}}}type": "DataExtensionObject"})
        ET.SubElement(obj, f"{{{ET_NS}}}CustomerKey").text = DE_KEY
        props = ET.SubElement(obj, f"{{{ET_NS}}}Properties")
        for name, value in {**item["keys"], **item["values"]}.items():
            prop = ET.SubElement(props, f"{{{ET_NS}}}Property")
            ET.SubElement(prop, f"{{{ET_NS}}}Name").text = name
            ET.SubElement(prop, f"{{{ET_NS}}}Value").text = (
                str(value).lower() if isinstance(value, bool) else str(value)
            )
    return ET.tostring(envelope, encoding="utf-8", xml_declaration=True)


def timed(call) -> float:
    started = time.perf_counter()
    call()
    return time.perf_counter() - started


@click.command(context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--rows", default=2500, show_default=True, type=click.IntRange(1, 2500), help="Rows per measurement.")
@click.option("--repeats", default=3, show_default=True, type=click.IntRange(1, 20), help="Runs of each variant.")
@click.option("--threads", default=8, show_default=True, help="waitress threads of the emulator.")
@click.option("--json-out", type=click.Path(dir_okay=False, path_type=Path), help="Also write the figures as JSON.")
def main(rows, repeats, threads, json_out):
    """Rows/s of one SOAP Create against the same rows over REST rowsets (one run, same server)."""
    with tempfile.TemporaryDirectory(prefix="bench-soap-") as tmp:
        folder = Path(tmp)
        emulator = start_emulator(
            folder, "--rate-limit", "0", "--scenario", str(scenario_file(folder)), threads=threads
        )
        with running(emulator) as (emu,), requests.Session() as http:
            token = http.post(
                f"{emu.url}/v2/token",
                json={"grant_type": "client_credentials", "client_id": CLIENT_ID, "client_secret": CLIENT_SECRET},
                timeout=30,
            ).json()["access_token"]
            bearer = {"Authorization": f"Bearer {token}"}
            rowset_url = f"{emu.url}/hub/v1/dataevents/key:{DE_KEY}/rowset"

            def soap(batch):
                body = soap_create(token, batch)
                answer = http.post(
                    f"{emu.url}/Service.asmx",
                    data=body,
                    headers={"Content-Type": "text/xml; charset=utf-8", "SOAPAction": "Create"},
                    timeout=300,
                )
                ok = answer.status_code == 200 and answer.content.count(b"<StatusCode>OK</StatusCode>") == len(batch)
                if not ok:
                    raise click.ClickException(f"SOAP Create failed: {answer.status_code} {answer.text[:300]}")

            def rest(batch, size):
                for start in range(0, len(batch), size):
                    answer = http.post(rowset_url, json=batch[start : start + size], headers=bearer, timeout=300)
                    if answer.status_code != 200:
                        raise click.ClickException(f"REST rowset failed: {answer.status_code} {answer.text[:300]}")

            variants = {
                "soap_create": lambda batch: soap(batch),
                "rest_one_rowset": lambda batch: rest(batch, len(batch)),
                "rest_50_row_rowsets": lambda batch: rest(batch, 50),
            }
            soap(  # warm-up: imports, caches, the first connection
                [row(f"warm-{i}", i) for i in range(50)]
            )
            seconds: dict[str, list[float]] = {name: [] for name in variants}
            for repeat in range(repeats):
                for name, run in variants.items():
                    batch = [row(f"{name}-{repeat}-{i}", i) for i in range(rows)]
                    seconds[name].append(timed(lambda run=run, batch=batch: run(batch)))
            soap_bytes = len(soap_create(token, [row(f"size-{i}", i) for i in range(rows)]))
            rest_bytes = len(json.dumps([row(f"size-{i}", i) for i in range(rows)]))

    figures = {}
    for name, spent in seconds.items():
        median = statistics.median(spent)
        figures[name] = {"median_s": round(median, 3), "rows_per_s": round(rows / median, 1), "runs_s": spent}
        click.echo(
            f"{name:<20} {rows} rows  median {median * 1000:8.1f} ms  {rows / median:9.1f} rows/s  "
            f"(runs: {', '.join(f'{s * 1000:.0f} ms' for s in spent)})"
        )
    soap_rate = figures["soap_create"]["rows_per_s"]
    ratios = {
        "soap_over_rest_one_rowset": round(soap_rate / figures["rest_one_rowset"]["rows_per_s"], 3),
        "soap_over_rest_50_row_rowsets": round(soap_rate / figures["rest_50_row_rowsets"]["rows_per_s"], 3),
    }
    click.echo(f"ratio SOAP ÷ REST one {rows}-row rowset: {ratios['soap_over_rest_one_rowset']:.2f}")
    click.echo(f"ratio SOAP ÷ REST 50-row rowsets:      {ratios['soap_over_rest_50_row_rowsets']:.2f}")
    click.echo(
        f"bodies: SOAP {soap_bytes / 1024:.0f} KiB, REST JSON {rest_bytes / 1024:.0f} KiB for {rows} rows; "
        f"server: waitress {threads} threads on 127.0.0.1, --rate-limit 0, file database; client: {TOOL}; "
        f"{repeats} runs per variant"
    )
    if json_out:
        json_out.write_text(json.dumps({"rows": rows, "figures": figures, "ratios": ratios}, indent=2))


if __name__ == "__main__":
    main()
