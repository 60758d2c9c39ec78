# Copyright: galaxy_ops maintainers
# MIT License (see LICENSE)
"""AMQP broker URLs as Pulsar's kombu reads them: what is wrong with one, the
same URL with its passwords masked, and the brokers it names."""

from __future__ import annotations

import re
from urllib.parse import unquote

# Schemes kombu serves with the py-amqp transport that pulsar-app[amqp] installs.
SCHEMES = ("amqp", "amqps", "pyamqp")
DEFAULT_PORT = 5672
DEFAULT_SSL_PORT = 5671
TRUE = ("1", "true", "yes", "on")

# scheme://[user[:password]@]host[:port][/virtual host][?options]; the virtual
# host is everything after the first slash (so "//" is RabbitMQ's "/", and
# "//pulsar/galaxy_au" is "/pulsar/galaxy_au"). IPv6 literals in brackets.
URL = re.compile(
    r"^(?P<scheme>[A-Za-z][A-Za-z0-9+.-]*)://"
    r"(?:(?P<userinfo>[^@/?#]*)@)?"
    r"(?P<host>\[[0-9A-Fa-f:.]+\]|[^:/?#\[\]]*)"
    r"(?::(?P<port>[^/?#]*))?"
    r"(?P<path>/[^?#]*)?"
    r"(?:\?(?P<query>[^#]*))?$"
)
HOSTNAME = re.compile(r"^[A-Za-z0-9_]([A-Za-z0-9._-]*[A-Za-z0-9_])?$")


def _split(url):
    """(scheme with ://, rest, end of the authority in rest)."""
    head, sep, rest = url.partition("://")
    if not sep:
        head, rest = "", url
    end = min([rest.find(c) for c in "/?#" if c in rest] or [len(rest)])
    return (head + sep, rest, end)


def _mask(url):
    """One URL with the password of its user info replaced by ***: everything
    from the user name's colon to the last @ (so a password with an unencoded
    /, ?, #, ; or @ is masked whole; an @ in the vhost masks more than needed,
    never less)."""
    head, rest = _split(url)[:2]
    at = rest.rfind("@")
    user, colon = rest[:max(at, 0)].partition(":")[:2]
    return f"{head}{user}:***{rest[at:]}" if at >= 0 and colon else url


UNENCODED = "the user name or password holds /, ?, # or @: percent-encode them (%2F, %3F, %23, %40)"

# kombu's failover separator: a ; that starts another scheme://.
FAILOVER = re.compile(r";(?=\s*[A-Za-z][A-Za-z0-9+.-]*://)|;\s*$")


def _one(url, where):
    """(problems, broker) of one URL of a failover list."""
    if ";" in url:
        # kombu splits the string at every ;: one inside a URL breaks it.
        return [f"{where}: a ; inside a URL (in the password?): percent-encode it (%3B)"], None
    m = URL.match(url)
    if not m and "://" in url and "@" in url:
        return [f"{where}: {UNENCODED}"], None
    if not m:
        return [f"{where}: not scheme://[user:password@]host[:port][/vhost][?options] (no scheme?)"], None
    scheme, host, port, query = m.group("scheme"), m.group("host"), m.group("port"), m.group("query")
    problems = []
    if scheme.lower() not in SCHEMES:
        problems.append(f"{where}: scheme {scheme}:// is not one of {', '.join(SCHEMES)}")
    name = host[1:-1] if host.startswith("[") else host
    if not name:
        problems.append(f"{where}: no broker host")
    elif not host.startswith("[") and not HOSTNAME.match(host):
        problems.append(f"{where}: {host!r} is not a host name or address")
    if port is not None and not (port.isdigit() and 1 <= int(port) <= 65535):
        problems.append(f"{where}: port {port!r} is not a TCP port (1-65535)")
    options = {}
    for pair in (query or "").split("&") if query else []:
        key, sep, value = pair.partition("=")
        if not key or not sep:
            problems.append(f"{where}: option {pair!r} is not name=value")
        key = unquote(key)
        if key.lower() == "ssl" and (key != "ssl" or "ssl" in options):
            problems.append(f"{where}: give the option ssl once, in lower case (kombu reads ssl only, the last one)")
        options[key] = unquote(value)
    ssl_option = options.get("ssl")
    if ssl_option is not None and ssl_option.lower() not in TRUE:
        problems.append(f"{where}: ssl={ssl_option}: kombu turns TLS on for any value of ssl; "
                        "write ssl=1 or leave the option out")
    rest, end = _split(url)[1:]
    if problems and ("@" in rest[end:] or "@" in host):
        # Most likely a password with an unencoded /, ?, # or @: say so, and
        # echo no piece of it.
        return [f"{where}: {UNENCODED}"], None
    ssl = scheme.lower() == "amqps" or ssl_option is not None
    default_port = DEFAULT_SSL_PORT if ssl else DEFAULT_PORT
    broker = {"host": name, "port": int(port) if port and port.isdigit() else default_port, "ssl": ssl}
    return problems, broker


def amqp_url_info(url):
    """{problems: [...], masked: URL with passwords as ***, brokers: [{host, port, ssl}]}.

    A kombu failover list (URLs separated by ';') gives one broker per URL.
    The problems never show a password.
    """
    text = "" if url is None else str(url)
    parts = FAILOVER.split(text)
    masked = ";".join(_mask(part) for part in parts)
    problems, brokers = [], []
    for index, part in enumerate(parts, 1):
        where = _mask(part.strip()) if len(parts) == 1 else f"URL {index} of the failover list"
        if not part.strip():
            problems.append(f"{where}: empty URL")
            continue
        found, broker = _one(part.strip(), where)
        problems += found
        if broker:
            brokers.append(broker)
    if len({broker["ssl"] for broker in brokers}) > 1:
        problems.append(f"{masked}: the failover list mixes TLS and plain URLs, and kombu takes one TLS setting "
                        "for all of them: use TLS (?ssl=1 or amqps://) in every URL or in none")
    return {"problems": problems, "masked": masked, "brokers": brokers if not problems else []}


def amqp_vhosts(url):
    """The virtual hosts a broker URL (or failover list) names, each as host:port/vhost with the host in lower
    case: two URLs naming one of them share Pulsar's queues, whatever their accounts or options. kombu reads the
    path after the first / as the vhost, "/" when it is empty."""
    out = []
    for part in FAILOVER.split("" if url is None else str(url)):
        m = URL.match(part.strip())
        if not m:
            continue
        ssl = m.group("scheme").lower() == "amqps" or "ssl=" in (m.group("query") or "")
        port = m.group("port")
        port = int(port) if port and port.isdigit() else (DEFAULT_SSL_PORT if ssl else DEFAULT_PORT)
        vhost = unquote((m.group("path") or "/")[1:]) or "/"
        out.append(f"{m.group('host').lower()}:{port}/{vhost}")
    return out


SSL_PARAMS = "amqp_connect_ssl_"


def _without_ssl_option(url):
    """One URL (amqp_url_info found no problem in it) without its ssl option, and without a ? left empty."""
    m = URL.match(url)
    if m.group("query") is None:
        return url
    kept = [pair for pair in m.group("query").split("&") if unquote(pair.partition("=")[0]) != "ssl"]
    return url[:m.start("query") - 1] + ("?" + "&".join(kept) if kept else "")


def amqp_tls(url, ca_certs, given=None, server_hostname=True):
    """{url, params, tls}: what Pulsar (app.yml) or Galaxy (the runner) is given for a broker URL, so that TLS
    checks the broker's certificate against ca_certs and its name.

    kombu takes ssl=1 from the URL in place of the ssl options the client passes (amqp_connect_ssl_*): with
    it, py-amqp 5.0.2 (the GTN tutorial's pin) checks nothing and 5.0.6 and later the chain but not the
    name. So the option leaves the URL and TLS comes from the options: the certificate is required, checked
    against ca_certs, and (server_hostname, one broker only) against the broker's name. A failover list gets
    no name to check: kombu keeps one ssl dict for all its brokers (and 5.2 and later write the first one's
    name into it), and py-amqp before 5.0.6 cannot check without a name (a TLS failover list needs 5.0.6 or
    later). Options in given (the admin's amqp_connect_ssl_*) win. A URL without TLS, or
    one amqp_url_info finds problems in, is returned as it is, with no options.
    """
    text = "" if url is None else str(url)
    given = given or {}
    info = amqp_url_info(text)
    brokers = info["brokers"]
    if info["problems"] or not brokers or not all(broker["ssl"] for broker in brokers):
        return {"url": text, "params": {}, "tls": False}
    params = {SSL_PARAMS + "cert_reqs": "CERT_REQUIRED", SSL_PARAMS + "ca_certs": ca_certs}
    if server_hostname and len(brokers) == 1:
        params[SSL_PARAMS + "server_hostname"] = brokers[0]["host"]
    return {"url": ";".join(_without_ssl_option(part) for part in FAILOVER.split(text)),
            "params": {key: value for key, value in params.items() if key not in given}, "tls": True}


class FilterModule:
    """galaxy_ops.pulsar filters for message brokers."""

    def filters(self):
        return {"amqp_url_info": amqp_url_info, "amqp_tls": amqp_tls, "amqp_vhosts": amqp_vhosts}
