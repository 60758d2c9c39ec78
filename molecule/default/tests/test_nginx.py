"""The tutorial's nginx proxy in front of Pulsar: jobs and big uploads through port 80."""

testinfra_hosts = ["pulsarservers"]

GIB = 1024**3


def test_nginx_active_with_valid_config(host):
    assert host.service("nginx").is_running
    assert host.service("nginx").is_enabled
    assert host.run("nginx -t -q").rc == 0
    assert host.socket("tcp://0.0.0.0:80").is_listening


def test_default_site_removed(host):
    # nginx_enable_default_server: false in the tutorial's group_vars
    assert not host.file("/etc/nginx/sites-enabled/default").exists
    assert host.file("/etc/nginx/sites-enabled/pulsar-proxy").is_symlink


def test_nginx_conf_http_applied(host):
    assert "client_max_body_size 5g;" in host.file("/etc/nginx/nginx.conf").content_string


def test_real_job_through_nginx(pulsar_check):
    cmd = pulsar_check("http://localhost:80/")
    assert cmd.rc == 0, cmd.stdout + cmd.stderr


def test_wrong_token_refused_through_nginx(pulsar_check):
    cmd = pulsar_check("http://localhost:80/", token="not-the-token")
    assert cmd.rc != 0
    assert "401" in cmd.stdout + cmd.stderr


def test_1gib_chunked_upload_through_nginx_arrives_whole(host, stage_upload):
    report = stage_upload("http://localhost:80", GIB)
    assert report["stored_size"] == GIB
    assert report["stored_sha256"] == report["sha256"]
    # Streamed, not spooled: nginx kept no temporary copy of the body.
    assert "buffered to a temporary file" not in host.file("/var/log/nginx/error.log").content_string


def test_token_not_in_nginx_logs(host, pulsar, pulsar_check):
    assert pulsar_check("http://localhost:80/").rc == 0
    logs = host.run("cat /var/log/nginx/access.log /var/log/nginx/error.log").stdout
    assert "/jobs" in logs  # the jobs above were logged...
    assert pulsar["token"] not in logs  # ...without the token
    assert "private_token" not in logs
