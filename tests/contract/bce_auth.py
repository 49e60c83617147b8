"""schemathesis hook: signs requests to Baidu Cloud's routes (`/v1/...`) with bce-auth-v1, as
bce-python-sdk's signer does, under the access key `fixtures.py` made (CONTRACT_AK and
CONTRACT_SK), so generated requests reach the handlers behind the signature check and their
answers are held to the document too. Written here from the scheme's description (see
src/sts/bce.rs): HMAC-SHA256 over `METHOD\\nURI\\nQUERY\\nHEADERS` with `host` and `x-bce-date`.
"""

import hashlib
import hmac
import os
import time
import uuid
from urllib.parse import quote, unquote

import schemathesis

UNRESERVED = "-._~"


def _encode(text, keep=""):
    return quote(str(text), safe=UNRESERVED + keep)


def _query_pairs(query):
    for name, value in (query or {}).items():
        for item in value if isinstance(value, list) else [value]:
            if item is None:
                continue
            if isinstance(item, bool):
                item = "true" if item else "false"
            yield name, item


@schemathesis.auth(refresh_interval=None).apply_to(path_regex=r"^/v1/")
class BceAuth:
    def get(self, case, context):
        return (os.environ["CONTRACT_AK"], os.environ["CONTRACT_SK"], os.environ["CONTRACT_HOST"])

    def set(self, case, data, context):
        access, secret, host = data
        stamp = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
        key_text = f"bce-auth-v1/{access}/{stamp}/1800"
        signing_key = hmac.new(secret.encode(), key_text.encode(), hashlib.sha256).hexdigest()
        uri = _encode(unquote(case.formatted_path), keep="/")
        query = "&".join(sorted(f"{_encode(k)}={_encode(v)}" for k, v in _query_pairs(case.query)))
        # fedgate refuses a signature seen before (bce-auth-v1 has no nonce): a request id,
        # signed as every x-bce-* header is, keeps two alike requests in one second apart.
        headers = {"host": host, "x-bce-date": stamp, "x-bce-request-id": str(uuid.uuid4())}
        canonical_headers = "\n".join(sorted(f"{_encode(k)}:{_encode(v.strip())}" for k, v in headers.items()))
        canonical = f"{case.method.upper()}\n{uri}\n{query}\n{canonical_headers}"
        signature = hmac.new(signing_key.encode(), canonical.encode(), hashlib.sha256).hexdigest()
        case.headers = dict(case.headers or {})
        case.headers["Host"] = host
        case.headers["x-bce-date"] = stamp
        case.headers["x-bce-request-id"] = headers["x-bce-request-id"]
        case.headers["Authorization"] = f"{key_text}/host;x-bce-date;x-bce-request-id/{signature}"
