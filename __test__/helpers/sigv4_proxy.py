"""An independent SigV4 check in front of moto, which accepts any signature.

Every request must carry an AWS4-HMAC-SHA256 signature that botocore (the AWS SDK
for Python, from moto's own virtualenv) computes the same over the exact bytes
received: method, path, query, the signed headers and the body. It must be dated
within five minutes of this process's clock, as AWS requires, and a known key's
session token must match. Requests that pass go to moto unchanged and its answer
comes back; the others get AWS's own error answer, with a Date header as AWS sends.

    sigv4_proxy.py UPSTREAM CONFIG_JSON

CONFIG_JSON: {"region": "us-east-1", "keys": {"AKID": {"secret": "...",
"token": null, "denied": false}}}. A denied key signs correctly but lacks
permission (AuthorizationError). Prints "listening PORT" once ready. GET
/__sigv4/stats answers {"verified": n, "refused": {"<code>": n}}.
Listens on 127.0.0.1 only.
"""

import json
import sys
import threading
import urllib.error
import urllib.request
import uuid
from datetime import datetime, timedelta, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from botocore.auth import SIGV4_TIMESTAMP, SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

WINDOW = timedelta(minutes=5)
SERVICE = "sns"

UPSTREAM = sys.argv[1].rstrip("/")
CONFIG = json.loads(sys.argv[2])
STATS = {"verified": 0, "refused": {}}
LOCK = threading.Lock()


def error_xml(code, message):
    return (
        '<ErrorResponse xmlns="http://sns.amazonaws.com/doc/2010-03-31/">'
        f"<Error><Type>Sender</Type><Code>{code}</Code><Message>{message}</Message></Error>"
        f"<RequestId>{uuid.uuid4()}</RequestId></ErrorResponse>"
    ).encode()


def parse_authorization(value):
    algorithm, _, rest = value.partition(" ")
    fields = {}
    for part in rest.split(","):
        key, _, val = part.strip().partition("=")
        fields[key] = val
    return algorithm, fields


def check(method, path, headers, body):
    """None if the request is signed right, else (status, code, message)."""
    auth = headers.get("authorization")
    if not auth:
        return 403, "MissingAuthenticationToken", "Request is missing Authentication Token"
    algorithm, fields = parse_authorization(auth)
    if algorithm != "AWS4-HMAC-SHA256":
        return 400, "IncompleteSignature", f"Unsupported algorithm {algorithm}"
    credential = fields.get("Credential", "").split("/")
    if len(credential) != 5:
        return 400, "IncompleteSignature", "Malformed Credential"
    access_key, day, region, service, terminator = credential
    key = CONFIG["keys"].get(access_key)
    if key is None:
        return 403, "InvalidClientTokenId", "The security token included in the request is invalid."
    amz_date = headers.get("x-amz-date", "")
    try:
        signed_at = datetime.strptime(amz_date, SIGV4_TIMESTAMP).replace(tzinfo=timezone.utc)
    except ValueError:
        return 400, "IncompleteSignature", "X-Amz-Date is missing or malformed"
    now = datetime.now(timezone.utc)
    if signed_at < now - WINDOW:
        return 403, "SignatureDoesNotMatch", (
            f"Signature expired: {amz_date} is now earlier than "
            f"{(now - WINDOW).strftime(SIGV4_TIMESTAMP)} ({now.strftime(SIGV4_TIMESTAMP)} - 5 min.)"
        )
    if signed_at > now + WINDOW:
        return 403, "SignatureDoesNotMatch", (
            f"Signature not yet current: {amz_date} is still later than "
            f"{(now + WINDOW).strftime(SIGV4_TIMESTAMP)} ({now.strftime(SIGV4_TIMESTAMP)} + 5 min.)"
        )
    if (day, region, service, terminator) != (amz_date[:8], CONFIG["region"], SERVICE, "aws4_request"):
        return 403, "SignatureDoesNotMatch", f"Credential should be scoped to a valid region, not {region}"
    signed_names = fields.get("SignedHeaders", "").split(";")
    for required in ("host", "x-amz-date"):
        if required not in signed_names:
            return 403, "SignatureDoesNotMatch", f"{required} is not signed"
    token = headers.get("x-amz-security-token")
    if key.get("token") != token:
        return 403, "InvalidClientTokenId", "The security token included in the request is invalid."
    if token is not None and "x-amz-security-token" not in signed_names:
        return 403, "SignatureDoesNotMatch", "x-amz-security-token is not signed"
    signed = {name: headers[name] for name in signed_names if name in headers}
    if len(signed) != len(signed_names):
        return 403, "SignatureDoesNotMatch", "a signed header is missing"
    request = AWSRequest(method=method, url=f"http://{headers['host']}{path}", data=body, headers=signed)
    request.context["timestamp"] = amz_date
    signer = SigV4Auth(Credentials(access_key, key["secret"], token), SERVICE, region)
    canonical = signer.canonical_request(request)
    expected = signer.signature(signer.string_to_sign(request, canonical), request)
    if expected != fields.get("Signature"):
        return 403, "SignatureDoesNotMatch", (
            "The request signature we calculated does not match the signature you provided. "
            "Check your AWS Secret Access Key and signing method."
        )
    if key.get("denied"):
        return 403, "AuthorizationError", (
            f"User: arn:aws:iam::123456789012:user/{access_key} is not authorized to perform: SNS:Publish"
        )
    return None


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def answer(self, status, body, content_type="text/xml"):
        self.send_response(status)  # adds Date, as AWS does
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self):
        if self.path == "/__sigv4/stats":
            with LOCK:
                body = json.dumps(STATS).encode()
            return self.answer(200, body, "application/json")
        return self.answer(404, b"")

    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("content-length", "0")))
        headers = {k.lower(): v for k, v in self.headers.items()}
        refusal = check("POST", self.path, headers, body)
        if refusal is not None:
            status, code, message = refusal
            with LOCK:
                STATS["refused"][code] = STATS["refused"].get(code, 0) + 1
            return self.answer(status, error_xml(code, message))
        with LOCK:
            STATS["verified"] += 1
        forward = {k: v for k, v in self.headers.items() if k.lower() not in ("host", "connection")}
        upstream = urllib.request.Request(UPSTREAM + self.path, data=body, headers=forward, method="POST")
        try:
            with urllib.request.urlopen(upstream, timeout=30) as response:
                status, answer, content_type = response.status, response.read(), response.headers.get("content-type", "text/xml")
        except urllib.error.HTTPError as e:
            status, answer, content_type = e.code, e.read(), e.headers.get("content-type", "text/xml")
        self.answer(status, answer, content_type)


if __name__ == "__main__":
    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    print(f"listening {server.server_address[1]}", flush=True)
    server.serve_forever()
