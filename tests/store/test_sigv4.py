"""The stdlib S3 reader: SigV4 against AWS's published example, key encoding, and real GETs against SeaweedFS."""

from __future__ import annotations

import os
import socket
import time
from datetime import UTC, datetime

import pytest

from s3_server import s3_client
from spam_classifier.store._sigv4 import (
    EMPTY_SHA256,
    Credentials,
    S3ErrorResponse,
    S3Reader,
    S3TransportError,
    canonical_query,
    canonical_uri,
    reader_from_environ,
    sign,
)

_EXAMPLE = Credentials("AKIAIOSFODNN7EXAMPLE", "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY")
_ENVIRON = {"AWS_ACCESS_KEY_ID": "AKID", "AWS_SECRET_ACCESS_KEY": "the-secret-key", "AWS_REGION": "eu-west-1"}


def _put(bucket: str, key: str, data: bytes) -> None:
    s3_client().put_object(Bucket=bucket, Key=key, Body=data)


def _closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


# --- signing ---------------------------------------------------------------------------------------------------------


def test_sign_matches_the_aws_s3_get_object_example() -> None:
    """AWS S3 API reference, "Signature Calculations for the Authorization Header: Transferring Payload in a
    Single Chunk", example "GET Object" (a Range request for the first 10 bytes of examplebucket/test.txt)."""
    headers = sign(
        "GET",
        "/test.txt",
        {"Host": "examplebucket.s3.amazonaws.com", "Range": "bytes=0-9"},
        credentials=_EXAMPLE,
        region="us-east-1",
        now=datetime(2013, 5, 24, tzinfo=UTC),
    )

    assert headers == {
        "Host": "examplebucket.s3.amazonaws.com",
        "Range": "bytes=0-9",
        "x-amz-date": "20130524T000000Z",
        "x-amz-content-sha256": "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
        "Authorization": "AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request,"
        "SignedHeaders=host;range;x-amz-content-sha256;x-amz-date,"
        "Signature=f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41",
    }


def test_sign_adds_and_signs_the_session_token() -> None:
    credentials = Credentials(_EXAMPLE.access_key, _EXAMPLE.secret_key, "the-token")
    headers = sign("GET", "/k", {"Host": "h"}, credentials=credentials, region="us-east-1", now=datetime.now(UTC))

    assert headers["x-amz-security-token"] == "the-token"
    assert "SignedHeaders=host;x-amz-content-sha256;x-amz-date;x-amz-security-token," in headers["Authorization"]


def test_sign_depends_on_the_query_and_the_payload_hash() -> None:
    def signature(query: dict[str, str] | None = None, payload_hash: str = EMPTY_SHA256) -> str:
        now = datetime(2013, 5, 24, tzinfo=UTC)
        signed = sign("GET", "/k", {"Host": "h"}, credentials=_EXAMPLE, region="us-east-1", now=now, query=query,
                      payload_hash=payload_hash)  # fmt: skip
        return signed["Authorization"]

    assert len({signature(), signature(query={"versionId": "1"}), signature(payload_hash="UNSIGNED-PAYLOAD")}) == 3
    assert signature(payload_hash=EMPTY_SHA256) == signature()


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        ("/test.txt", "/test.txt"),
        ("/b/models/versions/v1/model.json", "/b/models/versions/v1/model.json"),
        ("/b/a b/c", "/b/a%20b/c"),
        ("/b/ü.json", "/b/%C3%BC.json"),
        ("/b/a+b=c&d", "/b/a%2Bb%3Dc%26d"),
        ("/b/keep-_.~", "/b/keep-_.~"),
        ("/b/100%", "/b/100%25"),
        ("/b/a:b@c", "/b/a%3Ab%40c"),
        ("/b//double/", "/b//double/"),
        ("/b/../x", "/b/../x"),
    ],
)
def test_canonical_uri_quotes_each_segment_once_and_keeps_slashes(path: str, expected: str) -> None:
    assert canonical_uri(path) == expected


def test_canonical_query_encodes_and_sorts_by_name() -> None:
    assert canonical_query({"versionId": "a/b c", "acl": "", "X-Amz": "~"}) == "X-Amz=~&acl=&versionId=a%2Fb%20c"
    assert canonical_query({}) == ""


# --- configuration -----------------------------------------------------------------------------------------------


def test_reader_from_environ_uses_the_regional_virtual_hosted_endpoint() -> None:
    reader = reader_from_environ(_ENVIRON)

    assert reader is not None
    assert (reader.region, reader.endpoint) == ("eu-west-1", "https://s3.eu-west-1.amazonaws.com")
    assert reader.url("my-bucket", "models/a b.json") == (
        "https",
        "my-bucket.s3.eu-west-1.amazonaws.com",
        "/models/a%20b.json",
    )
    assert reader.url("my.bucket", "k") == ("https", "s3.eu-west-1.amazonaws.com", "/my.bucket/k")


def test_reader_from_environ_uses_path_style_urls_with_an_endpoint() -> None:
    reader = reader_from_environ({**_ENVIRON, "AWS_ENDPOINT_URL": "http://127.0.0.1:9000/base/"})
    assert reader is not None and reader.url("b", "k/x.json") == ("http", "127.0.0.1:9000", "/base/b/k/x.json")

    s3_first = {**_ENVIRON, "AWS_ENDPOINT_URL": "http://other:1", "AWS_ENDPOINT_URL_S3": "http://127.0.0.1:9000"}
    reader = reader_from_environ(s3_first)
    assert reader is not None and reader.endpoint == "http://127.0.0.1:9000"

    reader = reader_from_environ({**s3_first, "AWS_IGNORE_CONFIGURED_ENDPOINT_URLS": "true"})
    assert reader is not None and reader.endpoint == "https://s3.eu-west-1.amazonaws.com"


def test_reader_from_environ_reads_the_session_token_and_falls_back_to_the_default_region() -> None:
    environ = {**_ENVIRON, "AWS_REGION": "", "AWS_DEFAULT_REGION": "us-west-2", "AWS_SESSION_TOKEN": "tok"}
    reader = reader_from_environ(environ)

    assert reader is not None
    assert (reader.region, reader.credentials.session_token) == ("us-west-2", "tok")
    assert "the-secret-key" not in repr(reader) + repr(reader.credentials)


@pytest.mark.parametrize(
    "change",
    [
        {"AWS_ACCESS_KEY_ID": ""},
        {"AWS_SECRET_ACCESS_KEY": ""},
        {"AWS_REGION": ""},
        {"HTTPS_PROXY": "http://proxy:3128"},
        {"AWS_USE_FIPS_ENDPOINT": "true"},
    ],
)
def test_reader_from_environ_declines_what_needs_boto3(change: dict[str, str]) -> None:
    assert reader_from_environ({**_ENVIRON, **change}) is None


@pytest.mark.parametrize("endpoint", ["ftp://127.0.0.1", "127.0.0.1:9000", "http://"])
def test_reader_refuses_an_endpoint_that_is_not_http(endpoint: str) -> None:
    with pytest.raises(ValueError, match=r"is not an http:// or https:// endpoint URL$"):
        reader_from_environ({**_ENVIRON, "AWS_ENDPOINT_URL_S3": endpoint})


# --- real GETs against SeaweedFS --------------------------------------------------------------------------------------


@pytest.fixture
def reader(s3_endpoint: str) -> S3Reader:
    found = reader_from_environ(os.environ)
    assert found is not None and found.endpoint == s3_endpoint
    return found


@pytest.mark.s3
def test_reader_gets_an_object_then_a_304_for_its_etag(reader: S3Reader, s3_bucket: str) -> None:
    _put(s3_bucket, "models/alias.json", b'{"version": "v1"}')

    status, body, etag = reader.get_object(s3_bucket, "models/alias.json")
    assert (status, body) == (200, b'{"version": "v1"}')
    assert etag.startswith('"') and etag.endswith('"')
    assert reader.get_object(s3_bucket, "models/alias.json", if_none_match=etag) == (304, b"", etag)
    assert reader.get_object(s3_bucket, "models/alias.json", if_none_match='"other"')[:2] == (200, body)


@pytest.mark.s3
@pytest.mark.parametrize(
    "key", ["a b/c.json", "ü/ñ.json", "a+b=c&d,e;f.json", "x~y_z-1.2/(1)!'*.json", "p/q@r:s$.json"]
)
def test_reader_gets_keys_that_need_encoding(reader: S3Reader, s3_bucket: str, key: str) -> None:
    _put(s3_bucket, key, key.encode())

    assert reader.get_object(s3_bucket, key)[:2] == (200, key.encode())


@pytest.mark.s3
def test_reader_missing_key_raises_404_no_such_key(reader: S3Reader, s3_bucket: str) -> None:
    with pytest.raises(S3ErrorResponse, match=r"answered 404 NoSuchKey") as raised:
        reader.get_object(s3_bucket, "nope.json")
    assert (raised.value.status, raised.value.code) == (404, "NoSuchKey")


@pytest.mark.s3
def test_reader_missing_bucket_raises_404_no_such_bucket(reader: S3Reader) -> None:
    with pytest.raises(S3ErrorResponse, match=r"answered 404 NoSuchBucket"):
        reader.get_object("no-such-bucket-4711", "nope.json")


@pytest.mark.s3
def test_reader_wrong_secret_raises_403(s3_bucket: str, monkeypatch: pytest.MonkeyPatch) -> None:
    _put(s3_bucket, "k", b"x")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "wrong-secret")
    reader = reader_from_environ(os.environ)
    assert reader is not None

    with pytest.raises(S3ErrorResponse, match=r"answered 403 SignatureDoesNotMatch") as raised:
        reader.get_object(s3_bucket, "k")
    assert raised.value.status == 403


@pytest.mark.s3
def test_reader_refuses_a_body_over_the_limit(s3_endpoint: str, s3_bucket: str) -> None:
    _put(s3_bucket, "big", b"x" * 101)
    _put(s3_bucket, "small", b"x" * 100)
    reader = S3Reader(_credentials_from_environ(), region="us-east-1", endpoint_url=s3_endpoint, max_body_bytes=100)

    with pytest.raises(S3TransportError, match=r"/big is larger than 100 bytes; refusing to read it$"):
        reader.get_object(s3_bucket, "big")
    assert reader.get_object(s3_bucket, "small")[:2] == (200, b"x" * 100)


@pytest.mark.s3
def test_reader_keeps_one_connection_alive_across_gets(reader: S3Reader, s3_bucket: str) -> None:
    _put(s3_bucket, "k", b"x")
    reader.get_object(s3_bucket, "k")
    first = reader._connection

    reader.get_object(s3_bucket, "k")

    assert first is not None and reader._connection is first
    reader.close()
    assert reader._connection is None


def test_reader_server_down_raises_could_not_connect_quickly() -> None:
    url = f"http://127.0.0.1:{_closed_port()}"
    reader = reader_from_environ({**_ENVIRON, "AWS_ENDPOINT_URL_S3": url})
    assert reader is not None
    started = time.monotonic()

    with pytest.raises(S3TransportError, match=rf'^Could not connect to the endpoint URL: "{url}/bucket/k"$'):
        reader.get_object("bucket", "k")
    assert time.monotonic() - started < 1.0


def _credentials_from_environ() -> Credentials:
    return Credentials(os.environ["AWS_ACCESS_KEY_ID"], os.environ["AWS_SECRET_ACCESS_KEY"])
