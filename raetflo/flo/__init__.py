"""The flo phrases of raet 0.6.8 (``do raet road stack``, ``do raet lane stack printer`` ...).

Importing the package registers them (``ioflo -b raetflo.flo``), as ``raet.flo`` does.
``import raetflo`` does not import it: ioflo's Deed registry is global, and the reference's
own ``raet.flo.behaving`` registers the same class names.
"""
import importlib

__all__ = ["behaving"]

for _name in __all__:
    importlib.import_module(f".{_name}", __name__)
