"""The `{{name}}` plugin: keeps a greeting file on the host.

It declares exactly what it touches (`capabilities`) and plans actions;
the runner checks and executes them. Built with componentize-py against
wit/plugin.wit (the bindings, `wit_world`, are generated at build time).
"""

import json
import shlex

import wit_world
from componentize_py_types import Err
from wit_world.imports import observe
from wit_world.imports.types import (
    Action,
    ActionKind_WriteFile,
    Capabilities,
    Plan,
    PlanRequest,
    PluginInfo,
    WriteFile,
)

SCHEMA = {
    "type": "object",
    "required": ["path", "greeting"],
    "additionalProperties": False,
    "properties": {
        "path": {"type": "string", "pattern": "^/"},
        "greeting": {"type": "string"},
    },
}


class WitWorld(wit_world.WitWorld):
    def describe(self) -> PluginInfo:
        return PluginInfo(
            name="{{name}}",
            version="0.1.0",
            summary="Keeps a greeting file on the host.",
            params_schema=json.dumps(SCHEMA),
            secret_params=[],
            capabilities=Capabilities(
                probes=["stat -c %a {path}"],
                reads=["{path}"],
                writes=["{path}"],
                runs=[],
                http=[],
                peers=[],
                local_reads=[],
            ),
        )

    def plan(self, request: PlanRequest) -> Plan:
        p = json.loads(request.params)
        content = (p["greeting"] + "\n").encode()
        action = ensure_file(p["path"], content, 0o644)
        return Plan([action] if action else [], False, None)


def ensure_file(path: str, content: bytes, mode: int):
    """The write that makes `path` hold `content` with `mode`, or None."""
    current = observe.read_file(path)
    if current == content and file_mode(path) == mode:
        return None
    summary = f"create {path}" if current is None else f"update {path}"
    return Action(summary, ActionKind_WriteFile(WriteFile(path, content, mode, None, None, None)))


def file_mode(path: str):
    """The permission bits of `path`, None when it is absent."""
    out = observe.probe(f"stat -c %a {shlex.quote(path)}")
    if out.exit_code != 0:
        return None
    try:
        return int(out.stdout.strip(), 8)
    except ValueError:
        raise Err(f"{path}: unexpected stat output {out.stdout!r}")
