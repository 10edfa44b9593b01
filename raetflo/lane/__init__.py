"""RAET lanes: messages between yards (processes) over Unix datagram sockets.

Importing the package imports its public modules, as raet's lane package does."""
import importlib

__all__ = ["yarding", "paging", "core", "stacking"]

for _name in __all__:
    importlib.import_module(f".{_name}", __name__)
