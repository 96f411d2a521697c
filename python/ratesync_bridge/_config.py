"""Where the bridge is: the ``[bridge]`` table of the same rate-sync.toml the Node coordinator reads,
or environment variables, or ``configure()``.

Precedence, field by field: ``configure()``, then ``RATE_SYNC_BRIDGE_URL`` / ``RATE_SYNC_BRIDGE_NAMESPACE``,
then the file (found like the Node library finds it: ``RATE_SYNC_CONFIG``, ``./rate-sync.toml``,
``./config/rate-sync.toml``). A file's ``[bridge]`` without ``url`` uses ``REDIS_URL``, else
``redis://127.0.0.1:6379/0``, as in Node. Strings in the file may use ``${NAME}``,
``${NAME:-default}`` and ``$$``, with the Node library's rules.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Dict, List, Mapping, Optional

from ._errors import ConfigError

DEFAULT_REDIS_URL = "redis://127.0.0.1:6379/0"
DEFAULT_NAMESPACE = "ratesync"
_NAMESPACE = re.compile(r"^[A-Za-z0-9_.:-]{1,64}$")
_TOKEN = re.compile(r"\$(\$|\{([^}]*)\}?)")
_REFERENCE = re.compile(r"^([A-Za-z_][A-Za-z0-9_]*)(?::-(.*))?$", re.S)


@dataclass(frozen=True)
class BridgeConfig:
    url: str
    namespace: str
    #: Where the settings came from, for error messages.
    source: str
    #: How long past a request's own timeout the client keeps listening for the coordinator's answer
    #: before deciding that no coordinator is there. Seconds.
    reply_grace: float = 0.5


def search_paths(cwd: Optional[Path] = None, env: Optional[Mapping[str, str]] = None) -> List[Path]:
    env = os.environ if env is None else env
    cwd = Path.cwd() if cwd is None else cwd
    defaults = [cwd / "rate-sync.toml", cwd / "config" / "rate-sync.toml"]
    explicit = env.get("RATE_SYNC_CONFIG", "")
    return [cwd / explicit, *defaults] if explicit else defaults


def expand(text: str, env: Mapping[str, str], where: str) -> str:
    """``${NAME}`` (an error when unset), ``${NAME:-default}`` (unset or empty → default), ``$$`` → ``$``."""

    def one(match: "re.Match[str]") -> str:
        body = match.group(1)
        if body == "$":
            return "$"
        inner = match.group(2)
        ref = None if inner is None or not body.endswith("}") else _REFERENCE.match(inner)
        if ref is None:
            raise ConfigError(f"{where}: expected ${{NAME}} or ${{NAME:-default}} (write $$ for a literal $), found {match.group(0)!r} in {text!r}")
        name, fallback = ref.group(1), ref.group(2)
        value = env.get(name)
        if fallback is not None:
            return fallback if not value else value
        if value is None:
            raise ConfigError(f"{where}: expected environment variable {name} to be set (or a default: ${{{name}:-value}}), found {name} unset in {text!r}")
        return value

    return _TOKEN.sub(one, text)


def _read_toml(path: Path) -> Dict[str, Any]:
    try:
        import tomllib  # Python 3.11+
    except ModuleNotFoundError:  # pragma: no cover - older Pythons
        try:
            import tomli as tomllib  # type: ignore[no-redef]
        except ModuleNotFoundError:
            raise ConfigError(
                f"Reading {path} needs Python 3.11+ (tomllib) or the tomli package; "
                "or set RATE_SYNC_BRIDGE_URL (and RATE_SYNC_BRIDGE_NAMESPACE) instead"
            ) from None
    try:
        with open(path, "rb") as f:
            return tomllib.load(f)
    except (OSError, ValueError) as err:
        raise ConfigError(f"Cannot read {path}: {err}", {"source": str(path)}) from err


def _find_file(cwd: Optional[Path], env: Mapping[str, str]) -> Optional[Path]:
    explicit = env.get("RATE_SYNC_CONFIG", "")
    if explicit:
        path = (Path.cwd() if cwd is None else cwd) / explicit
        if not path.is_file():
            raise ConfigError(f"RATE_SYNC_CONFIG names {explicit!r}, but there is no file at {path}")
        return path
    return next((p for p in search_paths(cwd, env) if p.is_file()), None)


def load_bridge_config(
    url: Optional[str] = None,
    namespace: Optional[str] = None,
    config_file: Optional[str] = None,
    env: Optional[Mapping[str, str]] = None,
    cwd: Optional[Path] = None,
    reply_grace: float = 0.5,
) -> BridgeConfig:
    env = os.environ if env is None else env
    url = url or env.get("RATE_SYNC_BRIDGE_URL") or None
    namespace = namespace or env.get("RATE_SYNC_BRIDGE_NAMESPACE") or None
    source = "configure()/environment"
    if url is None or namespace is None:
        path = Path(config_file) if config_file is not None else _find_file(cwd, env)
        table = None if path is None else _read_toml(path).get("bridge")
        if table is None and url is None:
            searched = [str(config_file)] if config_file is not None else [str(p) for p in search_paths(cwd, env)]
            raise ConfigError(
                "No rate-sync bridge is configured: set RATE_SYNC_BRIDGE_URL, or add a [bridge] table "
                f"(url, namespace) to rate-sync.toml (searched: {', '.join(searched)})",
                {"searched": searched},
            )
        if table is not None:
            if not isinstance(table, dict):
                raise ConfigError(f"{path}: bridge: expected a table, found {table!r}")
            source = str(path)
            if url is None:
                raw = table.get("url")
                url = expand(raw, env, "bridge.url") if isinstance(raw, str) else env.get("REDIS_URL") or DEFAULT_REDIS_URL
            if namespace is None and isinstance(table.get("namespace"), str):
                namespace = expand(table["namespace"], env, "bridge.namespace")
    namespace = namespace or DEFAULT_NAMESPACE
    assert url is not None
    if not re.match(r"^rediss?://", url):
        raise ConfigError(f"{source}: bridge.url: expected a redis:// or rediss:// URL, found {url!r}")
    if not _NAMESPACE.match(namespace):
        raise ConfigError(f'{source}: bridge.namespace: expected 1 to 64 letters, digits, "_", ".", ":" or "-", found {namespace!r}')
    if not reply_grace > 0:
        raise ConfigError(f"reply_grace: expected a number of seconds > 0, found {reply_grace!r}")
    return BridgeConfig(url=url, namespace=namespace, source=source, reply_grace=reply_grace)
