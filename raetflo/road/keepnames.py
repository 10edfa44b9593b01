"""raet's method names of a road keep, as a subclass overrides them.

raet code customises a keep by subclassing it and overriding raet's names (``statusRole``
to decide acceptance by its own policy, ``loadRemoteRoleData`` or ``dumpRemoteData`` to
keep records elsewhere), and raet's stack calls those names. Our stack calls our names;
:func:`redirect` makes each of ours that a subclass overrides under raet's name run that
override, so the stack goes where raet's would.
"""
from __future__ import annotations

from typing import Any, Callable


def _local_role(data: Any) -> dict[str, Any] | None:
    """What ``load_local_role`` gives for what raet's ``loadLocalRoleData`` gave: None for
    a record without keys (raet's all-None one), else its fields that are set."""
    if not data or data.get("sighex") is None:
        return None
    return {key: value for key, value in dict(data).items() if value is not None}


def _remote_role(role: str, data: Any) -> dict[str, Any]:
    """What ``load_remote_role`` gives for what raet's ``loadRemoteRoleData`` gave: every
    field, None where it left one out (Salt's keep gives an empty map)."""
    data = dict(data or {})
    return dict(role=role, acceptance=data.get("acceptance"), verhex=data.get("verhex"),
                pubhex=data.get("pubhex"))


# raet's name -> (ours, how a call of ours becomes a call of raet's), where raet's takes
# the record's name apart or answers otherwise
ADAPTED: dict[str, tuple[str, Callable[..., Any]]] = {
    "dumpRemoteData": ("dump_remote", lambda keep, name, data: getattr(keep, name)(
        data, data["name"])),
    "dumpRemoteRoleData": ("dump_remote_role", lambda keep, name, data: getattr(keep, name)(
        data, data["role"])),
    "loadLocalRoleData": ("load_local_role", lambda keep, name: _local_role(
        getattr(keep, name)())),
    "loadRemoteRoleData": ("load_remote_role", lambda keep, name, role: _remote_role(
        role, getattr(keep, name)(role))),
}
JUDGES = ("statusRole", "statusRemote", "status_role", "status_remote")


def _through(raet: str, adapter: Callable[..., Any] | None) -> Callable[..., Any]:
    """A method of ours that calls raet's name (its override), through ``adapter``."""
    def call(keep: Any, *args: Any, **kwa: Any) -> Any:
        if adapter is not None:
            return adapter(keep, raet, *args, **kwa)
        return getattr(keep, raet)(*args, **kwa)
    call.reference_name = raet  # type: ignore[attr-defined]
    return call


def _overrides(cls: type, name: str, base: type) -> bool:
    """Whether a class between ``cls`` and ``base`` defines ``name`` itself (not as one of
    the methods :func:`redirect` made)."""
    for klass in cls.__mro__[:cls.__mro__.index(base)]:
        value = klass.__dict__.get(name)
        if value is not None:
            return not hasattr(value, "reference_name")
    return False


def aliases(base: type) -> dict[str, str]:
    """raet's name -> ours, of the methods ``base`` binds raet's names to (``statusRole =
    status_role``): both take the same arguments."""
    found = {}
    for name, value in vars(base).items():
        ours = getattr(value, "__name__", name) if callable(value) else name
        if ours != name and vars(base).get(ours) is value:
            found[name] = ours
    return found


def redirect(cls: type, base: type) -> None:
    """Make the methods of ours that subclass ``cls`` of ``base`` (RoadKeep) overrides
    under raet's names run those overrides; set ``cls.judges_itself`` when it overrides
    how acceptance is decided."""
    pairs: list[tuple[str, str, Any]] = [(raet, ours, None)
                                         for raet, ours in aliases(base).items()
                                         if raet not in ADAPTED]
    pairs += [(raet, ours, adapter) for raet, (ours, adapter) in ADAPTED.items()]
    for raet, ours, adapter in pairs:
        if _overrides(cls, raet, base) and not _overrides(cls, ours, base):
            setattr(cls, ours, _through(raet, adapter))
    judges = any(_overrides(cls, name, base) for name in JUDGES)
    cls.judges_itself = judges  # type: ignore[attr-defined]
