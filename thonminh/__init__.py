"""thonminh: the shared core of the smart-village proof (data contract, InfluxDB client, command line)."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("thonminh")
except PackageNotFoundError:  # running from a source tree that was not installed
    __version__ = "0.0.0+source"

__all__ = ["__version__"]
