"""Recovery rules in the node config: validated before anything starts, errors that name
the rule and the key."""

from __future__ import annotations

from typing import Any

import pytest

from actors.recovery import RecoverySettings, ResizePoolAction, default_rules
from messages import ConfigError
from supervisor import load_config, parse_config


def config_with(rules: Any, **settings: Any) -> dict[str, Any]:
    return {"children": [{"name": "recovery", "actor": "recovery",
                          "settings": {"rules": rules, **settings}}]}


def rule(**overrides: Any) -> dict[str, Any]:
    return {"when": {"alert": {"component": "pool"}}, "do": {"restart": {"actor": "pool"}},
            **overrides}


@pytest.mark.parametrize(("rules", "needle"), [
    ({"r1": rule(when={"bottleneck": {"op": "x", "kind": "bogus"}})},
     "rules.r1.when.bottleneck: kind: expected one of threshold, jump, share or a list of them, "
     "got 'bogus'"),
    ({"r1": rule(when={"bottleneck": {"op": "x", "kind": ["jump", "bogus"]}})},
     "rules.r1.when.bottleneck: kind: expected one of threshold, jump, share or a list of them, "
     "got ['jump', 'bogus']"),
    ({"r1": rule(when={})},
     "rules.r1.when: expected exactly one condition (bottleneck, alert, breaker, restarts), got none"),
    ({"r1": rule(do={"restart": {"actor": "a"}, "publish": {}})},
     "rules.r1.do: expected exactly one action (breaker, resize_pool, restart, publish), "
     "got restart, publish"),
    ({"r1": rule(do={"restart": {"actor": "{op}"}})},
     "rules.r1: do.restart.actor: placeholder {op} is not a field of the 'alert' condition"),
    ({"r1": rule(cooldown=-1)}, "rules.r1: cooldown: expected a finite number > 0, got -1.0"),
    ({"r1": rule(colldown=1)}, "rules.r1: unexpected field(s) colldown"),
    ({"r1": rule(when={"restarts": {"actor": "pool", "more_than": 3}})},
     "rules.r1.when.restarts.within: required field is missing"),
    ({"1r": rule()}, "rule name '1r' must start with a letter"),
    ({"r1": rule(do={"publish": {"topic": "lifecycle.fake"}})},
     "rules.r1.do.publish: topic: expected a topic outside 'lifecycle.'"),
    ({"r1": rule(do={"resize_pool": {"grow": 0}})},
     "rules.r1.do.resize_pool: grow: expected an integer >= 1, got 0"),
    ([rule()], "rules: expected a map, got list"),
])
def test_a_bad_rule_is_refused_naming_the_rule_and_the_key(rules: Any, needle: str) -> None:
    """The node refuses the config before anything starts; the error names child, rule, key."""
    with pytest.raises(ConfigError) as info:
        parse_config(config_with(rules), {})
    assert "config child 'recovery'" in str(info.value) and needle in str(info.value)


def test_a_bad_setting_is_refused_by_name() -> None:
    """Settings besides the rules are checked the same way."""
    with pytest.raises(ConfigError, match=r"sync_interval: expected a finite number > 0, got 0"):
        parse_config(config_with({}, sync_interval=0), {})


def test_rules_can_come_from_the_environment() -> None:
    """AGENTCELL_RECOVERY__RULES holds JSON like every other setting."""
    env = {"AGENTCELL_RECOVERY__RULES": '{"calm": {"when": {"breaker": {"resource": "db"}}, '
                                        '"do": {"publish": {"topic": "ops.db"}}}}'}
    config = load_config(None, env)
    [spec] = [c for c in config.root.walk() if c.name == "recovery"]
    assert list(spec.settings["rules"]) == ["calm"]  # type: ignore[union-attr]


def test_the_default_config_runs_the_default_rule() -> None:
    """recovery is in the default config and, without rules, runs the pool rule."""
    config = load_config(None, {})
    [spec] = [c for c in config.root.walk() if c.name == "recovery"]
    assert spec.settings == {}  # type: ignore[union-attr]
    settings = RecoverySettings()
    assert settings.rules == default_rules()
    assert settings.rules["pool-slow-grow"].do.action == ResizePoolAction(pool="pool", grow=2)
