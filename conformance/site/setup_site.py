"""One-time set-up of a conformance site's database, run in the InvenioRDM environment.

Creates the tables, the default files location, two active users each with
a personal token (tests check that one user cannot touch another's drafts),
and the vocabularies a minimal publishable record refers to, taken from
invenio-rdm-records' own fixtures. Prints {"token": ..., "other_token": ...}
as JSON on stdout.

    INVENIO_INSTANCE_PATH=... python setup_site.py --location file:///path
"""

import argparse
import json
import sys
from datetime import datetime, timezone
from pathlib import Path

from flask_security.utils import hash_password
from invenio_access.permissions import system_identity
from invenio_accounts.proxies import current_datastore
from invenio_app.factory import create_api
from invenio_db import db
from invenio_db.utils import create_alembic_version_table
from invenio_files_rest.models import Location
from invenio_oauth2server.models import Token

# Vocabularies a minimal record and its usual companions need; languages,
# licenses, subjects, names and funders are left out (large, and optional).
VOCABULARIES = (
    "resourcetypes",
    "creatorsroles",
    "contributorsroles",
    "titletypes",
    "descriptiontypes",
    "datetypes",
    "relationtypes",
    "removalreasons",
)
USERS = (("token", "owner@conformance.invalid"), ("other_token", "other@conformance.invalid"))


def create_tables():
    for table in db.metadata.sorted_tables:
        table.create(bind=db.engine, checkfirst=True)
    create_alembic_version_table()


def create_location(uri):
    db.session.add(Location(name="default-location", uri=uri, default=True))
    db.session.commit()


def create_user_with_token(email):
    user = current_datastore.create_user(
        email=email,
        password=hash_password("conformance-password"),
        active=True,
        confirmed_at=datetime.now(timezone.utc),
    )
    db.session.commit()
    token = Token.create_personal("conformance", user.id, scopes=[])
    db.session.commit()
    return token.access_token


def load_vocabularies():
    import yaml
    from invenio_rdm_records import fixtures
    from invenio_rdm_records.fixtures.vocabularies import GenericVocabularyEntry

    data = Path(fixtures.__file__).parent / "data"
    listed = yaml.safe_load((data / "vocabularies.yaml").read_text())
    for vocabulary in VOCABULARIES:
        entry = GenericVocabularyEntry(data, vocabulary, listed[vocabulary])
        entry.load(system_identity, delay=False)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--location", required=True, help="file:///dir or s3://bucket")
    args = parser.parse_args()
    app = create_api()
    with app.app_context():
        create_tables()
        create_location(args.location)
        tokens = {name: create_user_with_token(email) for name, email in USERS}
        load_vocabularies()
        db.session.commit()
    json.dump(tokens, sys.stdout)
    print()


if __name__ == "__main__":
    main()
