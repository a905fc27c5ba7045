"""dbsage's library API: the analyzers and the database access layer."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("dbsage")
except PackageNotFoundError:  # running from a source tree that was never installed
    __version__ = "0.0.0"
