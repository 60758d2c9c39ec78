#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: galaxy_ops.pulsar contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Write several files in one round trip: what a template or copy task per file does, without a stat and a file
module call per file (the no-op run's cost, docs/benchmarks.md)."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
module: install_files
short_description: Write several files with their owner, group and mode, and links, in one call
description:
  - Writes each file of O(files) whose content, owner, group or mode differ from what is asked for, the way
    M(ansible.builtin.copy) with O(ansible.builtin.copy#module:content) does, but for all of them in one module
    call. Give it rendered templates with the P(ansible.builtin.template#lookup) lookup and files with
    P(ansible.builtin.file#lookup) (with O(ansible.builtin.file#lookup:rstrip=false)).
  - It also makes symbolic links and removes files or links (O(files[].state)), as M(ansible.builtin.file) does.
  - A file or a link is replaced atomically (a temporary one in the same directory, then a rename). The directory
    must exist.
  - "A file that holds a secret gets a task of its own with C(no_log: true) and C(diff: false): its content then
    reaches no output, no diff and not the host's log of module calls. The content travels to the host as a module
    argument, on the connection, as a template task's rendered file does."
version_added: 0.2.0
author: galaxy_ops.pulsar contributors (@galaxy-ops)
options:
  files:
    description: The files to write.
    type: list
    elements: dict
    required: true
    suboptions:
      dest:
        description: Absolute path of the file.
        type: path
        required: true
      state:
        description:
          - V(file) writes O(files[].content); V(link) makes O(files[].dest) a symbolic link to O(files[].src)
            (replacing a file or another link there); V(absent) removes the file or link at O(files[].dest).
          - O(files[].owner), O(files[].group), O(files[].mode) and O(files[].validate) are for V(file) only.
        type: str
        choices: [file, link, absent]
        default: file
        version_added: 0.2.0
      content:
        description: The whole content of the file (O(files[].state=file), where it is required).
        type: str
      src:
        description: What the link points to (O(files[].state=link), where it is required), as the link holds it.
        type: str
        version_added: 0.2.0
      owner:
        description: Owner of the file (name or uid). Left as it is when not set.
        type: str
      group:
        description: Group of the file (name or gid). Left as it is when not set.
        type: str
      mode:
        description: Mode of the file, as an octal string such as V("0644").
        type: raw
      validate:
        description:
          - A command that checks the new content before it replaces the file; V(%s) in it is the path of a
            temporary file with that content. A command that fails leaves the file as it was, and the module fails.
          - Files are written in the order of O(files), so a later file's command sees the earlier ones written.
        type: str
attributes:
  check_mode:
    support: full
    description: Reports what would change and writes nothing.
  diff_mode:
    support: full
    description: Shows each changed file's content and attributes, before and after.
  platform:
    support: full
    platforms: posix
    description: POSIX hosts.
"""

EXAMPLES = r"""
- name: Write Pulsar's settings
  galaxy_ops.pulsar.install_files:
    files:
      - dest: /opt/pulsar/config/server.ini
        content: "{{ lookup('ansible.builtin.template', 'server.ini.j2') }}"
        owner: root
        group: pulsar
        mode: "0640"
      - dest: /opt/pulsar/config/pulsar_ops.py
        content: "{{ lookup('ansible.builtin.file', 'pulsar_ops.py', rstrip=false) }}"
        owner: root
        group: root
        mode: "0644"
  notify: Restart pulsar
"""

RETURN = r"""
files:
  description: One entry per file of O(files), in the same order.
  returned: always
  type: list
  elements: dict
  contains:
    dest:
      description: The file's path.
      type: str
    changed:
      description: Whether the file's content or attributes changed (or would, in check mode).
      type: bool
    content_changed:
      description: Whether the file's content changed (or would, in check mode); false when only its owner,
        group or mode did.
      type: bool
changed_files:
  description: The paths of the files that changed (or would, in check mode).
  returned: always
  type: list
  elements: str
"""

import os
import tempfile

from ansible.module_utils.basic import AnsibleModule
from ansible.module_utils.common.text.converters import to_bytes, to_native, to_text

# A diff shows at most this much of a file's content (like ansible.builtin.copy's max_file_size_for_diff).
MAX_DIFF_BYTES = 104448


def _read(b_path):
    """The file's content, or None when there is no file."""
    if not os.path.lexists(b_path):
        return None
    with open(b_path, "rb") as handle:
        return handle.read()


def _diff_text(b_content):
    if b_content is None:
        return ""
    if len(b_content) > MAX_DIFF_BYTES or b"\x00" in b_content:
        return "(%d bytes, not shown)\n" % len(b_content)
    return to_text(b_content, errors="surrogate_or_strict")


def _write(module, b_dest, b_content, validate):
    """Replace b_dest atomically with b_content (a temporary file beside it, then a rename), once the validate
    command (if any) passed on the temporary file."""
    handle, b_tmp = tempfile.mkstemp(prefix=b".ansible_tmp", dir=os.path.dirname(b_dest))
    try:
        with os.fdopen(handle, "wb") as tmp:
            tmp.write(b_content)
        if validate:
            if "%s" not in validate:
                module.fail_json(msg="validate must contain %%s: %s" % validate)
            rc, out, err = module.run_command(validate % to_native(b_tmp))
            if rc != 0:
                module.fail_json(msg="%s failed validation (rc %d): %s" % (to_native(b_dest), rc, err or out),
                                 rc=rc, stdout=out, stderr=err)
        module.atomic_move(b_tmp, b_dest, unsafe_writes=False)
    finally:
        if os.path.lexists(b_tmp):
            os.remove(b_tmp)


def _link_or_remove(module, spec, diffs):
    """Bring a link or an absent path to spec; return its result entry."""
    dest, b_dest = spec["dest"], to_bytes(spec["dest"], errors="surrogate_or_strict")
    before = ("link to %s\n" % to_text(os.readlink(b_dest))) if os.path.islink(b_dest) else (
        "file\n" if os.path.lexists(b_dest) else "")
    after = "link to %s\n" % spec["src"] if spec["state"] == "link" else ""
    changed = before != after
    if changed:
        if module._diff:
            diffs.append({"before_header": dest if before else "%s (absent)" % dest,
                          "after_header": dest if after else "%s (absent)" % dest, "before": before, "after": after})
        if not module.check_mode:
            if spec["state"] == "absent":
                os.remove(b_dest)
            else:
                if not os.path.isdir(os.path.dirname(b_dest)):
                    module.fail_json(msg="Destination directory %s does not exist" % os.path.dirname(dest))
                # A new link beside the old path, then a rename over it: never a moment without one.
                b_tmp = to_bytes(os.path.join(os.path.dirname(dest), ".ansible_tmp%s.%d" % (
                    os.path.basename(dest), os.getpid())), errors="surrogate_or_strict")
                os.symlink(to_bytes(spec["src"], errors="surrogate_or_strict"), b_tmp)
                try:
                    os.rename(b_tmp, b_dest)
                finally:
                    if os.path.lexists(b_tmp):
                        os.remove(b_tmp)
    return {"dest": dest, "changed": changed, "content_changed": changed}


def install(module, spec, diffs):
    """Bring one file to spec; return its result entry."""
    dest = spec["dest"]
    b_dest = to_bytes(dest, errors="surrogate_or_strict")
    if not os.path.isabs(dest):
        module.fail_json(msg="%s: dest must be an absolute path" % dest)
    if os.path.isdir(b_dest) and not os.path.islink(b_dest):
        module.fail_json(msg="%s is a directory, not a file" % dest)
    if spec["state"] != "file":
        extra = [key for key in ("owner", "group", "mode", "validate", "content") if spec[key] is not None]
        if extra:
            module.fail_json(msg="%s: %s not for state %s" % (dest, ", ".join(extra), spec["state"]))
        if (spec["src"] is None) == (spec["state"] == "link"):
            module.fail_json(msg="%s: src is for state link, and required there" % dest)
        return _link_or_remove(module, spec, diffs)
    if spec["content"] is None or spec["src"] is not None:
        module.fail_json(msg="%s: state file takes content, not src" % dest)
    if os.path.isdir(b_dest):
        module.fail_json(msg="%s is a directory, not a file" % dest)
    b_content = to_bytes(spec["content"], errors="surrogate_or_strict")
    parent_exists = os.path.isdir(os.path.dirname(b_dest))
    if not parent_exists and not module.check_mode:
        module.fail_json(msg="Destination directory %s does not exist" % os.path.dirname(dest))
    b_old = _read(b_dest) if parent_exists else None
    content_changed = b_old != b_content
    if content_changed:
        if module._diff:
            diffs.append({"before_header": dest if b_old is not None else "%s (absent)" % dest,
                          "after_header": dest, "before": _diff_text(b_old), "after": _diff_text(b_content)})
        if not module.check_mode:
            _write(module, b_dest, b_content, spec["validate"])
    changed = content_changed
    # A new file in check mode has no attributes to compare yet.
    if os.path.lexists(b_dest):
        attrs = module.load_file_common_arguments(
            {"owner": spec["owner"], "group": spec["group"], "mode": spec["mode"]}, path=dest)
        attr_diff = {"before": {"path": dest}, "after": {"path": dest}}
        changed = module.set_fs_attributes_if_different(attrs, changed, diff=attr_diff, expand=False)
        if module._diff and attr_diff["before"] != attr_diff["after"]:
            diffs.append(attr_diff)
    return {"dest": dest, "changed": changed, "content_changed": content_changed}


def main():
    module = AnsibleModule(
        argument_spec={
            "files": {"type": "list", "elements": "dict", "required": True, "options": {
                "dest": {"type": "path", "required": True},
                "state": {"type": "str", "choices": ["file", "link", "absent"], "default": "file"},
                "content": {"type": "str"},
                "src": {"type": "str"},
                "owner": {"type": "str"},
                "group": {"type": "str"},
                "mode": {"type": "raw"},
                "validate": {"type": "str"},
            }},
        },
        supports_check_mode=True,
    )
    dests = [spec["dest"] for spec in module.params["files"]]
    if len(set(dests)) != len(dests):
        module.fail_json(msg="files names a path twice: %s" % ", ".join(sorted({d for d in dests if dests.count(d) > 1})))
    diffs = []
    try:
        results = [install(module, spec, diffs) for spec in module.params["files"]]
    except (IOError, OSError) as err:
        module.fail_json(msg=to_native(err))
    module.exit_json(changed=any(r["changed"] for r in results), files=results,
                     changed_files=[r["dest"] for r in results if r["changed"]], diff=diffs)


if __name__ == "__main__":
    main()
