"""A throwaway certificate authority for fakes that must speak TLS under a real API's host name.

Some SDKs build their URLs on the provider's https host (tweepy: api.twitter.com) and take only a
session to send them with. The fake then serves TLS with a certificate for that name from this CA,
and the adapter trusts the CA file and connects the name to the fake's loopback port.
"""

from __future__ import annotations

import ssl
from dataclasses import dataclass
from pathlib import Path

import trustme


@dataclass(frozen=True)
class LoopbackCA:
    ca: trustme.CA
    ca_file: Path

    def server_context(self, *hosts: str) -> ssl.SSLContext:
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        self.ca.issue_cert(*hosts).configure_cert(context)
        return context


def make_ca(folder: Path) -> LoopbackCA:
    ca = trustme.CA()
    path = folder / "test-ca.pem"
    ca.cert_pem.write_to_path(str(path))
    return LoopbackCA(ca, path)
