"""Serve a conformance site: InvenioRDM's UI app, with the REST API under /api.

Runs in the InvenioRDM environment with INVENIO_INSTANCE_PATH set. Logs
(requests included) go to the file given, so the console of whoever started
the site stays quiet.

    python serve_site.py --port 5000 --log invenio.log
"""

import argparse
import logging
import sys

from invenio_app.factory import create_app
from werkzeug.serving import run_simple


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--log", required=True, help="file to append the logs to")
    args = parser.parse_args()
    log = open(args.log, "a", buffering=1, encoding="utf-8")  # noqa: SIM115 (for the process's life)
    # Python warnings and stray prints land in the same file.
    sys.stdout = sys.stderr = log
    logging.basicConfig(
        stream=log, level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    app = create_app()
    # threaded: parallel uploads to one draft are part of what is tested.
    run_simple("127.0.0.1", args.port, app, threaded=True, use_reloader=False, use_debugger=False)


if __name__ == "__main__":
    main()
