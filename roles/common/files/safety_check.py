"""Tell, before anything changes, whether a service's jobs could reach root.

Run by the host's own Python as root (never a virtualenv's: the point is to
find out whether that virtualenv can be trusted). One argument, a JSON object:

  user       the service user (it may not exist yet)
  own        paths root relies on (venv, config dir, server dir, home): neither
             they nor an ancestor may be writable by the user
  trees      of those, the ones whose whole content root relies on (the venv,
             the config dir); `rewritten` lists files in them the role
             rewrites anyway (a new root-owned file replaces them)
  tighten    files in those trees the role makes writable by root only
             (uv's lock file in the venv, made 0666 by uv): reported, not
             refused, while they are root's and only their mode lets others
             write
  writable   the directories the service writes (staging, ...): they may be
             the user's, their ancestors may not
  take_over  true when the role created the user: then a directory of `own`
             or above one that the user owns (and no group or other can write)
             was made by an earlier layout or by a job, and is given back to
             root; false when the account is the site's
  keep       paths never given back that way (the venv: a job may have swapped
             it, so root must not run it)
  make       the directories the role creates: their missing ancestors are
             reported, for the role to create as root's first (the file
             module would give them the leaf's owner)
  probe      the unit's sandbox as layers to try in a transient unit, most
             first: [{"name": ..., "settings": {systemd property: value}}],
             or null to skip

Prints one JSON object:

  take_over  existing directories the user owns that the role will chown to
             root (see take_over above)
  create     missing ancestors of `make`, parents first
  tighten    files of `tighten` to make writable by root only (go-w)
  unsafe     "PATH: why" for everything else the user can write; the role
             refuses to run while this is not empty
  sandbox    the name of the first layer that works ("none" if none does,
             null if not probed); sandbox_detail says why the ones before it
             do not
  memory     the host's physical memory in bytes (the service's limits are
             sized from it)
"""

import json
import os
import pwd
import grp
import stat
import subprocess
import sys


def service_ids(name):
    try:
        entry = pwd.getpwnam(name)
    except KeyError:
        return None, set()
    gids = {entry.pw_gid} | {g.gr_gid for g in grp.getgrall() if name in g.gr_mem}
    return entry.pw_uid, gids


def writable(st, uid, gids):
    """Whether the user can write (or, as owner, chmod) the entry."""
    if stat.S_ISLNK(st.st_mode):
        return False  # a link cannot be changed, only replaced through its directory
    if uid is not None and st.st_uid == uid:
        return True
    if st.st_gid in gids and st.st_mode & stat.S_IWGRP:
        return True
    return bool(st.st_mode & stat.S_IWOTH)


def ancestors(path):
    """Every existing directory from / down to path's parent, as written and as resolved."""
    seen = []
    for candidate in (os.path.normpath(path), os.path.realpath(path)):
        parts = candidate.split("/")[1:-1]
        prefix = ""
        for part in parts:
            prefix += "/" + part
            if prefix not in seen:
                seen.append(prefix)
    return seen


def check_paths(args, uid, gids):
    take_over, unsafe, tighten, judged = [], [], [], set()
    allowed = bool(args.get("take_over"))
    keep = set(args.get("keep", []))

    def judge(path, why):
        if path in judged:
            return
        judged.add(path)
        try:
            st = os.lstat(path)
        except FileNotFoundError:
            return
        if not writable(st, uid, gids):
            return
        clean_owner = uid is not None and st.st_uid == uid and not st.st_mode & (stat.S_IWGRP | stat.S_IWOTH)
        if allowed and path not in keep and stat.S_ISDIR(st.st_mode) and clean_owner:
            take_over.append(path)
        else:
            unsafe.append(f"{path}: {why}")

    def links_in(path):
        """Links on the way to path (path too) whose directory the user can write: a job may have made them."""
        prefix = ""
        for part in os.path.normpath(path).split("/")[1:]:
            parent, prefix = prefix or "/", prefix + "/" + part
            if os.path.islink(prefix) and writable(os.lstat(parent), uid, gids):
                unsafe.append(f"{prefix}: a link in {parent}, which {args['user']} can write: a job may have made it")
                return

    for path in args.get("own", []):
        links_in(path)
        for parent in ancestors(path):
            judge(parent, f"writable by {args['user']}, and above {path}")
        judge(path, f"writable by {args['user']}")
    for path in args.get("writable", []):
        links_in(path)
        for parent in ancestors(path):
            judge(parent, f"writable by {args['user']}, and above {path}: a job could replace {path}")
    rewritten = set(args.get("rewritten", []))
    tightened = set(args.get("tighten", []))
    for tree in args.get("trees", []):
        for top, dirs, files in os.walk(tree):
            for name in dirs + files:
                path = os.path.join(top, name)
                if path in rewritten:
                    continue
                st = os.lstat(path)
                if not writable(st, uid, gids):
                    continue
                if path in tightened and stat.S_ISREG(st.st_mode) and st.st_uid == 0:
                    tighten.append(path)
                else:
                    unsafe.append(f"{path}: writable by {args['user']} inside {tree}, which root runs or reads")
                    if len(unsafe) > 20:
                        return take_over, unsafe, tighten
    return take_over, unsafe, tighten


def missing_ancestors(paths):
    create = []
    for path in paths:
        parts = os.path.normpath(path).split("/")[1:-1]
        prefix = ""
        for part in parts:
            prefix += "/" + part
            if prefix not in create and prefix not in paths and not os.path.lexists(prefix):
                create.append(prefix)
    return sorted(create, key=lambda p: p.count("/"))


def run_probe(settings):
    """A transient unit with the given sandbox that reports its root mount's options."""
    argv = ["systemd-run", "--quiet", "--wait", "--pipe", "--collect", "--property=User=nobody"]
    argv += [f"--property={key}={value}" for key, value in settings.items()]
    argv += ["/bin/sh", "-c", "awk '$5 == \"/\" {o = $6} END {print o}' /proc/self/mountinfo"]
    try:
        done = subprocess.run(argv, capture_output=True, text=True, timeout=60, check=False)
    except (OSError, subprocess.TimeoutExpired) as err:
        return None, str(err)
    if done.returncode != 0:
        return None, f"exit status {done.returncode}{', ' + done.stderr.strip() if done.stderr.strip() else ''}"
    return done.stdout.strip(), ""


def probe_sandbox(layers):
    """The first layer systemd starts a unit with (and, for namespaces, really builds)."""
    missing = []
    for layer in layers:
        root_mount, error = run_probe(layer["settings"])
        if root_mount is None:
            missing.append(f"{layer['name']} (a unit with them does not start: {error})")
        elif layer["name"] == "namespaces" and root_mount.split(",")[0] != "ro":
            missing.append("namespaces (systemd skips them: the root file system stays writable)")
        else:
            return layer["name"], "; ".join(missing)
    return "none", "; ".join(missing)


def main():
    args = json.loads(sys.argv[1])
    uid, gids = service_ids(args["user"])
    take_over, unsafe, tighten = check_paths(args, uid, gids)
    sandbox, detail = probe_sandbox(args["probe"]) if args.get("probe") else (None, "")
    print(json.dumps({"take_over": take_over, "create": missing_ancestors(args.get("make", [])), "unsafe": unsafe,
                      "tighten": tighten, "sandbox": sandbox, "sandbox_detail": detail,
                      "memory": os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")}))


if __name__ == "__main__":
    main()
