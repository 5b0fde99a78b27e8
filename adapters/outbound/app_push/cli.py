"""`broadcaster vapid`: make the town's push identity (docs/push.md); registered under the
`broadcaster.commands` entry point."""

from __future__ import annotations

import sys

import click

from adapters.outbound.app_push.vapid import generate, load_private_key, public_key_b64
from broadcaster.errors import ConfigError


@click.group()
def vapid() -> None:
    """VAPID keys for the town app's Web Push (RFC 8292)."""


@vapid.command("generate")
def vapid_generate() -> None:
    """Print a new key pair, as settings. Make it once: subscriptions only work with their key."""
    private, public = generate()
    click.echo("# The private key is a secret: put it in the settings file or the environment, never in git.")
    click.echo("[channels.app_push.credentials]")
    click.echo(f'vapid_private_key = "{private}"')
    click.echo("")
    click.echo("# or: BROADCASTER_CHANNELS__APP_PUSH__CREDENTIALS__VAPID_PRIVATE_KEY=" + private)
    click.echo(f"# public key (the PWA's applicationServerKey; served to the app by itself): {public}")


@vapid.command("public-key")
def vapid_public_key() -> None:
    """Read a private key on standard input and print its public key."""
    try:
        click.echo(public_key_b64(load_private_key(sys.stdin.read())))
    except ConfigError as e:
        raise click.ClickException(str(e)) from e
