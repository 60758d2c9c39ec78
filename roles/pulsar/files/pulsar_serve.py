"""Start Pulsar's web server (pulsar-serve, gunicorn) with the logging of server.ini.

pulsar-serve 0.16 reads only [server:main] and [app:main] of server.ini and sets
up no logging, so Pulsar's own messages below WARNING were lost and its log level
could not be set. This applies the [loggers] sections first (to stderr: the
journal), then runs pulsar-serve as its console script does; gunicorn's forked
worker inherits the configuration. Installed by the galaxy_ops.pulsar.pulsar role.
"""

import logging.config
import sys

from pulsar.scripts.serve import main

if __name__ == "__main__":
    logging.config.fileConfig(sys.argv[1], disable_existing_loggers=False)
    sys.exit(main(sys.argv[1:]))
