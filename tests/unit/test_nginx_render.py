"""nginx/render.py: what the rendered configuration says, and what it
refuses to render. ``nginx -t`` on the output is in
tests/functional/test_nginx_config.py."""
from __future__ import annotations

import re
from pathlib import Path

import pytest

from support.nginx import render

NODES = ("127.0.0.1:8001", "10.0.0.12:8000", "chat-3.internal:8000")
# A location block, in text without comments.
LOCATION = re.compile(r"(?m)^location [^{]*\{[^}]*\}")
CERT, KEY = Path("/etc/ssl/chat.pem"), Path("/etc/ssl/chat.key")


def plain(**changes: object) -> str:
    return render.render_site(render.Site(nodes=NODES, **changes))


def tls(**changes: object) -> str:
    return render.render_site(render.Site(
        nodes=NODES, tls_cert=CERT, tls_key=KEY, **changes))


def block(text: str, header: str) -> str:
    """The body of the first ``header { ... }`` block (nested braces kept)."""
    start = text.index(header + " {") + len(header) + 2
    depth = 1
    for index in range(start, len(text)):
        depth += {"{": 1, "}": -1}.get(text[index], 0)
        if depth == 0:
            return text[start:index]
    raise AssertionError(f"unclosed block {header!r}")


def directives(text: str) -> list[str]:
    """Directive lines, comments and blank lines left out."""
    return [line.strip() for line in text.splitlines()
            if line.strip() and not line.strip().startswith("#")]


@pytest.mark.parametrize("text", [plain(), tls()], ids=["plain", "tls"])
def test_upstream_hashes_the_whole_client_address(text: str) -> None:
    upstream = directives(block(text, "upstream chatio_nodes"))
    assert upstream[0] == "hash $remote_addr consistent;"
    assert upstream[1:] == [f"server {node};" for node in NODES]
    assert not any(line.startswith("ip_hash") for line in directives(text))
    # The reason is written next to it.
    assert "first three octets" in block(text, "upstream chatio_nodes")


@pytest.mark.parametrize("text", [plain(), tls()], ids=["plain", "tls"])
def test_socketio_location_passes_upgrades_and_does_not_buffer(text: str) -> None:
    location = directives(block(text, "location /socket.io/"))
    for line in ["proxy_pass http://chatio_nodes;",
                 "proxy_http_version 1.1;",
                 "proxy_set_header Host $http_host;",
                 "proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;",
                 "proxy_set_header X-Forwarded-Proto $scheme;",
                 "proxy_set_header X-Forwarded-Host $http_host;",
                 "proxy_set_header Upgrade $http_upgrade;",
                 "proxy_set_header Connection $chatio_connection_upgrade;",
                 "proxy_buffering off;"]:
        assert line in location
    assert directives(block(text, "map $http_upgrade $chatio_connection_upgrade")) \
        == ["default upgrade;", "''      close;"]


def test_timeouts_are_well_above_the_heartbeat() -> None:
    location = directives(block(plain(), "location /socket.io/"))
    read = [l for l in location if l.startswith("proxy_read_timeout")]
    send = [l for l in location if l.startswith("proxy_send_timeout")]
    assert read == ["proxy_read_timeout 75s;"]
    assert send == ["proxy_send_timeout 75s;"]
    # CHATIO_PING_INTERVAL + CHATIO_PING_TIMEOUT defaults: 25 + 20 s.
    assert render.DEFAULT_TIMEOUT > 25 + 20
    assert "proxy_read_timeout 120s;" in plain(timeout=120)


@pytest.mark.parametrize("text", [plain(), tls()], ids=["plain", "tls"])
def test_every_route_is_proxied_except_metrics_and_readyz(text: str) -> None:
    text = text[text.rindex("server {"):]
    for header in ("location = /healthz", "location /api/", "location /"):
        assert directives(block(text, header)) == ["proxy_pass http://chatio_nodes;"]
    assert directives(block(text, "location ^~ /metrics")) == ["return 404;"]
    assert directives(block(text, "location = /readyz")) == ["return 404;"]


@pytest.mark.parametrize("text", [plain(), tls()], ids=["plain", "tls"])
def test_forwarding_headers_are_set_for_every_proxied_location(text: str) -> None:
    # The last server block is the one that proxies (TLS puts the redirect
    # first).
    server = block(text[text.rindex("server {"):], "server")
    # Server-level headers, inherited by locations without their own.
    top = directives(LOCATION.sub("", "\n".join(directives(server))))
    assert "proxy_set_header Host $http_host;" in top
    assert "proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;" in top
    assert "proxy_set_header X-Forwarded-Proto $scheme;" in top
    # Replaced, so a client's own X-Forwarded-Host never reaches a node.
    assert "proxy_set_header X-Forwarded-Host $http_host;" in top


@pytest.mark.parametrize("text", [plain(), tls()], ids=["plain", "tls"])
def test_security_headers(text: str) -> None:
    lines = directives(text)
    for header in ('X-Content-Type-Options "nosniff"',
                   'Referrer-Policy "no-referrer"',
                   'X-Frame-Options "DENY"',
                   """Content-Security-Policy "frame-ancestors 'none'\""""):
        assert f"add_header {header} always;" in lines
    # Only at server level: a location's add_header would drop them all.
    locations = LOCATION.findall("\n".join(directives(text)))
    assert len(locations) >= 6
    for location in locations:
        assert "add_header" not in location


def test_plain_variant_listens_without_tls() -> None:
    text = plain(listen=render.Listen(8080, "127.0.0.1"), server_name="chat.test")
    lines = directives(text)
    assert "listen 127.0.0.1:8080;" in lines
    assert "server_name chat.test;" in lines
    assert not any(line.startswith(("ssl_", "listen 443")) for line in lines)
    assert "Strict-Transport-Security" not in text
    assert "listen 80;" in directives(plain())


def test_tls_variant_uses_modern_protocols_and_hsts() -> None:
    lines = directives(tls())
    assert "listen 443 ssl;" in lines
    assert f'ssl_certificate "{CERT}";' in lines
    assert f'ssl_certificate_key "{KEY}";' in lines
    assert "ssl_protocols TLSv1.2 TLSv1.3;" in lines
    assert 'add_header Strict-Transport-Security "max-age=63072000" always;' in lines
    ciphers = next(l for l in lines if l.startswith("ssl_ciphers"))
    assert all(c.startswith("ECDHE-") for c in ciphers[12:-1].split(":"))


def test_tls_variant_redirects_plain_http() -> None:
    redirect = block(tls(), "server")
    assert directives(redirect)[0] == "listen 80;"
    assert "return 301 https://$host$request_uri;" in redirect
    moved = tls(listen=render.Listen(8443, "127.0.0.1"),
                redirect_listen=render.Listen(8080, "127.0.0.1"))
    redirect = block(moved, "server")
    assert "listen 127.0.0.1:8080;" in directives(redirect)
    assert "return 301 https://$host:8443$request_uri;" in redirect
    assert "listen 127.0.0.1:8443 ssl;" in directives(moved)


def test_redirect_defaults_to_port_80_on_the_tls_address() -> None:
    text = tls(listen=render.Listen(443, "192.0.2.1"))
    assert directives(block(text, "server"))[0] == "listen 192.0.2.1:80;"


def test_round_robin_is_labelled_and_not_sticky() -> None:
    text = plain(balance="round-robin")
    upstream = block(text, "upstream chatio_nodes")
    assert directives(upstream) == [f"server {node};" for node in NODES]
    assert "TEST ONLY" in upstream
    assert "TEST-ONLY round-robin" in text.splitlines()[0]


@pytest.mark.parametrize("text", [plain(), tls(), plain(balance="round-robin")])
def test_no_placeholder_is_left(text: str) -> None:
    assert "{{" not in text and "}}" not in text


def test_standalone_keeps_everything_in_its_directory(tmp_path: Path) -> None:
    text = render.render_standalone(render.Site(nodes=NODES), tmp_path)
    lines = directives(text)
    assert lines[0] == "daemon off;"
    assert f'pid "{tmp_path}/nginx.pid";' in lines
    assert f'error_log "{tmp_path}/error.log" notice;' in lines
    assert f'access_log "{tmp_path}/access.log" chatio;' in lines
    for kind in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi"):
        assert f'{kind}_temp_path "{tmp_path}/{kind}_temp";' in lines
    assert not any(line.startswith("user ") for line in lines)
    assert "hash $remote_addr consistent;" in block(text, "http")
    with_user = render.render_standalone(render.Site(nodes=NODES), tmp_path,
                                         user="chatio", error_log_level="info")
    assert "user chatio;" in directives(with_user)
    assert f'error_log "{tmp_path}/error.log" info;' in directives(with_user)


@pytest.mark.parametrize("text, expected", [
    ("8080", render.Listen(8080)),
    ("127.0.0.1:8080", render.Listen(8080, "127.0.0.1")),
    ("[::1]:443", render.Listen(443, "::1")),
    (" 0.0.0.0:80 ", render.Listen(80, "0.0.0.0")),
])
def test_parse_listen(text: str, expected: object) -> None:
    assert render.parse_listen(text) == expected


def test_ipv6_listen_is_bracketed() -> None:
    assert str(render.Listen(443, "::")) == "[::]:443"


@pytest.mark.parametrize("text", [
    "", "0", "65536", "http", "localhost:80", "::1:443", "[127.0.0.1]:80",
    "127.0.0.1:", "127.0.0.1:80;",
])
def test_parse_listen_refuses(text: str) -> None:
    with pytest.raises(render.ConfigError):
        render.parse_listen(text)


@pytest.mark.parametrize("node", [
    "127.0.0.1:8000", "chat-1.internal:8000", "[::1]:8000", "node:1",
])
def test_accepted_nodes(node: str) -> None:
    render.Site(nodes=(node,)).validate()


@pytest.mark.parametrize("node, message", [
    ("127.0.0.1", "HOST:PORT"),
    ("127.0.0.1:0", "port"),
    ("::1:8000", "IPv6"),
    ("[zz]:8000", "IPv6"),
    ("bad host:8000", "host name"),
    ("node;evil:8000", "host name"),
    ("node:80 backup", "port"),
])
def test_refused_nodes(node: str, message: str) -> None:
    with pytest.raises(render.ConfigError, match=message):
        render.Site(nodes=(node,)).validate()


@pytest.mark.parametrize("changes, message", [
    ({"nodes": ()}, "at least one node"),
    ({"server_name": "chat.test; evil"}, "server name"),
    ({"server_name": ""}, "server name"),
    ({"tls_cert": CERT}, "go together"),
    ({"tls_key": KEY}, "go together"),
    ({"tls_cert": Path("cert.pem"), "tls_key": KEY}, "absolute"),
    ({"tls_cert": Path("/etc/ssl/$x.pem"), "tls_key": KEY}, "character"),
    ({"tls_cert": Path('/etc/ssl/a".pem'), "tls_key": KEY}, "character"),
    ({"redirect_listen": render.Listen(80)}, "needs TLS"),
    ({"tls_cert": CERT, "tls_key": KEY, "listen": render.Listen(80)}, "both listen"),
    ({"balance": "ip_hash"}, "balance"),
    ({"timeout": 0}, "timeout"),
])
def test_refused_sites(changes: dict[str, object], message: str) -> None:
    site = render.Site(**{"nodes": NODES, **changes})
    with pytest.raises(render.ConfigError, match=message):
        render.render_site(site)


def test_standalone_refuses_bad_user_and_relative_prefix(tmp_path: Path) -> None:
    site = render.Site(nodes=NODES)
    with pytest.raises(render.ConfigError, match="user"):
        render.render_standalone(site, tmp_path, user="root;")
    with pytest.raises(render.ConfigError, match="absolute"):
        render.render_standalone(site, Path("relative"))
    with pytest.raises(render.ConfigError, match="error log level"):
        render.render_standalone(site, tmp_path, error_log_level="loud")


def test_fill_indents_multiline_values_and_drops_empty_lines() -> None:
    text = render.fill("a {\n    {{body}}\n    {{gone}}\n}\nx={{v}};\n",
                       {"body": "b;\n\nc;", "gone": "", "v": "1"})
    assert text == "a {\n    b;\n\n    c;\n}\nx=1;\n"


def test_fill_refuses_missing_values() -> None:
    with pytest.raises(KeyError, match="other"):
        render.fill("{{one}} {{other}}", {"one": "1"})


def test_cli_writes_the_site(capsys: pytest.CaptureFixture[str]) -> None:
    assert render.main(["--node", NODES[0], "--node", NODES[1],
                        "--listen", "127.0.0.1:8080"]) == 0
    out = capsys.readouterr().out
    assert out == render.render_site(render.Site(
        nodes=NODES[:2], listen=render.Listen(8080, "127.0.0.1")))


def test_cli_tls_standalone_to_a_file(tmp_path: Path) -> None:
    output = tmp_path / "nginx.conf"
    assert render.main([
        "--node", NODES[0], "--server-name", "chat.example.com",
        "--tls-cert", str(CERT), "--tls-key", str(KEY),
        "--listen", "8443", "--redirect-listen", "8080",
        "--standalone", str(tmp_path), "--user", "chatio",
        "-o", str(output)]) == 0
    text = output.read_text()
    assert "daemon off;" in text and "user chatio;" in text
    assert "listen 8443 ssl;" in text and "listen 8080;" in text
    assert "server_name chat.example.com;" in text


def test_cli_round_robin_is_an_explicit_choice(
        capsys: pytest.CaptureFixture[str]) -> None:
    assert render.main(["--node", NODES[0], "--balance", "round-robin"]) == 0
    assert "hash $remote_addr" not in capsys.readouterr().out


@pytest.mark.parametrize("argv, message", [
    (["--node", "nowhere"], "HOST:PORT"),
    (["--node", NODES[0], "--tls-cert", str(CERT)], "go together"),
    (["--node", NODES[0], "--user", "chatio"], "--standalone"),
])
def test_cli_reports_bad_options(argv: list[str], message: str,
                                 capsys: pytest.CaptureFixture[str]) -> None:
    assert render.main(argv) == 2
    err = capsys.readouterr().err
    assert err.startswith("render.py: ") and message in err


def test_cli_reports_a_bad_listen_as_a_usage_error(
        capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        render.main(["--node", NODES[0], "--listen", "127.0.0.1:http"])
    assert exit_info.value.code == 2
    assert "port 'http' is not 1 to 65535" in capsys.readouterr().err
