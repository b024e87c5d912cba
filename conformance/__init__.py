"""The conformance stage's harness: the real InvenioRDM 14, installed, started and stopped.

``from conformance.real_invenio import RealInvenio`` (with the repository
root on the import path), or run ``python3 conformance/real_invenio.py``.
"""
