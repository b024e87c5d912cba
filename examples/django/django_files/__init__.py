"""A Django site that puts browser uploads into repository drafts and serves repository files."""
