"""What the sender delivers from: an outbox store, and the channel a message goes by.

:class:`OutboxStore` is the one interface the sender (alerting.sender) loops over; the
local SQLite outbox (:class:`alerting.outbox.Outbox`) and the cluster's shared outbox
(:class:`alerting.cluster_state.ClusterOutbox`) are its two implementations. A message is
*claimed* before its delivery starts and then finished as sent, retried later or failed;
a claim that is never finished (the sender died) makes the message due again, locally at
once, in the cluster when the claim's lease runs out. A message's channel follows from its
recipient: an ``http(s)://`` URL is a webhook endpoint (alerting.webhook), anything else an
email address (alerting.mailer). Reads no settings.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal, Protocol, TypeVar

Channel = Literal["email", "webhook"]
Item = TypeVar("Item")


def channel_of(recipient: str) -> Channel:
    """The channel of a recipient: a webhook URL or an email address."""
    return "webhook" if recipient.startswith(("http://", "https://")) else "email"


@dataclass(frozen=True)
class OutMessage:
    message_id: str
    recipient: str
    subject: str
    text_body: str
    html_body: str
    alert_ids: list[str]
    status: str
    attempts: int
    next_attempt: float
    last_error: str
    created_at: float
    sent_at: float | None
    server_reply: str

    @property
    def channel(self) -> Channel:
        return channel_of(self.recipient)


@dataclass(frozen=True)
class Claim:
    """A message this sender owns until it finishes it; ``message.attempts`` counts this
    attempt. ``token`` is what the store needs to finish it (the cluster: the version)."""

    message: OutMessage
    token: object = None


class OutboxStore(Protocol[Item]):
    """Where the sender finds due messages. Every method raises
    :class:`~errors.BackendUnavailable` (cluster) or ``sqlite3.Error`` (local file) when
    the store cannot be read or written; the message then stays where it was."""

    name: str

    def compose(self, now: float) -> int:
        """Turn every closed digest into its messages; returns how many were made."""

    def due(self, now: float, limit: int) -> Sequence[Item]:
        """Messages to deliver now, oldest first (opaque to the sender: it claims them)."""

    def peek(self, item: Item) -> OutMessage:
        """The message as it stands, unclaimed (to skip it without touching it)."""

    def claim(self, item: Item, now: float) -> Claim | None:
        """Take one due message for this sender; ``None`` when another sender took it."""

    def sent(self, claim: Claim, reply: str, at: float) -> None: ...

    def retry(self, claim: Claim, until: float, error: str) -> None: ...

    def failed(self, claim: Claim, error: str, at: float) -> None: ...

    def postpone(self, now: float, until: float, error: str, channel: Channel) -> int:
        """Push the due messages of one channel to ``until`` (its server is down)."""

    def close(self) -> None: ...
