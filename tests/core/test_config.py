from pathlib import Path

import pytest

from smartev.core.config import Settings, load_settings
from smartev.core.errors import ConfigError


def test_defaults(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)  # no ./smartev.toml here
    s = load_settings(env={"XDG_DATA_HOME": str(tmp_path / "xdg")})
    assert s == Settings(data_dir=s.data_dir)
    assert s.port == 8000
    assert s.host == "127.0.0.1"
    assert s.speed == 60


def test_precedence_toml_then_env_then_overrides(tmp_path: Path) -> None:
    cfg = tmp_path / "smartev.toml"
    cfg.write_text('port = 9000\nhost = "0.0.0.0"\nspeed = 10\n')
    env = {"SMARTEV_PORT": "9100", "SMARTEV_SPEED": "20"}
    s = load_settings(cfg, env=env, overrides={"speed": 30, "host": None})
    assert (s.host, s.port, s.speed) == ("0.0.0.0", 9100, 30)


def test_config_file_from_env_variable(tmp_path: Path) -> None:
    cfg = tmp_path / "other.toml"
    cfg.write_text(f'data_dir = "{tmp_path}"\n')
    s = load_settings(env={"SMARTEV_CONFIG": str(cfg)})
    assert s.data_dir == tmp_path


def test_settings_are_frozen() -> None:
    s = load_settings(env={})
    with pytest.raises(ValueError, match="frozen"):
        s.port = 1  # type: ignore[misc]


@pytest.mark.parametrize(
    ("toml", "env", "message"),
    [
        ("prot = 1\n", {}, "unknown setting 'prot' (from config file"),
        ("", {"SMARTEV_PORT": "http"}, "setting 'port' (from SMARTEV_PORT)"),
        ("", {"SMARTEV_PORT": "70000"}, "less than or equal to 65535"),
        ("speed = -1\n", {}, "setting 'speed' (from config file"),
        ("", {"SMARTEV_LOG_LEVEL": "loud"}, "setting 'log_level'"),
        ("port = [\n", {}, "is not valid TOML"),
    ],
)
def test_bad_config_names_the_setting_and_its_source(
    tmp_path: Path, toml: str, env: dict[str, str], message: str
) -> None:
    cfg = tmp_path / "smartev.toml"
    cfg.write_text(toml)
    with pytest.raises(ConfigError) as err:
        load_settings(cfg, env=env)
    assert message in str(err.value)


def test_missing_config_file_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="does not exist"):
        load_settings(tmp_path / "nope.toml", env={})
