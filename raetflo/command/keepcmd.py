"""``raetflo keep ...``: read and change a road keep from a shell.

Every read and write goes through :class:`~raetflo.road.keeping.RoadKeep`, so the files
stay in the reference's formats and a keep owned by another user is refused. A running
stack sees a change at that estate's next join or allow.
"""
from __future__ import annotations

import argparse
import os
import re
from typing import Any, TextIO

from ioflo.aid.odicting import odict

from .. import nacling, raeting
from ..raeting import Acceptance
from ..road.estating import EstateError, LocalEstate, normalize_ha
from ..road.keeping import ALT_KEEP_DIR, EXTS, RoadKeep, check_name
from ..road.stacking import listen_ha
from . import formatting
from .errors import CommandError, parse_ha

PIN_UID_BASE = 0x80000000  # pinned records get the first free uid from here, far above
# the uids a stack hands out one by one, so a pin never takes a uid a running stack uses
LIST_COLUMNS = ("name", "uid", "ha", "role", "status", "verfp", "pubfp")
_KEY_HEX = re.compile(r"[0-9a-fA-F]{64}")


def add_parser(commands: Any) -> None:
    """The ``keep`` command and its subcommands."""
    keep = commands.add_parser("keep", help="read and change a road keep",
                               description="Read and change the keep of one road stack.")
    where = argparse.ArgumentParser(add_help=False)
    where.add_argument("--dir", help="the keep directory (holding local/, remote/, role/)")
    where.add_argument("--base", help="the base of keep directories (with --stack)")
    where.add_argument("--stack", help="the stack name: the keep is BASE/STACK")
    reads = argparse.ArgumentParser(add_help=False)
    reads.add_argument("--json", action="store_true", help="print JSON")
    subs = keep.add_subparsers(dest="action", required=True, metavar="ACTION")
    subs.add_parser("list", parents=[where, reads], help="every remote estate in the keep")
    show = subs.add_parser("show", parents=[where, reads], help="one remote estate")
    show.add_argument("name")
    for action, verb in (("accept", "accept"), ("reject", "reject")):
        sub = subs.add_parser(action, parents=[where], help=f"{verb} the keys of remotes")
        sub.add_argument("names", nargs="+", metavar="NAME")
    forget = subs.add_parser("forget", parents=[where],
                             help="delete a remote (it must join anew)")
    forget.add_argument("name")
    pin = subs.add_parser("pin", parents=[where],
                          help="an accepted remote, before it ever joins")
    pin.add_argument("name")
    pin.add_argument("--verhex", required=True, help="its verify key (64 hex digits)")
    pin.add_argument("--pubhex", required=True, help="its public key (64 hex digits)")
    pin.add_argument("--ha", help="its address HOST:PORT")
    pin.add_argument("--role", help="its role (default: its name)")
    subs.add_parser("local", parents=[where, reads], help="this estate's identity")
    new = subs.add_parser("new", parents=[where], help="a fresh identity in a new keep")
    new.add_argument("name")
    new.add_argument("--ha", help=f"the address to listen at (default 0.0.0.0:"
                                  f"{raeting.RAET_PORT})")
    new.add_argument("--role", help="its role (default: its name)")
    keep.set_defaults(run=run)


def run(args: argparse.Namespace, out: TextIO) -> int:
    """Open the keep the options name and run the action (``new`` checks its arguments
    first: a refused one leaves no keep behind)."""
    if args.action == "new":
        check_new(args)
    keep = open_keep(args, create=args.action == "new")
    ACTIONS[args.action](keep, args, out)
    return 0


# ------------------------------------------------------------------------- the keep

def keep_path(args: argparse.Namespace) -> tuple[str, str | None]:
    """The keep directory the options name, and the base it is under (None with --dir)."""
    if args.dir:
        if args.stack or args.base:
            raise CommandError("give either --dir or --stack (with --base), not both")
        return os.path.abspath(os.path.expanduser(args.dir)), None
    if not args.stack:
        raise CommandError("give the keep: --dir DIR, or --stack NAME [--base BASE]")
    bases = [args.base] if args.base else [RoadKeep.KeepDir,
                                           RoadKeep.AltKeepDir or ALT_KEEP_DIR]
    paths = [os.path.abspath(os.path.expanduser(os.path.join(base, args.stack)))
             for base in bases]
    found = next((path for path in paths if os.path.isdir(path)), paths[0])
    return found, os.path.dirname(found)


def keep_ext(path: str) -> str:
    """The file format of the keep at ``path``: that of its local estate file, else json."""
    found = [ext for ext in EXTS if os.path.exists(os.path.join(path, "local", f"estate.{ext}"))]
    return found[0] if len(found) == 1 else RoadKeep.Ext


def open_keep(args: argparse.Namespace, create: bool = False) -> RoadKeep:
    """The keep the options name; CommandError when there is none (unless ``create``)."""
    path, base = keep_path(args)
    missing = [part for part in ("local", "remote", "role")
               if not os.path.isdir(os.path.join(path, part))]
    if not create and missing:  # (opening one would make them: a read writes nothing)
        raise CommandError(f"no keep at '{path}'" + (
            f" (no {', '.join(missing)} directory)" if os.path.isdir(path) else ""))
    if base is None:
        return RoadKeep(dirpath=path, ext=keep_ext(path))
    return RoadKeep(stackname=args.stack, basedirpath=base, ext=keep_ext(path))


def remote_data(keep: RoadKeep, name: str) -> dict[str, Any]:
    """The merged record of remote ``name``; CommandError when there is none."""
    data = keep.load_remote(name)
    if data is None:
        raise CommandError(f"no remote '{name}' in keep '{keep.dirpath}'")
    return data


def judged_data(keep: RoadKeep, name: str) -> dict[str, Any]:
    """The merged record of remote ``name``, else the role file of role ``name`` with keys
    (a main forgets the record of an estate it rejects, and keeps its role file)."""
    data = keep.load_remote(name)
    if data is not None:
        return data
    role = keep.load_remote_role(name)
    if role.get("verhex"):
        return {**role, "name": name}
    raise CommandError(f"no remote or role '{name}' in keep '{keep.dirpath}'")


def described(data: dict[str, Any]) -> dict[str, Any]:
    """A merged record with its status name and key fingerprints added."""
    return {**data, "status": formatting.status_name(data["acceptance"]),
            "verfp": formatting.fingerprint(data["verhex"]),
            "pubfp": formatting.fingerprint(data["pubhex"])}


def show_record(record: dict[str, Any], as_json: bool, out: TextIO) -> None:
    if as_json:
        formatting.print_json(record, out)
    else:
        formatting.print_fields(record, out)


# ------------------------------------------------------------------------- reads

def list_remotes(keep: RoadKeep, args: argparse.Namespace, out: TextIO) -> None:
    """Every remote, then every role with keys that no remote holds (what a main keeps of
    an estate it rejected), named by its role."""
    remotes = keep.load_all_remotes()
    held = {data["role"] for data in remotes.values()}
    rows = [described(data) for data in remotes.values()]
    rows += [described({"name": role, "uid": None, "ha": None, **data})
             for role, data in sorted(keep.loadAllRemoteRoleData().items())
             if role not in held and data.get("verhex")]
    if args.json:
        formatting.print_json(rows, out)
    else:
        formatting.print_table(rows, LIST_COLUMNS, out)


def show_remote(keep: RoadKeep, args: argparse.Namespace, out: TextIO) -> None:
    show_record(described(judged_data(keep, args.name)), args.json, out)


def show_local(keep: RoadKeep, args: argparse.Namespace, out: TextIO) -> None:
    show_record(local_record(keep), args.json, out)


def local_record(keep: RoadKeep) -> dict[str, Any]:
    """This estate's identity with its public keys (never the secret ones)."""
    data = keep.load_local()
    if data is None:
        raise CommandError(f"no local estate in keep '{keep.dirpath}'")
    verhex = str(nacling.Signer(data["sighex"]).verhex)
    pubhex = str(nacling.Privateer(data["prihex"]).pubhex)
    return {"name": data["name"], "uid": data["uid"], "ha": data["ha"], "aha": data["aha"],
            "role": data["role"], "verhex": verhex, "pubhex": pubhex,
            "verfp": formatting.fingerprint(verhex), "pubfp": formatting.fingerprint(pubhex)}


# ------------------------------------------------------------------------- writes

def judge_remotes(keep: RoadKeep, args: argparse.Namespace, out: TextIO) -> None:
    """Accept or reject (``args.action``) the keys of each named remote's role."""
    status = Acceptance.accepted if args.action == "accept" else Acceptance.rejected
    records = [judged_data(keep, name) for name in args.names]  # all known, or none changed
    for data in records:
        if not data["verhex"] or not data["pubhex"]:
            raise CommandError(f"remote '{data['name']}' has no keys in the keep")
    remotes = keep.load_all_remotes()
    for data in records:
        keep.dump_remote_role({"role": data["role"], "acceptance": status,
                               "verhex": data["verhex"], "pubhex": data["pubhex"]})
        others = holders(remotes, data["role"], besides=data["name"])
        also = f", also held by {', '.join(others)}" if others else ""
        out.write(f"{data['name']}: {status.name} (role {data['role']}{also})\n")


def holders(remotes: dict[str, dict[str, Any]], role: str, besides: str = "") -> list[str]:
    """The names of the remotes holding ``role``, but ``besides``."""
    return sorted(name for name, data in remotes.items()
                  if data["role"] == role and name != besides)


def forget_remote(keep: RoadKeep, args: argparse.Namespace, out: TextIO) -> None:
    """Delete a remote's file, and its role's unless another remote holds that role; or
    the file of a role no remote holds (a rejected estate's, as ``list`` shows it)."""
    data = keep.load_remote(args.name)
    if data is None:
        if not keep.load_remote_role(args.name).get("verhex"):
            remote_data(keep, args.name)  # no remote and no role: say so
        keep.clear_remote_role(args.name)
        out.write(f"{args.name}: forgotten (a role no remote held)\n")
        return
    keep.clear_remote(args.name)
    role = data["role"]
    others = holders(keep.load_all_remotes(), role)
    if others:
        out.write(f"{args.name}: forgotten (role {role} kept: also held by "
                  f"{', '.join(others)})\n")
        return
    keep.clear_remote_role(role)
    out.write(f"{args.name}: forgotten with role {role}\n")


def key_hex(value: str, field: str) -> str:
    """``value`` in lower case if it is a key as 64 hex digits, else CommandError."""
    if not _KEY_HEX.fullmatch(value):
        raise CommandError(f"bad {field}: a key is 64 hex digits")
    return value.lower()


def pin_uid(keep: RoadKeep) -> int:
    """The first uid from ``PIN_UID_BASE`` that no record in the keep holds."""
    used = {data["uid"] for data in keep.load_all_remotes().values()}
    uid = PIN_UID_BASE
    while uid in used:
        uid += 1
    return uid


def pin_remote(keep: RoadKeep, args: argparse.Namespace, out: TextIO) -> None:
    """Write an accepted remote with the given keys, before it ever joins."""
    verhex, pubhex = key_hex(args.verhex, "verhex"), key_hex(args.pubhex, "pubhex")
    name, role = args.name, args.role or args.name
    local = keep.load_local()
    if local is not None and local["name"] == name:
        raise CommandError(f"the name '{name}' is taken: it is this estate's own")
    if keep.load_remote(name) is not None:
        raise CommandError(f"the name '{name}' is taken in keep '{keep.dirpath}' "
                           "(forget it first)")
    stored = keep.load_remote_role(role)
    if stored["verhex"] and (stored["verhex"], stored["pubhex"]) != (verhex, pubhex):
        raise CommandError(f"role '{role}' already holds other keys (status "
                           f"{formatting.status_name(stored['acceptance'])})")
    host, port = parse_ha(args.ha) if args.ha else (raeting.DEFAULT_DST_HOST, raeting.RAET_PORT)
    try:
        check_name(role, "role")
        host, port = normalize_ha((host, port))
    except (EstateError, ValueError) as ex:
        raise CommandError(str(ex)) from None
    keep.dump_remote_role({"role": role, "acceptance": Acceptance.accepted, "verhex": verhex,
                           "pubhex": pubhex})
    keep.dump_remote(odict(name=name, uid=pin_uid(keep), fuid=0, ha=[host, port], iha=None,
                           natted=None, fqdn=host, dyned=None, sid=0, main=False, kind=0,
                           joined=None, role=role))
    out.write(f"{name}: pinned, accepted (role {role}, verfp {formatting.fingerprint(verhex)}"
              f", pubfp {formatting.fingerprint(pubhex)})\n")


def check_new(args: argparse.Namespace) -> tuple[LocalEstate, Any]:
    """The identity ``new`` makes and the address it listens at; CommandError when an
    argument is refused."""
    listen = parse_ha(args.ha) if args.ha else ("0.0.0.0", raeting.RAET_PORT)
    try:
        check_name(args.name, "name")
        if args.role is not None:
            check_name(args.role, "role")
        local = LocalEstate(stack=None, name=args.name, ha=listen, role=args.role)
        return local, listen_ha(listen)
    except (EstateError, raeting.StackError, ValueError) as ex:
        raise CommandError(str(ex)) from None


def new_local(keep: RoadKeep, args: argparse.Namespace, out: TextIO) -> None:
    """A fresh identity: new keys, in a keep that has none yet."""
    existing = keep.load_local()
    if existing is not None:
        raise CommandError(f"keep '{keep.dirpath}' already holds local estate "
                           f"'{existing['name']}'")
    local, aha = check_new(args)
    keep.dump_local(odict(name=local.name, uid=local.uid, ha=list(local.ha), iha=None,
                          natted=None, fqdn=local.fqdn, dyned=None, sid=0, puid=1,
                          aha=list(aha), role=local.role))
    keep.dump_local_role(odict(role=local.role, sighex=local.signer.keyhex,
                               prihex=local.priver.keyhex))
    show_record(local_record(keep), False, out)


ACTIONS = {"list": list_remotes, "show": show_remote, "local": show_local,
           "accept": judge_remotes, "reject": judge_remotes, "forget": forget_remote,
           "pin": pin_remote, "new": new_local}
