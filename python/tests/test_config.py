"""Where the client finds the bridge: configure(), RATE_SYNC_BRIDGE_URL, or [bridge] of rate-sync.toml."""

from __future__ import annotations

from pathlib import Path

import pytest

from ratesync_bridge import ConfigError
from ratesync_bridge._config import load_bridge_config


def write(dir: Path, text: str, name: str = "rate-sync.toml") -> Path:
    path = dir / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def test_the_bridge_table_of_the_shared_file_with_env_expansion(tmp_path: Path) -> None:
    write(tmp_path, '[limiters.a]\nstore = "memory"\nrate_per_second = 1\n\n[bridge]\nurl = "${BRIDGE_REDIS:-redis://127.0.0.1:6390/2}"\nnamespace = "jobs:${REGION}"\n')
    config = load_bridge_config(env={"REGION": "eu"}, cwd=tmp_path)
    assert (config.url, config.namespace, config.source) == ("redis://127.0.0.1:6390/2", "jobs:eu", str(tmp_path / "rate-sync.toml"))
    assert load_bridge_config(env={"REGION": "eu", "BRIDGE_REDIS": "rediss://h:1/0"}, cwd=tmp_path).url == "rediss://h:1/0"


def test_discovery_order_and_defaults_like_node(tmp_path: Path) -> None:
    write(tmp_path / "config", "[bridge]\n")
    config = load_bridge_config(env={}, cwd=tmp_path)
    assert (config.url, config.namespace) == ("redis://127.0.0.1:6379/0", "ratesync")
    assert load_bridge_config(env={"REDIS_URL": "redis://r:1/3"}, cwd=tmp_path).url == "redis://r:1/3"
    write(tmp_path / "ops", '[bridge]\nnamespace = "ops"\n', "limits.toml")
    assert load_bridge_config(env={"RATE_SYNC_CONFIG": "ops/limits.toml"}, cwd=tmp_path).namespace == "ops"
    with pytest.raises(ConfigError, match="RATE_SYNC_CONFIG names 'missing.toml'"):
        load_bridge_config(env={"RATE_SYNC_CONFIG": "missing.toml"}, cwd=tmp_path)


def test_environment_variables_win_field_by_field(tmp_path: Path) -> None:
    write(tmp_path, '[bridge]\nurl = "redis://file:1/0"\nnamespace = "from_file"\n')
    config = load_bridge_config(env={"RATE_SYNC_BRIDGE_URL": "redis://env:2/0"}, cwd=tmp_path)
    assert (config.url, config.namespace) == ("redis://env:2/0", "from_file")
    empty = tmp_path / "empty"
    empty.mkdir()
    config = load_bridge_config(env={"RATE_SYNC_BRIDGE_URL": "redis://env:2/0", "RATE_SYNC_BRIDGE_NAMESPACE": "n"}, cwd=empty)
    assert (config.url, config.namespace) == ("redis://env:2/0", "n")
    assert load_bridge_config(url="redis://explicit:3/0", env={"RATE_SYNC_BRIDGE_URL": "redis://env:2/0"}, cwd=empty).url == "redis://explicit:3/0"


def test_clear_errors(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"No rate-sync bridge is configured: set RATE_SYNC_BRIDGE_URL, or add a \[bridge\] table .*searched: .*rate-sync.toml"):
        load_bridge_config(env={}, cwd=tmp_path)
    write(tmp_path, '[limiters.a]\nstore = "memory"\nmax_concurrent = 1\n')
    with pytest.raises(ConfigError, match="No rate-sync bridge is configured"):
        load_bridge_config(env={}, cwd=tmp_path)
    write(tmp_path, '[bridge]\nurl = "localhost:6379"\n')
    with pytest.raises(ConfigError, match="bridge.url: expected a redis:// or rediss:// URL, found 'localhost:6379'"):
        load_bridge_config(env={}, cwd=tmp_path)
    write(tmp_path, '[bridge]\nnamespace = "has space"\n')
    with pytest.raises(ConfigError, match="bridge.namespace: expected 1 to 64 letters"):
        load_bridge_config(env={}, cwd=tmp_path)
    write(tmp_path, '[bridge]\nurl = "${NOPE}"\n')
    with pytest.raises(ConfigError, match=r"expected environment variable NOPE to be set"):
        load_bridge_config(env={}, cwd=tmp_path)
    write(tmp_path, "[bridge\n")
    with pytest.raises(ConfigError, match="Cannot read"):
        load_bridge_config(env={}, cwd=tmp_path)
