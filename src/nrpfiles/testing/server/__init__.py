"""HTTP side of the local repository: the API server and the storage server."""
