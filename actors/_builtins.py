"""Names of the actors that ship with Agent Cellphone, usable as ``"actor"`` in a config."""

from typing import Final

BUILTIN_ACTORS: Final[dict[str, str]] = {
    "amqp": "actors.connectors.amqp:AmqpBridge",
    "aws": "actors.connectors.aws:AwsActor",
    "breaker": "actors.breaker:BreakerActor",
    "chaos": "actors.examples:Chaos",
    "coap": "actors.connectors.coap:CoapActor",
    "dashboard": "actors.dashboard:DashboardActor",
    "echo": "actors.examples:Echo",
    "health": "actors.health:HealthActor",
    "http": "actors.connectors.http:HttpActor",
    "metrics": "actors.metrics:MetricsActor",
    "model": "actors.model:ModelActor",
    "mqtt": "actors.connectors.mqtt:MqttBridge",
    "nats": "actors.connectors.nats:NatsBridge",
    "openai": "actors.connectors.openai:OpenAIActor",
    "pool": "actors.pool:PoolActor",
    "profiler": "actors.profiler:ProfilerActor",
    "recovery": "actors.recovery:RecoveryActor",
    "relay": "actors.examples:Relay",
}
