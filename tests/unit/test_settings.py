from pathlib import Path

import pytest

from chatio.settings import Rate, Settings, SettingsError


def test_defaults_match_the_documented_table() -> None:
    s = Settings.from_env({})
    assert (s.host, s.port, s.data_dir) == ("0.0.0.0", 8000, Path("./data"))
    assert s.token_ttl == 3600 and s.max_message_chars == 2000
    assert s.max_payload == 65536 and s.history_retention == 10000
    assert s.rate_messages == Rate(10, 20) and not s.ws_compression
    assert (s.ping_interval, s.ping_timeout, s.shutdown_timeout) == (25, 20, 10)
    assert s.cors_origins == () and not s.guest_login and s.log_level == "info"
    assert s.backlog == 2048


@pytest.mark.parametrize("raw,expected", [
    ("1", True), ("yes", True), ("TRUE", True), ("0", False), ("no", False),
    ("false", False)])
def test_booleans(raw: str, expected: bool) -> None:
    assert Settings.from_env({"CHATIO_GUEST_LOGIN": raw}).guest_login is expected


def test_lists_rates_and_durations() -> None:
    s = Settings.from_env({
        "CHATIO_CORS_ORIGINS": "https://a.example, https://b.example",
        "CHATIO_RATE_MESSAGES": "2.5/7", "CHATIO_PING_INTERVAL": "0.5",
        "CHATIO_TRUSTED_PROXIES": "10.0.0.0/8,127.0.0.1"})
    assert s.cors_origins == ("https://a.example", "https://b.example")
    assert s.rate_messages == Rate(2.5, 7) and s.ping_interval == 0.5
    assert len(s.trusted_proxies) == 2
    assert Settings.from_env({"CHATIO_CORS_ORIGINS": "*"}).cors_origins == ("*",)
    assert not Settings.from_env({"CHATIO_RATE_MESSAGES": "0"}).rate_messages.enabled


@pytest.mark.parametrize("name,value", [
    ("PORT", "eighty"), ("PORT", "70000"), ("CHATIO_GUEST_LOGIN", "maybe"),
    ("CHATIO_RATE_MESSAGES", "10"), ("CHATIO_RATE_MESSAGES", "10/0"),
    ("CHATIO_TOKEN_TTL", "-1"), ("CHATIO_TOKEN_TTL", "nan"),
    ("CHATIO_MAX_MESSAGE_CHARS", "0"), ("CHATIO_TRUSTED_PROXIES", "not-an-ip"),
    ("CHATIO_SECRET", "short"), ("LOG_LEVEL", "loud"),
    ("CHATIO_HISTORY_BACKEND", "mongo"),
    ("CHATIO_REDIS_URL", "http://redis:6379"), ("CHATIO_REDIS_URL", "redis"),
    ("CHATIO_REDIS_URL", "redis+cluster://"),
    ("CHATIO_REDIS_URL", "redis+cluster://a:1,b"),
    ("CHATIO_REDIS_URL", "redis+cluster://a:99999"),
    ("CHATIO_REDIS_PREFIX", "a{b}"), ("CHATIO_REDIS_PREFIX", "a b"),
    ("CHATIO_REDIS_PREFIX", "x*"), ("CHATIO_PRESENCE_TTL", "0.5"),
    ("CHATIO_BACKLOG", "0"), ("CHATIO_BACKLOG", "-5"),
    ("CHATIO_BACKLOG", "65536"), ("CHATIO_BACKLOG", "lots"),
    ("CHATIO_BACKLOG", "2e3")])
def test_bad_value_names_the_variable(name: str, value: str) -> None:
    with pytest.raises(SettingsError, match=name):
        Settings.from_env({name: value})


@pytest.mark.parametrize("raw,expected", [
    ("1", 1), ("512", 512), (" 4096 ", 4096), ("65535", 65535), ("", 2048)])
def test_backlog(raw: str, expected: int) -> None:
    assert Settings.from_env({"CHATIO_BACKLOG": raw}).backlog == expected


def test_cluster_mode_needs_an_explicit_secret() -> None:
    assert not Settings.from_env({}).clustered
    with pytest.raises(SettingsError, match="CHATIO_SECRET"):
        Settings.from_env({"CHATIO_REDIS_URL": "redis://localhost:6379/0"})
    s = Settings.from_env({"CHATIO_REDIS_URL": "redis://localhost:6379/0",
                           "CHATIO_SECRET": "s" * 16,
                           "CHATIO_REDIS_PREFIX": "staging",
                           "CHATIO_PRESENCE_TTL": "12"})
    assert s.clustered and s.redis_url == "redis://localhost:6379/0"
    assert (s.redis_prefix, s.presence_ttl) == ("staging", 12)
    assert Settings.from_env({}).redis_prefix == "chatio"
    assert Settings.from_env({}).presence_ttl == 30


def test_a_redis_cluster_url_names_its_seed_nodes() -> None:
    env = {"CHATIO_SECRET": "s" * 16}
    one = Settings.from_env({**env, "CHATIO_REDIS_URL": "redis://r:6379/0"})
    assert one.clustered and not one.redis_cluster
    for url in ("redis+cluster://a:7000", "redis+cluster://a:7000,b:7001",
                "rediss+cluster://user:pw@a:7000,b:7001",
                "REDIS+CLUSTER://[::1]:7000"):
        s = Settings.from_env({**env, "CHATIO_REDIS_URL": url})
        assert s.clustered and s.redis_cluster and s.redis_url == url


def test_a_secret_value_never_appears_in_an_error() -> None:
    with pytest.raises(SettingsError) as caught:
        Settings.from_env({"CHATIO_SECRET": "hunter2"})
    assert "hunter2" not in str(caught.value)
    assert str(caught.value) == ("CHATIO_SECRET is invalid: use at least 16 "
                                 "characters")


@pytest.mark.parametrize("name,value,expected", [
    ("CHATIO_RATE_MESSAGES", "10/x", "expected RATE/BURST, for example 10/20, or 0"),
    ("CHATIO_RATE_MESSAGES", "x/10", "expected RATE/BURST, for example 10/20, or 0"),
    ("PORT", "abc", "expected a port number from 1 to 65535"),
    ("CHATIO_BACKLOG", "lots", "expected a whole number from 1 to 65535"),
    ("CHATIO_MAX_PAYLOAD", "1.5", "expected a whole number >= 1"),
    ("CHATIO_TOKEN_TTL", "soon", "expected a number of seconds > 0"),
    ("CHATIO_PRESENCE_GRACE", "x", "expected a number of seconds >= 0"),
])
def test_errors_state_the_expected_format(name: str, value: str,
                                          expected: str) -> None:
    with pytest.raises(SettingsError) as caught:
        Settings.from_env({name: value})
    assert str(caught.value) == f"{name}={value!r} is invalid: {expected}"
    assert "literal" not in str(caught.value)


def test_the_boolean_error_lists_every_accepted_word() -> None:
    for word in ("on", "off", "ON"):
        Settings.from_env({"CHATIO_GUEST_LOGIN": word})
    with pytest.raises(SettingsError) as caught:
        Settings.from_env({"CHATIO_GUEST_LOGIN": "maybe"})
    assert "1/0/true/false/yes/no/on/off" in str(caught.value)

def test_admin_ui_is_off_by_default_and_needs_a_password() -> None:
    assert not Settings.from_env({}).admin_enabled
    with pytest.raises(SettingsError, match="CHATIO_ADMIN_PASSWORD"):
        Settings.from_env({"CHATIO_ADMIN_USER": "ops"})
    on = Settings.from_env({"CHATIO_ADMIN_PASSWORD": "a-long-password"})
    assert on.admin_enabled and on.admin_mode == "development"
    assert "a-long-password" not in repr(on)


@pytest.mark.parametrize("password", ["short", " padded-password "])
def test_a_bad_admin_password_is_never_echoed(password: str) -> None:
    with pytest.raises(SettingsError) as caught:
        Settings.from_env({"CHATIO_ADMIN_PASSWORD": password})
    assert "CHATIO_ADMIN_PASSWORD" in str(caught.value)
    assert password.strip() not in str(caught.value)


def test_admin_mode_is_checked() -> None:
    env = {"CHATIO_ADMIN_PASSWORD": "a-long-password"}
    assert Settings.from_env({**env, "CHATIO_ADMIN_MODE": "production"}
                             ).admin_mode == "production"
    with pytest.raises(SettingsError, match="CHATIO_ADMIN_MODE"):
        Settings.from_env({**env, "CHATIO_ADMIN_MODE": "verbose"})
