"""Unit tests of plugins/filter/broker.py: AMQP broker URLs as kombu reads them."""

import importlib.util
from pathlib import Path

import pytest

PLUGIN = Path(__file__).resolve().parents[4] / "plugins/filter/broker.py"
SPEC = importlib.util.spec_from_file_location("galaxy_ops_broker_filters", PLUGIN)
broker = importlib.util.module_from_spec(SPEC)
SPEC.loader.exec_module(broker)

# The shapes real sites and the GTN tutorial use (passwords changed).
ACCEPTED = [
    # GTN tutorial, usegalaxy.eu, Galaxy Australia: vhost with slashes, TLS by query option.
    ("pyamqp://galaxy_au:s3cret@mq.example.org:5671//pulsar/galaxy_au?ssl=1",
     [{"host": "mq.example.org", "port": 5671, "ssl": True}]),
    # RabbitMQ's default vhost "/".
    ("amqp://pulsar:s3cret@rabbit.example.org:5672//", [{"host": "rabbit.example.org", "port": 5672, "ssl": False}]),
    ("amqps://pulsar:s3cret@rabbit.example.org/pulsar", [{"host": "rabbit.example.org", "port": 5671, "ssl": True}]),
    ("amqp://pulsar:s3cret@rabbit.example.org/pulsar?ssl=1&heartbeat=30",
     [{"host": "rabbit.example.org", "port": 5671, "ssl": True}]),
    ("amqp://pulsar:s3cret@rabbit/%2Fpulsar", [{"host": "rabbit", "port": 5672, "ssl": False}]),
    ("amqp://pulsar:s3cret@[2001:db8::10]:5672/pulsar", [{"host": "2001:db8::10", "port": 5672, "ssl": False}]),
    ("amqp://pulsar:s3cret@10.0.0.5/pulsar", [{"host": "10.0.0.5", "port": 5672, "ssl": False}]),
    ("amqp://rabbit.example.org", [{"host": "rabbit.example.org", "port": 5672, "ssl": False}]),
    # kombu's failover list.
    ("amqp://p:pw@mq1.example.org:5672/pulsar;amqp://p:pw@mq2.example.org:5672/pulsar",
     [{"host": "mq1.example.org", "port": 5672, "ssl": False}, {"host": "mq2.example.org", "port": 5672, "ssl": False}]),
    ("amqp://p:p%40ss%2Fword@rabbit/pulsar", [{"host": "rabbit", "port": 5672, "ssl": False}]),
    ("amqp://p:pw@rabbit/v@host", [{"host": "rabbit", "port": 5672, "ssl": False}]),
]


@pytest.mark.parametrize("url,brokers", ACCEPTED, ids=[case[0] for case in ACCEPTED])
def test_real_sites_urls_are_accepted(url, brokers):
    info = broker.amqp_url_info(url)
    assert info["problems"] == []
    assert info["brokers"] == brokers


REFUSED = [
    ("rabbit.example.org:5672", "scheme"),
    ("amqp://pulsar:s3cret@/pulsar", "host"),
    ("http://rabbit.example.org/", "scheme"),
    ("librabbitmq://rabbit/", "scheme"),
    ("amqp://p:pw@rabbit:0/pulsar", "port"),
    ("amqp://p:pw@rabbit:65536/pulsar", "port"),
    ("amqp://p:pw@rabbit:56x2/pulsar", "port"),
    ("amqp://p:pw@rab bit/pulsar", "host"),
    ("amqp://p:pw@rabbit/pulsar?ssl", "option"),
    ("amqp://p:pw@rabbit/pulsar;", "empty"),
    ("amqp://p:pw/x@rabbit/pulsar", "percent-encode"),
    ("amqp://p:p@ss@rabbit/pulsar", "percent-encode"),
    ("amqp://p:pa;ss@rabbit/pulsar", "%3B"),
    ("amqp://p:pa#ss@rabbit/pulsar", "percent-encode"),
    ("amqp://p:p@/ss@rabbit/pulsar", "percent-encode"),
]


@pytest.mark.parametrize("url,word", REFUSED, ids=[case[0] for case in REFUSED])
def test_malformed_urls_are_refused_with_the_reason(url, word):
    problems = broker.amqp_url_info(url)["problems"]
    assert problems and any(word in p for p in problems), problems


@pytest.mark.parametrize("url,masked", [
    ("pyamqp://galaxy_au:s3cret@mq:5671//pulsar/galaxy_au?ssl=1", "pyamqp://galaxy_au:***@mq:5671//pulsar/galaxy_au?ssl=1"),
    ("amqp://p:pw1@mq1/v;amqp://p:pw2@mq2/v", "amqp://p:***@mq1/v;amqp://p:***@mq2/v"),
    ("amqp://pulsar:s3cret-pw@/pulsar", "amqp://pulsar:***@/pulsar"),
    ("amqp://only-user@mq/v", "amqp://only-user@mq/v"),
    ("amqp://p:pa:ss@mq/v", "amqp://p:***@mq/v"),
    ("amqp://p:pw/x@mq/v", "amqp://p:***@mq/v"),
    ("amqp://p:p@ss@mq/v", "amqp://p:***@mq/v"),
    ("amqp://p:pw@mq/v@x", "amqp://p:***@x"),
    ("amqp://user:pa;ss@host//", "amqp://user:***@host//"),
    ("amqp://user:p@/ss@host//v", "amqp://user:***@host//v"),
    ("amqp://user:pa#ss@host//v", "amqp://user:***@host//v"),
    ("p:pw@mq:5672", "p:***@mq:5672"),
    (None, ""),
])
def test_the_password_is_masked_in_every_url(url, masked):
    assert broker.amqp_url_info(url)["masked"] == masked


def test_problems_do_not_show_the_password():
    for url in (case[0] for case in REFUSED):
        for problem in broker.amqp_url_info(url)["problems"]:
            assert "s3cret" not in problem and ":pw" not in problem and "ss@" not in problem, problem
            assert "'pa'" not in problem and "/ss" not in problem, problem


# kombu takes ?ssl=1 from the URL in place of the ssl options Pulsar and Galaxy
# pass (amqp_connect_ssl_*), and py-amqp then checks nothing (5.0.2, the GTN
# tutorial's pin) or the chain without the name (5.0.6 and later). The URL
# kombu is given names TLS by those options alone, which check both.
CA = "/etc/ssl/certs/ca-certificates.crt"
TLS = [
    ("pyamqp://galaxy_au:s3cret@mq.example.org:5671//pulsar/galaxy_au?ssl=1",
     "pyamqp://galaxy_au:s3cret@mq.example.org:5671//pulsar/galaxy_au", "mq.example.org"),
    ("amqp://p:pw@rabbit.example.org/pulsar?heartbeat=30&ssl=true&x=1",
     "amqp://p:pw@rabbit.example.org/pulsar?heartbeat=30&x=1", "rabbit.example.org"),
    ("amqps://p:pw@[2001:db8::10]/pulsar", "amqps://p:pw@[2001:db8::10]/pulsar", "2001:db8::10"),
    ("amqp://p:a%26ssl%3Dx@mq.example.org/v?heartbeat=30&%73sl=1", "amqp://p:a%26ssl%3Dx@mq.example.org/v?heartbeat=30",
     "mq.example.org"),
]


@pytest.mark.parametrize("url,kombu_url,hostname", TLS, ids=[case[0] for case in TLS])
def test_tls_urls_are_verified_by_certificate_and_name(url, kombu_url, hostname):
    tls = broker.amqp_tls(url, CA)
    assert tls["url"] == kombu_url
    assert tls["params"] == {"amqp_connect_ssl_cert_reqs": "CERT_REQUIRED", "amqp_connect_ssl_ca_certs": CA,
                             "amqp_connect_ssl_server_hostname": hostname}


def test_a_tls_failover_list_is_checked_by_chain_only():
    """kombu keeps one ssl dict for all brokers of the list: no one name fits them all."""
    tls = broker.amqp_tls("amqp://p:pw@mq1:5671/v?ssl=1;amqp://p:pw@mq2:5671/v?ssl=true", CA)
    assert tls["url"] == "amqp://p:pw@mq1:5671/v;amqp://p:pw@mq2:5671/v"
    assert tls["params"] == {"amqp_connect_ssl_cert_reqs": "CERT_REQUIRED", "amqp_connect_ssl_ca_certs": CA}


@pytest.mark.parametrize("query", ["ssl=0", "ssl=false", "ssl=", "SSL=1", "ssl=1&ssl=1", "ssl=0&ssl=1"])
def test_ssl_options_kombu_reads_otherwise_are_refused(query):
    """kombu turns TLS on for any value of ssl (ssl=0 too), reads the lower-case name only, and the last one."""
    info = broker.amqp_url_info(f"amqp://p:pw@mq/v?{query}")
    assert info["problems"] and "ssl" in info["problems"][0], info


def test_galaxy_gets_no_server_hostname():
    """Galaxy 26.1's runner refuses parameters it does not know, server_hostname among them."""
    tls = broker.amqp_tls(TLS[0][0], CA, server_hostname=False)
    assert tls["params"] == {"amqp_connect_ssl_cert_reqs": "CERT_REQUIRED", "amqp_connect_ssl_ca_certs": CA}


def test_the_admins_own_tls_settings_win():
    given = {"amqp_connect_ssl_cert_reqs": "CERT_NONE", "amqp_connect_ssl_ca_certs": "/etc/site-ca.pem"}
    tls = broker.amqp_tls(TLS[0][0], CA, given)
    assert tls["url"] == TLS[0][1]
    assert tls["params"] == {"amqp_connect_ssl_server_hostname": "mq.example.org"}


@pytest.mark.parametrize("url", ["amqp://p:pw@rabbit/pulsar", "amqp://p:pw@rabbit/pulsar?x=1", "", None,
                                 "amqp://p:pw@/pulsar?ssl=1"])
def test_plain_or_broken_urls_are_left_alone(url):
    assert broker.amqp_tls(url, CA) == {"url": "" if url is None else url, "params": {}, "tls": False}


def test_a_failover_list_mixing_tls_and_plain_is_refused():
    info = broker.amqp_url_info("amqp://p:pw@mq1:5671/v?ssl=1;amqp://p:pw@mq2:5672/v")
    assert info["problems"] and "TLS" in info["problems"][0] and "pw" not in info["problems"][0]


@pytest.mark.parametrize("url, vhosts", [
    ("pyamqp://galaxy_au:pw@MQ.example.org:5671//pulsar/galaxy_au?ssl=1", ["mq.example.org:5671//pulsar/galaxy_au"]),
    ("amqp://u:pw@mq.example.org/", ["mq.example.org:5672//"]),
    ("amqp://u:pw@mq.example.org//", ["mq.example.org:5672//"]),
    ("amqps://u:pw@mq.example.org/galaxy%2Fpulsar", ["mq.example.org:5671/galaxy/pulsar"]),
    ("amqp://u:pw@mq.example.org?ssl=1", ["mq.example.org:5671//"]),
    ("amqp://a:pw@mq1/x;amqp://b:pw@[2001:db8::1]:5673/x", ["mq1:5672/x", "[2001:db8::1]:5673/x"]),
    ("", []),
])
def test_the_vhosts_a_url_names_ignore_accounts_and_spelling(url, vhosts):
    assert broker.amqp_vhosts(url) == vhosts
