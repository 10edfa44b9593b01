"""raetflo: RAET (Reliable Asynchronous Event Transport) for Python 3.11+, as ioflo behaviours."""
# ioflo 2.0.3 uses ``collections.abc`` without importing it; import it before ioflo is.
import collections.abc  # noqa: F401

__version__ = "0.1.0"
