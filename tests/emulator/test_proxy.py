"""The HTTPS listener and the forward proxy of ``sfmc-emulator serve``, through a real server process."""

from __future__ import annotations

import re
import socket
import ssl
import subprocess
import sys

import pytest
import requests
from cryptography import x509

from emulator.launcher import start_emulator
from emulator.tls import Backends, FrontDoor, ensure_ca

DEMO_SUB = "mc563885gzs27c5t9-63k636ttgm"
DEMO_CLIENT = {"grant_type": "client_credentials", "client_id": "demo-client-id", "client_secret": "demo-client-secret"}
ROW = [{"keys": {"Contact Key": "proxy-1"}, "values": {"Email": "p@example.com"}}]


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    ca_dir = tmp_path_factory.mktemp("ca")
    server = start_emulator("--proxy-port", "0", "--tls-port", "0", "--ca-dir", str(ca_dir), demo=True)
    text = "\n".join(server.banner)
    server.proxy = "http://" + re.search(r"proxy on http://(\S+?)/", text).group(1)
    server.https = "https://" + re.search(r"HTTPS on https://(\S+?)/", text).group(1)
    server.ca = str(ca_dir / "ca.pem")
    yield server
    server.stop()


def through(served) -> requests.Session:
    session = requests.Session()
    session.trust_env = False
    session.proxies = {"https": served.proxy, "http": served.proxy}
    session.verify = served.ca
    return session


def raw(served, payload: bytes, timeout: float = 5.0, *, then_close: bool = False) -> bytes:
    """Send bytes to the proxy and read until it closes; a hang fails the test through the timeout."""
    host, port = served.proxy.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=timeout) as sock:
        sock.sendall(payload)
        if then_close:
            sock.shutdown(socket.SHUT_WR)
        data = b""
        while chunk := sock.recv(4096):
            data += chunk
    return data


def test_connect_to_the_auth_host_gives_sfmc_names_and_a_rest_call_lands_a_row(served):
    session = through(served)
    token = session.post(f"https://{DEMO_SUB}.auth.marketingcloudapis.com/v2/token", json=DEMO_CLIENT, timeout=10)
    assert token.status_code == 200, token.text
    body = token.json()
    assert body["rest_instance_url"] == f"https://{DEMO_SUB}.rest.marketingcloudapis.com/"
    assert body["soap_instance_url"] == f"https://{DEMO_SUB}.soap.marketingcloudapis.com/"
    written = session.post(
        body["rest_instance_url"] + "hub/v1/dataevents/key:segment-identify/rowset",
        json=ROW,
        headers={"Authorization": f"Bearer {body['access_token']}"},
        timeout=10,
    )
    assert written.status_code == 200, written.text
    rows = requests.get(f"{served.url}/_emulator/tenants/demo/data-extensions/segment-identify/rows", timeout=10)
    assert "proxy-1" in rows.text
    journal = requests.get(f"{served.url}/_emulator/journal", params={"path": "/hub/*"}, timeout=10).json()
    assert f"{DEMO_SUB}.rest.marketingcloudapis.com" in {e["host"] for e in journal["items"]}


def test_absolute_form_plain_http_is_served(served):
    session = through(served)
    answer = session.post(f"http://{DEMO_SUB}.auth.marketingcloudapis.com/v2/token", json=DEMO_CLIENT, timeout=10)
    assert answer.status_code == 200, answer.text
    assert answer.json()["rest_instance_url"] == f"https://{DEMO_SUB}.rest.marketingcloudapis.com/"


def test_absolute_form_https_as_axios_sends_it(served):
    body = b'{"grant_type":"client_credentials","client_id":"demo-client-id","client_secret":"demo-client-secret"}'
    answer = raw(
        served,
        b"POST https://%s.auth.marketingcloudapis.com/v2/token HTTP/1.1\r\nHost: x\r\n"
        b"Content-Type: application/json\r\nContent-Length: %d\r\n\r\n%s" % (DEMO_SUB.encode(), len(body), body),
    )
    assert answer.startswith(b"HTTP/1.1 200")
    assert b"access_token" in answer


def test_https_listener_by_address_answers_with_its_own_https_base(served):
    answer = requests.post(f"{served.https}/v2/token", json=DEMO_CLIENT, verify=served.ca, timeout=10)
    assert answer.status_code == 200
    assert answer.json()["rest_instance_url"] == served.https + "/"


def test_connect_to_another_host_is_refused_with_a_message(served):
    answer = raw(served, b"CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\n\r\n")
    assert answer.startswith(b"HTTP/1.1 403 Forbidden")
    assert b"does not connect to example.com" in answer
    with pytest.raises(requests.exceptions.ProxyError, match="403"):
        through(served).get("https://example.com/", timeout=10)
    plain = through(served).get("http://example.com/", timeout=10)
    assert plain.status_code == 403
    assert "only SFMC's API host names" in plain.text
    wrong_port = raw(
        served, f"CONNECT {DEMO_SUB}.rest.marketingcloudapis.com:8443 HTTP/1.1\r\nHost: x\r\n\r\n".encode()
    )
    assert wrong_port.startswith(b"HTTP/1.1 403") and b"port 443 only" in wrong_port


@pytest.mark.parametrize(
    ("payload", "message"),
    [
        (b"GARBAGE\r\n\r\n", b"Malformed proxy request"),
        (b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03" + b"\x00" * 40, b"Malformed proxy request"),  # TLS, no CONNECT
        (b"CONNECT nohostport HTTP/1.1\r\nHost: x\r\n\r\n", b"target must be host:port"),
        (b"GET /v2/token HTTP/1.1\r\nHost: x\r\n\r\n", b"absolute-form"),
        (b"POST http://x.auth.marketingcloudapis.com/v2/token HTTP/1.1\r\nContent-Length: z\r\n\r\n", b"Malformed"),
        (b"GET http://x.rest.marketingcloudapis.com:99999/ HTTP/1.1\r\nHost: x\r\n\r\n", b"bad port"),
        (b"\r\n\r\n\r\n", b"Malformed proxy request"),
    ],
)
def test_malformed_proxy_requests_get_a_400(served, payload, message):
    answer = raw(served, payload)
    assert answer.startswith(b"HTTP/1.1 400"), answer
    assert message in answer


def test_a_client_closing_early_gets_an_answer_and_the_proxy_lives_on(served):
    assert raw(served, b"CONNECT ", then_close=True).startswith(b"HTTP/1.1 400")  # half a request line
    assert raw(served, b"", then_close=True).startswith(b"HTTP/1.1 400")  # no request at all
    assert (
        through(served)
        .post(f"https://{DEMO_SUB}.auth.marketingcloudapis.com/v2/token", json=DEMO_CLIENT, timeout=10)
        .ok
    )


def test_a_silent_client_gets_a_408_not_a_hang(tmp_path, emulator_server):
    port = int(emulator_server.url.rsplit(":", 1)[1])
    ca = ensure_ca(tmp_path)
    door = FrontDoor(
        Backends(("127.0.0.1", port), ("127.0.0.1", port)), ca.server_context(), proxy_port=0, head_timeout=0.3
    ).start()
    try:
        with socket.create_connection(("127.0.0.1", door.bound["proxy"]), timeout=5) as sock:
            sock.sendall(b"CONNECT x.auth.marketingcloudapis.com:443 HTTP/1.1\r\n")  # and then nothing
            assert sock.recv(4096).startswith(b"HTTP/1.1 408")
    finally:
        door.stop()


def test_the_certificate_covers_sfmc_names_and_a_client_verifies_it(served):
    context = ssl.create_default_context(cafile=served.ca)
    host, port = served.https.removeprefix("https://").split(":")
    for name in (
        f"{DEMO_SUB}.soap.marketingcloudapis.com",
        "webservice.s11.exacttarget.com",
        "auth.exacttargetapis.com",
    ):
        with (
            socket.create_connection((host, int(port)), timeout=5) as sock,
            context.wrap_socket(sock, server_hostname=name) as tls,
        ):
            assert tls.version() in ("TLSv1.2", "TLSv1.3")
    with (
        socket.create_connection((host, int(port)), timeout=5) as sock,
        pytest.raises(ssl.SSLCertVerificationError),
    ):
        context.wrap_socket(sock, server_hostname="example.com")


def test_ca_is_made_once_and_kept(tmp_path):
    first = ensure_ca(tmp_path)
    pem, leaf = first.pem(), first.leaf_path.read_bytes()
    again = ensure_ca(tmp_path)
    assert again.pem() == pem and again.leaf_path.read_bytes() == leaf
    cert = x509.load_pem_x509_certificate(pem.encode())
    assert cert.extensions.get_extension_for_class(x509.BasicConstraints).value.ca
    assert (tmp_path / "ca-key.pem").stat().st_mode & 0o077 == 0
    assert pem in first.bundle_path.read_text()


def cli(*args: str) -> str:
    done = subprocess.run(
        [sys.executable, "-m", "emulator", *args], capture_output=True, text=True, timeout=60, check=True
    )
    return done.stdout


def test_ca_env_and_hosts_commands(tmp_path):
    path = cli("ca", "--ca-dir", str(tmp_path)).strip()
    assert path == str(tmp_path / "ca.pem")
    assert cli("ca", "--ca-dir", str(tmp_path), "--pem").startswith("-----BEGIN CERTIFICATE-----")
    exports = cli("env", "--ca-dir", str(tmp_path), "--proxy-port", "9999")
    assert "export HTTPS_PROXY='http://127.0.0.1:9999'" in exports
    assert f"export NODE_EXTRA_CA_CERTS='{tmp_path / 'ca.pem'}'" in exports
    assert f"export REQUESTS_CA_BUNDLE='{tmp_path / 'bundle.pem'}'" in exports
    lines = cli("hosts", "--db", str(tmp_path / "none.sqlite3"))
    assert f"127.0.0.1 {DEMO_SUB}.auth.marketingcloudapis.com {DEMO_SUB}.rest.marketingcloudapis.com" in lines
    assert "auth.exacttargetapis.com" in lines
