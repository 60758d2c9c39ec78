"""The repository as the collection galaxy_ops.pulsar on sys.path, as ansible-core loads it, so that a plugin
can import another's shared code (ansible_collections.galaxy_ops.pulsar.plugins...)."""

import os
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
_TREE = Path(tempfile.mkdtemp(prefix="galaxy-ops-collections-"))
(_TREE / "ansible_collections" / "galaxy_ops").mkdir(parents=True)
(_TREE / "ansible_collections" / "galaxy_ops" / "pulsar").symlink_to(ROOT)
sys.path.insert(0, str(_TREE))
# and for ansible-core's plugin loader (tests that template the roles' variables).
os.environ["ANSIBLE_COLLECTIONS_PATH"] = str(_TREE)
