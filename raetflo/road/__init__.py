"""RAET roads: estates over UDP (join, allow, alive, messages) and their keep.

Importing the package imports its public modules, as raet's road package does."""
import importlib

__all__ = ["estating", "keeping", "packeting", "stacking", "transacting"]

for _name in __all__:
    importlib.import_module(f".{_name}", __name__)
