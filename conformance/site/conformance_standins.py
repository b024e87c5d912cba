"""Two stand-ins a conformance site needs, named in its invenio.cfg.

Runs inside the InvenioRDM environment (the site scripts put this folder on
the import path).
"""

from cachelib import SimpleCache
from flask import current_app
from invenio_communities.cache.cache import IdentityCache
from markupsafe import Markup


class InProcessIdentityCache(IdentityCache):
    """invenio-communities' identity cache, kept in the process instead of Redis.

    invenio-communities ships only a Redis implementation; a site without
    Redis fails on the first request that loads an identity.
    """

    def __init__(self, app=None):
        super().__init__(app=app)
        app = app or current_app
        self.cache = SimpleCache(default_timeout=app.config["COMMUNITIES_IDENTITIES_CACHE_TIME"])

    def get(self, key):
        return self.cache.get(key)

    def set(self, key, value, timeout=None):
        self.cache.set(key, value, timeout=timeout or self.timeout)

    def delete(self, key):
        self.cache.delete(key)

    def flush(self):
        self.cache.clear()

    def append(self, key, value):
        values = self.cache.get(key) or []
        if not isinstance(values, list):
            raise TypeError(f"{key} holds a {type(values).__name__}, not a list")
        if value not in values:
            values.append(value)
        self.set(key, values)


class EmptyBundle:
    """A webpack bundle that renders as nothing."""

    def __html__(self):
        return Markup("")

    def __str__(self):
        return ""

    def render(self):
        return ""

    def __iter__(self):
        return iter(())


class EmptyManifest:
    """A manifest that has every bundle a template asks for, each one empty."""

    def __getitem__(self, key):
        return EmptyBundle()

    def __getattr__(self, name):
        if name.startswith("__"):
            raise AttributeError(name)
        return EmptyBundle()

    def __iter__(self):
        return iter(())


class EmptyManifestLoader:
    """Loads no manifest.json: the front-end assets are not built on a conformance site.

    Without built assets every UI page is a 500; with this the home page
    answers 200 with its generator tag, which clients use to tell an
    InvenioRDM site.
    """

    def __init__(self, *args, **kwargs):
        pass

    def load(self, filepath):
        return EmptyManifest()
