#!/usr/bin/env bash
# The conformance stage: the client's integration tests, both flavours, against the
# real InvenioRDM 14 on a file store (Celery eager) and on S3 storage (SeaweedFS,
# signatures enforced) with a lazy worker, so multipart checksums stay "multipart:".
#
#   scripts/conformance.sh [pytest options]       e.g. -k multipart, --servers invenio-s3
#
# The InvenioRDM environment is installed once per machine and reused
# (~/.cache/nrpfiles/conformance); every server the tests start (PostgreSQL,
# search stand-in, SeaweedFS, InvenioRDM) listens on 127.0.0.1 and is stopped by
# the test session, also when it fails or is interrupted.
set -euo pipefail
cd "$(dirname "$0")/.."
python=${PYTHON:-.venv/bin/python}

"$python" conformance/environment.py
exec "$python" -m pytest -q -p no:cacheprovider --servers invenio-file,invenio-s3 tests "$@"
