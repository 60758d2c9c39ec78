"""galaxy_ops.pulsar.install_files: each file written only when its content, owner, group or mode differ; check
mode writes nothing; a diff per changed file. Run as Ansible runs a module (its arguments in a JSON file)."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import grp
import json
import os
import pwd
import subprocess
import sys

import pytest

from conftest import ROOT

MODULE = ROOT / "plugins" / "modules" / "install_files.py"
ME, MY_GROUP = pwd.getpwuid(os.getuid()).pw_name, grp.getgrgid(os.getgid()).gr_name


def run(tmp_path, files, check=False, diff=False):
    args = tmp_path / "args.json"
    args.write_text(json.dumps({"ANSIBLE_MODULE_ARGS": {
        "files": files, "_ansible_check_mode": check, "_ansible_diff": diff}}))
    out = subprocess.run([sys.executable, str(MODULE), str(args)], capture_output=True, text=True, check=False)
    return json.loads(out.stdout)


def spec(path, content, mode="0640"):
    return {"dest": str(path), "content": content, "owner": ME, "group": MY_GROUP, "mode": mode}


def test_writes_new_files_then_changes_nothing(tmp_path):
    a, b = tmp_path / "a.ini", tmp_path / "b.sh"
    files = [spec(a, "[a]\nx = 1\n"), spec(b, "#!/bin/sh\n", "0755")]
    first = run(tmp_path, files)
    assert first["changed"] and first["changed_files"] == [str(a), str(b)], first
    assert a.read_text() == "[a]\nx = 1\n" and b.read_text() == "#!/bin/sh\n"
    assert (a.stat().st_mode & 0o7777, b.stat().st_mode & 0o7777) == (0o640, 0o755)
    again = run(tmp_path, files)
    assert not again["changed"] and again["changed_files"] == [], again


def test_only_the_file_that_differs_changes(tmp_path):
    a, b = tmp_path / "a", tmp_path / "b"
    run(tmp_path, [spec(a, "one\n"), spec(b, "two\n")])
    inode = b.stat().st_ino
    result = run(tmp_path, [spec(a, "one, edited\n"), spec(b, "two\n")], diff=True)
    assert result["changed_files"] == [str(a)], result
    assert [f["content_changed"] for f in result["files"]] == [True, False]
    assert a.read_text() == "one, edited\n" and b.stat().st_ino == inode
    assert result["diff"] == [{"before_header": str(a), "after_header": str(a),
                               "before": "one\n", "after": "one, edited\n"}], result


def test_a_mode_alone_is_put_right(tmp_path):
    a = tmp_path / "a"
    run(tmp_path, [spec(a, "x\n")])
    a.chmod(0o666)
    result = run(tmp_path, [spec(a, "x\n")], diff=True)
    assert result["changed"] and not result["files"][0]["content_changed"], result
    assert a.stat().st_mode & 0o7777 == 0o640
    assert result["diff"][0]["before"]["mode"] == "0666" and result["diff"][0]["after"]["mode"] == "0640"


def test_check_mode_writes_nothing_and_says_what_would_change(tmp_path):
    a, new = tmp_path / "a", tmp_path / "new" / "b"
    run(tmp_path, [spec(a, "x\n")])
    a.chmod(0o600)
    result = run(tmp_path, [spec(a, "y\n"), spec(new, "z\n")], check=True, diff=True)
    assert result["changed_files"] == [str(a), str(new)], result
    assert a.read_text() == "x\n" and a.stat().st_mode & 0o7777 == 0o600 and not new.parent.exists()


def test_a_missing_directory_or_a_path_given_twice_fails(tmp_path):
    missing = run(tmp_path, [spec(tmp_path / "no" / "a", "x\n")])
    assert missing.get("failed") and "does not exist" in missing["msg"], missing
    twice = run(tmp_path, [spec(tmp_path / "a", "x\n"), spec(tmp_path / "a", "y\n")])
    assert twice.get("failed") and "twice" in twice["msg"], twice
    assert not (tmp_path / "a").exists()


@pytest.mark.parametrize("content", ["\x00binary\n", "x" * 200000])
def test_a_diff_does_not_show_binary_or_large_content(tmp_path, content):
    result = run(tmp_path, [spec(tmp_path / "a", content)], diff=True)
    assert "not shown" in result["diff"][0]["after"], result


def test_content_that_fails_validation_is_not_written(tmp_path):
    a, b = tmp_path / "a.conf", tmp_path / "b.conf"
    run(tmp_path, [spec(a, "good\n"), spec(b, "good\n")])
    checked = [dict(spec(a, "good, edited\n"), validate="grep -q good %s"),
               dict(spec(b, "bad\n"), validate="grep -q good %s")]
    result = run(tmp_path, checked)
    assert result.get("failed") and f"{b} failed validation" in result["msg"], result
    assert a.read_text() == "good, edited\n" and b.read_text() == "good\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.conf", "args.json", "b.conf"]


def test_links_and_absent_paths_change_only_when_they_differ(tmp_path):
    site, enabled, default = tmp_path / "site", tmp_path / "enabled", tmp_path / "default"
    default.write_text("distribution's site\n")
    files = [spec(site, "server {}\n"), {"dest": str(enabled), "state": "link", "src": str(site)},
             {"dest": str(default), "state": "absent"}]
    check = run(tmp_path, files, check=True, diff=True)
    assert check["changed_files"] == [str(site), str(enabled), str(default)], check
    assert not enabled.is_symlink() and default.exists()
    assert check["diff"][1:] == [
        {"before_header": "%s (absent)" % enabled, "after_header": str(enabled), "before": "",
         "after": "link to %s\n" % site},
        {"before_header": str(default), "after_header": "%s (absent)" % default, "before": "file\n", "after": ""}]
    first = run(tmp_path, files)
    assert first["changed_files"] == [str(site), str(enabled), str(default)], first
    assert os.readlink(enabled) == str(site) and not default.exists()
    assert run(tmp_path, files)["changed_files"] == []
    # A link elsewhere is pointed back; a file in its place is replaced by the link.
    os.remove(enabled)
    os.symlink(str(default), enabled)
    assert run(tmp_path, files)["changed_files"] == [str(enabled)] and os.readlink(enabled) == str(site)
    os.remove(enabled)
    enabled.write_text("not a link\n")
    assert run(tmp_path, files)["changed_files"] == [str(enabled)] and os.readlink(enabled) == str(site)


def test_link_and_absent_take_no_file_settings(tmp_path):
    result = run(tmp_path, [{"dest": str(tmp_path / "l"), "state": "link", "src": "/x", "mode": "0644"}])
    assert result["failed"] and "mode not for state link" in result["msg"], result
    result = run(tmp_path, [{"dest": str(tmp_path / "l"), "state": "link"}])
    assert result["failed"] and "src is for state link, and required there" in result["msg"], result
    result = run(tmp_path, [{"dest": str(tmp_path / "f"), "src": "/x", "content": "x"}])
    assert result["failed"] and "state file takes content, not src" in result["msg"], result
    (tmp_path / "d").mkdir()
    result = run(tmp_path, [{"dest": str(tmp_path / "d"), "state": "absent"}])
    assert result["failed"] and "is a directory" in result["msg"], result
