# Generated from src/nrpfiles/_async/__init__.py by scripts/gen_sync.py: do not edit.
# body-sha256: e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855
