"""Auth on the WebSocket transport: static tokens and JWTs (HS256, RS256),
carried in the handshake, the Authorization header or an access_token
query parameter; the session's user comes from the token; another user's
agent id is refused; tokens never reach the log."""

import base64
import hashlib
import hmac
import json
import os
import subprocess
import tempfile
import time

from agentbus_test import RawWS, run
from test_websocket import broker, handshake


def b64url(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def jwt_hs256(secret, claims, alg="HS256"):
    head = b64url(json.dumps({"alg": alg, "typ": "JWT"}).encode())
    body = b64url(json.dumps(claims).encode())
    sig = hmac.new(secret.encode(), ("%s.%s" % (head, body)).encode(), hashlib.sha256).digest()
    return "%s.%s.%s" % (head, body, b64url(sig))


def jwt_rs256(key_file, claims):
    head = b64url(json.dumps({"alg": "RS256", "typ": "JWT"}).encode())
    body = b64url(json.dumps(claims).encode())
    signed = ("%s.%s" % (head, body)).encode()
    sig = subprocess.run(["openssl", "dgst", "-sha256", "-sign", key_file], input=signed,
                         capture_output=True, check=True).stdout
    return "%s.%s.%s" % (head, body, b64url(sig))


def refused(ws, error_type):
    err = ws.recv_json()
    assert err["type"] == "error" and err["error"]["error_type"] == error_type, err
    assert ws.recv_close()[0] == 1008


def test_static_tokens_everywhere_a_browser_can_put_them():
    tmp = tempfile.mkdtemp(prefix="ab-auth-")
    tokens = os.path.join(tmp, "tokens")
    with open(tokens, "w") as f:
        f.write("# token user\nalice-secret-token-1 alice\nbob-secret-token-2 bob\n")
    d, port, _ = broker("auth = token\nauth_tokens_file = %s\n" % tokens)
    try:
        ws = RawWS(port)
        ack = handshake(ws, token="alice-secret-token-1", user_id=None)
        assert ack["agent_id"].startswith("frontend_alice_"), ack
        # No token, a wrong one, someone else's agent id, a user_id that is not the token's.
        ws = RawWS(port)
        ws.recv_json()
        ws.send_json({"type": "connection_handshake", "correlation_id": "h"})
        refused(ws, "unauthorized")
        ws = RawWS(port)
        ws.recv_json()
        ws.send_json({"type": "connection_handshake", "token": "alice-secret-token-X"})
        refused(ws, "unauthorized")
        ws = RawWS(port)
        ws.recv_json()
        ws.send_json({"type": "connection_handshake", "token": "bob-secret-token-2",
                      "agent_id": ack["agent_id"]})
        refused(ws, "forbidden")
        ws = RawWS(port)
        ws.recv_json()
        ws.send_json({"type": "connection_handshake", "token": "bob-secret-token-2", "user_id": "alice"})
        refused(ws, "forbidden")
        # The upgrade's Authorization header, and the access_token parameter.
        ws = RawWS(port, headers={"Authorization": "Bearer bob-secret-token-2"})
        assert handshake(ws, user_id=None)["agent_id"].startswith("frontend_bob_")
        ws = RawWS(port, path="/ws?x=1&access_token=bob-secret-token-2")
        assert handshake(ws, user_id=None)["agent_id"].startswith("frontend_bob_")
        bad = RawWS(port, path="/ws?access_token=nope")
        assert bad.status == 401 and json.loads(bad.body) == {"detail": "invalid token"}, bad.status
        # Legacy paths: the path's user must be the token's.
        ws = RawWS(port, path="/ws/query/bob?access_token=bob-secret-token-2")
        ws.recv_json()
        ws.send_json({"type": "heartbeat", "correlation_id": "hb"})
        assert ws.recv_json()["type"] == "heartbeat_response"
        ws = RawWS(port, path="/ws/query/alice?access_token=bob-secret-token-2")
        ws.recv_json()
        ws.send_json({"type": "heartbeat", "correlation_id": "hb"})
        refused(ws, "forbidden")
        ws = RawWS(port, path="/ws/query/alice")
        ws.recv_json()
        ws.send_json({"type": "heartbeat", "correlation_id": "hb"})
        refused(ws, "unauthorized")
        time.sleep(0.2)
        log = d.log()
        assert "secret-token" not in log and "access_token=nope" not in log, log
    finally:
        d.close()


def test_jwt_hs256_and_rs256():
    tmp = tempfile.mkdtemp(prefix="ab-jwt-")
    key, pub = os.path.join(tmp, "rsa.key"), os.path.join(tmp, "rsa.pub")
    subprocess.run(["openssl", "genrsa", "-out", key, "2048"], check=True, capture_output=True)
    subprocess.run(["openssl", "rsa", "-in", key, "-pubout", "-out", pub], check=True, capture_output=True)
    secret = "correct horse battery staple"
    d, port, _ = broker("auth = jwt\njwt_secret = %s\njwt_public_key = %s\n" % (secret, pub))
    now = int(time.time())
    try:
        good = jwt_hs256(secret, {"sub": "carol", "exp": now + 60})
        assert handshake(RawWS(port), token=good, user_id=None)["agent_id"].startswith("frontend_carol_")
        rs = jwt_rs256(key, {"sub": "dave", "exp": now + 60, "nbf": now - 5})
        assert handshake(RawWS(port), token=rs, user_id=None)["agent_id"].startswith("frontend_dave_")
        for bad, why in [
            (jwt_hs256(secret, {"sub": "carol", "exp": now - 1}), "the token has expired"),
            (jwt_hs256(secret, {"sub": "carol", "exp": now + 60, "nbf": now + 30}), "the token is not valid yet"),
            (jwt_hs256(secret, {"sub": "carol"}), "the token has no exp"),
            (jwt_hs256("wrong secret", {"sub": "carol", "exp": now + 60}), "the token's signature does not verify"),
            (good.rsplit(".", 1)[0] + ".", "the token's signature does not verify"),
            (b64url(b'{"alg":"none"}') + "." + b64url(b'{"sub":"carol","exp":9999999999}') + ".",
             "the token's signature does not verify"),
            (jwt_hs256(secret, {"sub": "car ol", "exp": now + 60}), "the token's sub is not a user id"),
            ("not-a-jwt", "not a JWT"),
        ]:
            ws = RawWS(port)
            ws.recv_json()
            ws.send_json({"type": "connection_handshake", "token": bad})
            err = ws.recv_json()
            assert err["error"] == {"error_type": "unauthorized", "message": why}, (bad, err)
            assert ws.recv_close()[0] == 1008
        # HS256 signed with the RSA public key as the secret (the classic
        # confusion attack) does not pass either.
        forged = jwt_hs256(open(pub).read(), {"sub": "mallory", "exp": now + 60})
        ws = RawWS(port)
        ws.recv_json()
        ws.send_json({"type": "connection_handshake", "token": forged})
        refused(ws, "unauthorized")
    finally:
        d.close()


if __name__ == "__main__":
    run([
        test_static_tokens_everywhere_a_browser_can_put_them,
        test_jwt_hs256_and_rs256,
    ])
