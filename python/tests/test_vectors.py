"""The message format, from the vectors shared with the Node tests (test/vectors/bridge-messages.json)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from ratesync_bridge import _errors, _protocol

VECTORS = json.loads((Path(__file__).resolve().parents[2] / "test" / "vectors" / "bridge-messages.json").read_text())


def build(call: dict) -> dict:
    op = call["op"]
    if op == "acquire":
        return _protocol.acquire_message(call["client"], call["reply"], call["id"], call["limiter"], call["key"], call["cost"], call["timeout"], call["grace"])
    if op == "cancel":
        return _protocol.cancel_message(call["client"], call["id"])
    if op == "release":
        return _protocol.release_message(call["client"], call["lease"])
    if op == "renew":
        return _protocol.renew_message(call["client"], call["reply"], call["id"], call["leases"])
    return _protocol.query_message(op, call["client"], call["reply"], call["id"], call["limiter"], call["key"], call["ttl"])


@pytest.mark.parametrize("vector", VECTORS["requests"], ids=lambda v: v["name"])
def test_request_vectors(vector: dict) -> None:
    message = build(vector["call"])
    assert message == vector["message"]
    # Field order matters: the coordinator reads "reply" and "id" from the head of a broken message.
    assert list(message)[:2] == ["v", "client"]
    encoded = _protocol.encode(message)
    if "reply" in message and "id" in message:
        assert encoded.index('"reply"') < encoded.index('"id"') < 200


@pytest.mark.parametrize("vector", VECTORS["replies"], ids=lambda v: v["name"])
def test_reply_vectors(vector: dict) -> None:
    reply = _protocol.decode_reply(json.dumps(vector["raw"]))
    expected = vector["python"]
    assert reply.id == expected["id"]
    assert reply.ok == expected["ok"]
    if expected["ok"]:
        assert reply.lease == expected["lease"]
        assert reply.coordinator == expected["coordinator"]
        return
    assert type(reply.error).__name__ == expected["error"]
    if "isinstance" in expected:
        assert isinstance(reply.error, {"TimeoutError": TimeoutError, "ConnectionError": ConnectionError}[expected["isinstance"]])
    if "timeout" in expected:
        assert reply.error.timeout == expected["timeout"]  # type: ignore[union-attr]
    if "limiter_id" in expected:
        assert reply.error.limiter_id == expected["limiter_id"]  # type: ignore[union-attr]


def test_malformed_replies_are_protocol_errors() -> None:
    for raw in ["nope", "[]", '{"v":2,"type":"reply","id":"1","ok":true}', '{"v":1,"type":"reply","ok":true}']:
        with pytest.raises(_errors.ProtocolError):
            _protocol.decode_reply(raw)


def test_errors_survive_pickling_with_their_details() -> None:
    import pickle

    err = _errors.RateLimitTimeoutError("Timed out", {"limiterId": "a:b", "timeoutMs": 1500})
    again = pickle.loads(pickle.dumps(err))
    assert isinstance(again, TimeoutError) and again.limiter_id == "a:b" and again.timeout == 1.5
