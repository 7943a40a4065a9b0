"""The `lineinfile` plugin, in Python: one line in a file, ensured or
removed, matched by a regular expression; a reload command runs when the
file changed.

Built with componentize-py against wit/plugin.wit's `plugin` world (the
bindings, `wit_world`, are generated at build time). It observes the host
through the `observe` imports, each checked by the runner against the
capabilities `describe` declares, and returns the actions; it changes
nothing itself.
"""

import json
import re
import shlex

import wit_world
from componentize_py_types import Err
from wit_world.imports import observe
from wit_world.imports.types import (
    Action,
    ActionKind_Run,
    ActionKind_WriteFile,
    Capabilities,
    LogLevel,
    Plan,
    PlanRequest,
    PluginInfo,
    RunCommand,
    WriteFile,
)

import lineedit

VERSION = "0.1.0"

# The probe the Rust SDK's `path_stat` uses: kind:mode:user:group:uid:gid.
STAT = "stat -c '%F:%a:%U:%G:%u:%g' --"

SCHEMA = {
    "type": "object",
    "required": ["path"],
    "additionalProperties": False,
    "properties": {
        "path": {"type": "string", "pattern": "^/", "description": "absolute path of the file"},
        "line": {
            "type": "string",
            "pattern": "^[^\\n\\r]*$",
            "description": "the line, without its newline (state absent without regexp: the line removed)",
        },
        "regexp": {
            "type": "string",
            "description": "Python regular expression: the last line it matches is replaced (state absent: every line it matches is removed)",
        },
        "state": {"enum": ["present", "absent"], "default": "present", "description": "default present"},
        "create": {"type": "boolean", "default": False, "description": "create the file when it is missing"},
        "mode": {
            "type": "string",
            "pattern": "^0?[0-7]{3,4}$",
            "description": "octal mode (default: the file's own; 0644 for a new file)",
        },
        "validate": {"type": "string", "description": "command that must accept the new content; {} is its path"},
        "reload": {"type": "string", "description": "command run when the file changed, e.g. systemctl reload nginx"},
    },
}


class WitWorld(wit_world.WitWorld):
    def describe(self) -> PluginInfo:
        return PluginInfo(
            name="lineinfile",
            version=VERSION,
            summary="One line in a file, matched by a regular expression; a reload command when it changed.",
            params_schema=json.dumps(SCHEMA),
            secret_params=[],
            capabilities=Capabilities(
                probes=[STAT + " {path}"],
                reads=["{path}"],
                writes=["{path}"],
                runs=["{validate}", "{reload}"],
                http=[],
                peers=[],
                local_reads=[],
            ),
        )

    def plan(self, request: PlanRequest) -> Plan:
        p = json.loads(request.params)
        present = p.get("state", "present") == "present"
        if present and "line" not in p:
            raise Err("state present needs line: the line to ensure")
        if not present and "line" not in p and "regexp" not in p:
            raise Err("state absent needs regexp or line: what to remove")
        write = file_write(p, present)
        actions = [write] if write else []
        if write and p.get("reload"):
            actions.append(Action(f"reload: {p['reload']}", ActionKind_Run(RunCommand(p["reload"], [], 300_000))))
        return Plan(actions, False, None)


def file_write(p: dict, present: bool):
    """The write that brings the file to the asked state, or None."""
    path = p["path"]
    stat = path_stat(path)
    mode = int(p["mode"], 8) if "mode" in p else None
    if stat is None:
        if not present:
            return None
        if not p.get("create", False):
            raise Err(f"{path} does not exist; set create: true to create it")
        text, what, owner, group = p["line"] + "\n", f"create {path}", None, None
        mode = 0o644 if mode is None else mode
    else:
        kind, current_mode, uid, gid = stat
        if kind not in ("regular file", "regular empty file"):
            raise Err(f"{path} is a {kind}, not a regular file")
        old = read_text(path)
        try:
            edit = lineedit.ensure(old, p.get("line", ""), p.get("regexp"), present)
        except re.error as e:
            raise Err(f"regexp {p['regexp']!r}: {e}")
        if edit is None and mode in (None, current_mode):
            return None
        text = edit.text if edit else old
        what = f"{path}: {edit.what}" if edit else f"set mode {mode:04o} of {path}"
        owner, group = str(uid), str(gid)
        mode = current_mode if mode is None else mode
    content = text.encode("utf-8", "surrogateescape")
    observe.log(LogLevel.DEBUG, f"{what} ({len(content)} bytes)")
    return Action(what, ActionKind_WriteFile(WriteFile(path, content, mode, p.get("validate"), owner, group)))


def path_stat(path: str):
    """(kind, mode, uid, gid) of `path`, None when nothing is there."""
    out = observe.probe(f"{STAT} {shlex.quote(path)}")
    if out.exit_code != 0:
        return None
    fields = out.stdout.rstrip("\n").rsplit(":", 5)
    if len(fields) != 6:
        raise Err(f"{path}: unexpected stat output {out.stdout!r}")
    kind, mode, _user, _group, uid, gid = fields
    return kind, int(mode, 8), int(uid), int(gid)


def read_text(path: str) -> str:
    data = observe.read_file(path)
    if data is None:
        raise Err(f"{path} went away while planning")
    return data.decode("utf-8", "surrogateescape")
