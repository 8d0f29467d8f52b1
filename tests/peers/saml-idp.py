"""A real SAML 2.0 identity provider for the sign-in tests: PyPI `pysaml2` (which
signs with Debian's `xmlsec1`), on a loopback port, one per test.

usage: saml-idp.py PORT SP_METADATA_URL WORKDIR

It makes its own RSA key and certificate (WORKDIR/idp.crt, read by the test),
loads the service provider's metadata from SP_METADATA_URL on the first request,
and serves:
  GET  /sso/redirect   AuthnRequest (HTTP-Redirect) -> auto-posting Response form
  GET  /slo/redirect   LogoutRequest / LogoutResponse (HTTP-Redirect)
  GET  /health
  POST /test/user      {"uid", "attributes"}: a person the IdP knows
  POST /test/next      {"uid", "sign_response", "sign_assertion", "audience",
                        "expired"}: how the next Response is made
  POST /test/logout    {"name_id", "session_index"}: a signed IdP-initiated
                        LogoutRequest URL for the service provider
  POST /test/unsolicited {"uid"}: a signed IdP-initiated (unsolicited) Response
                        for the service provider's assertion consumer
  GET  /test/last_logout  what the IdP last received at /slo/redirect
"""

import base64
import datetime
import json
import os
import sys
import threading
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlparse

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID

import saml2.assertion
from saml2 import BINDING_HTTP_POST, BINDING_HTTP_REDIRECT, time_util, xmldsig
from saml2.config import IdPConfig
from saml2.saml import NAMEID_FORMAT_PERSISTENT, NameID
from saml2.server import Server

PORT = int(sys.argv[1])
SP_METADATA_URL = sys.argv[2]
WORK = sys.argv[3]
BASE = f"http://127.0.0.1:{PORT}"
LOCK = threading.Lock()
STATE = {
    "users": {},
    "next": {"uid": None, "sign_response": True, "sign_assertion": True,
             "audience": None, "expired": False, "name_id": None},
    "last_logout": None,
}
SERVER = None


def make_key():
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "palaver-test-idp")])
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name)
            .public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(days=1))
            .not_valid_after(now + datetime.timedelta(days=30))
            .sign(key, hashes.SHA256()))
    with open(os.path.join(WORK, "idp.key"), "wb") as f:
        f.write(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.TraditionalOpenSSL,
                                  serialization.NoEncryption()))
    with open(os.path.join(WORK, "idp.crt.tmp"), "wb") as f:
        f.write(cert.public_bytes(serialization.Encoding.PEM))


def server():
    global SERVER
    with LOCK:
        if SERVER is None:
            meta = os.path.join(WORK, "sp.xml")
            with urllib.request.urlopen(SP_METADATA_URL, timeout=10) as r:
                data = r.read()
            with open(meta, "wb") as f:
                f.write(data)
            conf = IdPConfig()
            conf.load({
                "entityid": BASE + "/idp",
                "service": {"idp": {
                    "name": "Palaver test IdP",
                    "endpoints": {
                        "single_sign_on_service": [(BASE + "/sso/redirect", BINDING_HTTP_REDIRECT)],
                        "single_logout_service": [(BASE + "/slo/redirect", BINDING_HTTP_REDIRECT)],
                    },
                    "policy": {"default": {"lifetime": {"minutes": 15},
                                           "attribute_restrictions": None}},
                    "name_id_format": [NAMEID_FORMAT_PERSISTENT],
                    "want_authn_requests_signed": False,
                }},
                "key_file": os.path.join(WORK, "idp.key"),
                "cert_file": os.path.join(WORK, "idp.crt"),
                "metadata": {"local": [meta]},
                "xmlsec_binary": "/usr/bin/xmlsec1",
            })
            SERVER = Server(config=conf)
        return SERVER


class Handler(BaseHTTPRequestHandler):
    def log_message(self, fmt, *args):
        sys.stderr.write("idp: " + (fmt % args) + "\n")

    def send(self, code, body, ctype="application/json", headers=None):
        data = body.encode() if isinstance(body, str) else body
        self.send_response(code)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(data)))
        for k, v in (headers or []):
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(data)

    def body(self):
        n = int(self.headers.get("Content-Length") or 0)
        return json.loads(self.rfile.read(n) or b"{}")

    def do_GET(self):
        url = urlparse(self.path)
        q = {k: v[0] for k, v in parse_qs(url.query).items()}
        try:
            if url.path == "/health":
                return self.send(200, "{}")
            if url.path == "/sso/redirect":
                return self.sso(q)
            if url.path == "/slo/redirect":
                return self.slo(q, url.query)
            if url.path == "/test/last_logout":
                return self.send(200, json.dumps(STATE["last_logout"]))
            self.send(404, "{}")
        except Exception as e:  # the test reads the log
            import traceback
            traceback.print_exc()
            self.send(500, json.dumps({"error": repr(e)}))

    def do_POST(self):
        url = urlparse(self.path)
        try:
            b = self.body()
            if url.path == "/test/user":
                STATE["users"][b["uid"]] = b.get("attributes", {})
                return self.send(200, "{}")
            if url.path == "/test/next":
                STATE["next"].update(b)
                return self.send(200, "{}")
            if url.path == "/test/logout":
                return self.idp_logout(b)
            if url.path == "/test/unsolicited":
                return self.unsolicited(b)
            self.send(404, "{}")
        except Exception as e:
            import traceback
            traceback.print_exc()
            self.send(500, json.dumps({"error": repr(e)}))

    def sso(self, q):
        srv = server()
        req = srv.parse_authn_request(q["SAMLRequest"], BINDING_HTTP_REDIRECT)
        args = srv.response_args(req.message, [BINDING_HTTP_POST])
        nxt = dict(STATE["next"])
        uid = nxt.get("uid")
        if not uid or uid not in STATE["users"]:
            return self.send(403, "<p>no such user</p>", "text/html")
        if nxt.get("audience"):
            args["sp_entity_id"] = nxt["audience"]
        attrs = {k: [v] if isinstance(v, str) else v for k, v in STATE["users"][uid].items()}
        original = saml2.assertion.in_a_while
        if nxt.get("expired"):
            saml2.assertion.in_a_while = lambda **kw: time_util.a_while_ago(minutes=10)
        try:
            resp = srv.create_authn_response(
                attrs, userid=uid,
                name_id=NameID(format=NAMEID_FORMAT_PERSISTENT, text=nxt.get("name_id") or uid),
                authn={"class_ref": "urn:oasis:names:tc:SAML:2.0:ac:classes:Password",
                       "authn_auth": BASE + "/idp"},
                sign_response=bool(nxt.get("sign_response")),
                sign_assertion=bool(nxt.get("sign_assertion")),
                sign_alg=xmldsig.SIG_RSA_SHA256, digest_alg=xmldsig.DIGEST_SHA256,
                **args)
        finally:
            saml2.assertion.in_a_while = original
        http = srv.apply_binding(BINDING_HTTP_POST, str(resp), args["destination"],
                                 q.get("RelayState", ""), response=True)
        self.send(200, http["data"], "text/html")

    def slo(self, q, raw):
        srv = server()
        if "SAMLResponse" in q:
            resp = srv.parse_logout_request_response(q["SAMLResponse"], BINDING_HTTP_REDIRECT)
            STATE["last_logout"] = {"kind": "response", "in_response_to": resp.response.in_response_to,
                                    "status": resp.response.status.status_code.value}
            return self.send(200, "<p>logged out</p>", "text/html")
        req = srv.parse_logout_request(q["SAMLRequest"], BINDING_HTTP_REDIRECT)
        msg = req.message
        STATE["last_logout"] = {"kind": "request", "name_id": msg.name_id.text,
                                "session_index": [s.text for s in (msg.session_index or [])]}
        resp = srv.create_logout_response(msg, [BINDING_HTTP_REDIRECT])
        dest = srv.metadata.single_logout_service(msg.issuer.text, BINDING_HTTP_REDIRECT, "spsso")
        location = dest[0]["response_location"] if dest[0].get("response_location") else dest[0]["location"]
        http = srv.apply_binding(BINDING_HTTP_REDIRECT, str(resp), location, q.get("RelayState", ""),
                                 response=True, sign=True, sigalg=xmldsig.SIG_RSA_SHA256)
        headers = dict(http["headers"])
        self.send(302, "", "text/html", [("Location", headers["Location"])])

    def unsolicited(self, b):
        srv = server()
        sp = [e for e in srv.metadata.keys() if e != BASE + "/idp"][0]
        acs = srv.metadata.assertion_consumer_service(sp, BINDING_HTTP_POST)[0]["location"]
        uid = b["uid"]
        attrs = {k: [v] if isinstance(v, str) else v for k, v in STATE["users"][uid].items()}
        resp = srv.create_authn_response(
            attrs, None, acs, sp, userid=uid,
            name_id=NameID(format=NAMEID_FORMAT_PERSISTENT, text=uid),
            authn={"class_ref": "urn:oasis:names:tc:SAML:2.0:ac:classes:Password",
                   "authn_auth": BASE + "/idp"},
            sign_response=True, sign_assertion=True,
            sign_alg=xmldsig.SIG_RSA_SHA256, digest_alg=xmldsig.DIGEST_SHA256)
        data = base64.b64encode(str(resp).encode()).decode()
        self.send(200, json.dumps({"SAMLResponse": data}))

    def idp_logout(self, b):
        srv = server()
        sp = list(srv.metadata.keys())
        sp = [e for e in sp if e != BASE + "/idp"][0]
        dest = srv.metadata.single_logout_service(sp, BINDING_HTTP_REDIRECT, "spsso")[0]["location"]
        req_id, req = srv.create_logout_request(
            dest, BASE + "/idp",
            name_id=NameID(format=NAMEID_FORMAT_PERSISTENT, text=b["name_id"]),
            session_indexes=[b["session_index"]] if b.get("session_index") else None,
            sign=False)
        http = srv.apply_binding(BINDING_HTTP_REDIRECT, str(req), dest, "rs",
                                 sign=bool(b.get("sign", True)), sigalg=xmldsig.SIG_RSA_SHA256)
        headers = dict(http["headers"])
        self.send(200, json.dumps({"url": headers["Location"], "id": req_id}))


if __name__ == "__main__":
    make_key()
    os.rename(os.path.join(WORK, "idp.crt.tmp"), os.path.join(WORK, "idp.crt"))
    httpd = ThreadingHTTPServer(("127.0.0.1", PORT), Handler)
    sys.stderr.write(f"idp: listening on {BASE}\n")
    httpd.serve_forever()
