"""The publisher: one leased batch of one agency's posts, through short transactions and the
network in between. The rule it keeps: **a post is sent again only after every earlier
attempt is known to be over**.

1. **Claim** (one transaction, rows locked): posts still holding this lease are decided —
   no connected account → ``skipped``; the account needs reconnecting → ``failed``; past the
   deadline → ``failed``. The rest stay as they are (``queued`` to publish, ``unconfirmed``
   to reconcile), held by this job: a :class:`LeaseKeeper` extends their lease every few
   seconds for as long as they wait, and nothing has been sent for them yet, so a worker
   that dies here loses nothing and doubles nothing.
2. **Start**, per group of posts that can leave *now*: the platform's :class:`Gate` (calls
   in flight from this process) grants permits, the account limiter (GCRA in Redis) takes a
   rate token per post, and one transaction turns the group ``publishing``, with a new
   attempt, ``publish_started_at`` and a lease that covers the request's whole life: the
   attempt's own timeout (``publish_attempt_timeout_seconds``, enforced here) plus the time a
   platform may still apply a write it got (``reconcile_delay_seconds``). Committed before
   any request leaves. Posts the limits hold back go back to ``scheduled`` at the time they
   allow (no attempt spent); posts past their deadline while waiting ``fail``.
3. **Network**: each publish carries the post's id as the client reference and ends within
   its attempt timeout (no answer by then → ``ambiguous``).
4. **Outcome** (one transaction per group): ``published``; ``ambiguous`` → ``unconfirmed``,
   looked up only after ``reconcile_delay_seconds`` have passed since the attempt ended;
   ``transient`` / ``rate_limited`` → ``scheduled`` again after exponential backoff with
   jitter (and the account paused on a 429), or ``failed`` once past the deadline; ``auth`` →
   ``failed`` and the account ``needs_reconnect``; ``rejected`` → ``failed`` with the
   platform's reason. Updates only rows that still hold this lease.

Why the lease starts when the request leaves rather than at the claim: a claimed post may
wait behind a slow platform for longer than any fixed lease, and a lease that ran out while
the first request was still to leave would let a second one go (issue #12: 98 of 300 posts
published twice with a 20 s platform). Reconciliation lookups have a gate of their own, so
they never queue behind the publishes they are meant to settle.

If the worker is asked to stop, :meth:`Publisher.stop` makes every job hand its waiting
posts back at once (lease released, due now: another worker takes them) and finish only the
requests already in flight, which end within their attempt timeout.

Each step writes its rows with set-based statements (``unnest`` arrays), never one statement
per post.
"""

from __future__ import annotations

import asyncio
import random
import uuid
from collections import defaultdict, deque
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import structlog
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from shared import clock
from shared.backoff import wait_seconds
from shared.config import Settings
from shared.crypto import KeyRing, keyring_from_settings
from shared.db import Database
from shared.events import service as events
from shared.media.storage import storage_from_settings
from shared.platforms import registry
from shared.platforms.errors import ErrorKind, PlatformError
from shared.platforms.types import Media, PostContent, PublishAttempt, Published, RemotePost
from shared.posts.service import PUBLISH_WINDOW
from shared.posts.transitions import SYSTEM, Moved, record_many
from shared.publishing import media as post_media
from shared.publishing.dispatcher import Lease
from shared.publishing.gate import Gate
from shared.publishing.keeper import LeaseKeeper, extend
from shared.publishing.limiter import AccountLimiter
from shared.social_accounts import sealing
from shared.social_accounts.refresh import mark_needs_reconnect

log = structlog.get_logger("chorus.publishing")

BACKOFF_BASE_S = 2.0
BACKOFF_MAX_S = 300.0

_CLAIM = text(
    """
    SELECT p.id, p.status, p.brand_id, p.location_id, p.campaign_id, p.platform, p.text,
           p.title, p.media, p.attempts, p.publish_deadline, p.publish_started_at,
           p.scheduled_at, p.due_at,
           p.external_id, p.sent_as, a.id AS account_id, a.status AS account_status,
           a.access_token AS account_token, a.external_id AS account_external_id,
           a.extra AS account_extra
    FROM post p
    LEFT JOIN social_account a
      ON a.agency_id = p.agency_id AND a.location_id = p.location_id
     AND a.platform = p.platform
    WHERE p.agency_id = :agency_id AND p.id = ANY(:ids) AND p.lease_token = :token
      AND p.status IN ('queued', 'unconfirmed')
    FOR UPDATE OF p SKIP LOCKED
    """
)

_APPLY = text(
    """
    UPDATE post AS p
    SET status = m.status,
        status_reason = m.reason,
        due_at = m.due_at,
        attempts = p.attempts + m.attempt,
        publish_started_at = COALESCE(m.started_at, p.publish_started_at),
        account_id = COALESCE(m.account_id, p.account_id),
        sent_as = COALESCE(m.sent_as, p.sent_as),
        external_id = COALESCE(m.external_id, p.external_id),
        permalink = COALESCE(m.permalink, p.permalink),
        published_at = COALESCE(m.published_at, p.published_at),
        last_error = COALESCE(m.error, p.last_error),
        lease_token = CASE WHEN m.keep_lease THEN p.lease_token END,
        updated_at = now()
    FROM unnest(
        CAST(:ids AS uuid[]), CAST(:statuses AS text[]), CAST(:reasons AS text[]),
        CAST(:due AS timestamptz[]), CAST(:attempt AS int[]), CAST(:started AS timestamptz[]),
        CAST(:accounts AS uuid[]), CAST(:external AS text[]), CAST(:permalinks AS text[]),
        CAST(:published AS timestamptz[]), CAST(:errors AS text[]), CAST(:keep AS bool[]),
        CAST(:sent_as AS text[])
    ) AS m(id, status, reason, due_at, attempt, started_at, account_id, external_id, permalink,
           published_at, error, keep_lease, sent_as)
    WHERE p.agency_id = :agency_id AND p.id = m.id AND p.lease_token = :token
    RETURNING p.id
    """
)

_COMPLETE = text(
    """
    UPDATE campaign AS c
    SET status = 'completed', completed_at = now(), updated_at = now()
    WHERE c.agency_id = :agency_id AND c.id = ANY(:ids) AND c.status = 'running'
      AND NOT EXISTS (
        SELECT 1 FROM post p
        WHERE p.agency_id = c.agency_id AND p.campaign_id = c.id
          AND p.status NOT IN ('published', 'failed', 'cancelled', 'skipped'))
    RETURNING c.id, c.brand_id
    """
)


@dataclass(slots=True)
class Change:
    """What one post becomes; the fields left None keep their value."""

    post_id: uuid.UUID
    before: str
    status: str
    reason: str
    due_at: datetime | None = None
    attempt: int = 0
    started_at: datetime | None = None
    account_id: uuid.UUID | None = None
    external_id: str | None = None
    permalink: str | None = None
    published_at: datetime | None = None
    error: str | None = None
    keep_lease: bool = False
    sent_as: str | None = None


@dataclass(frozen=True, slots=True)
class AccountRef:
    """The columns of the post's social account the publisher needs (read with the post)."""

    agency_id: uuid.UUID
    id: uuid.UUID
    status: str
    access_token: str | None
    external_id: str
    extra: dict[str, Any]


@dataclass(slots=True)
class Work:
    """A claimed post on its way to the platform."""

    post_id: uuid.UUID
    status: str  # "queued" (to publish) or "unconfirmed" (to reconcile)
    platform: str
    account: AccountRef
    content: PostContent
    attempts: int
    deadline: datetime | None
    started_at: datetime
    campaign_id: uuid.UUID | None
    lease_ends: datetime
    external_id: str | None = None
    media: list[Any] = field(default_factory=list)
    """The post's stored media items: library media become signed links just before it is
    sent (``shared.publishing.media``)."""


@dataclass(slots=True)
class BatchResult:
    published: int = 0
    retried: int = 0
    failed: int = 0
    skipped: int = 0
    unconfirmed: int = 0
    deferred: int = 0
    campaigns_completed: list[uuid.UUID] = field(default_factory=list)


def _deadline(row: Any) -> datetime | None:
    """Its own, or an hour after its time (a post approved without a deadline of its own)."""
    if row.publish_deadline is not None:
        return row.publish_deadline  # type: ignore[no-any-return]
    return row.scheduled_at + PUBLISH_WINDOW if row.scheduled_at is not None else None


def backoff(attempts: int, retry_after: float | None) -> float:
    """Exponential back-off with jitter, never sooner than the platform asked."""
    return wait_seconds(
        attempts, base_s=BACKOFF_BASE_S, max_s=BACKOFF_MAX_S, retry_after=retry_after
    )


def _content(row: Any) -> PostContent:
    media = tuple(
        Media(
            url=str(m["url"]),
            kind="video" if m.get("kind") == "video" else "image",
            alt_text=m.get("alt_text"),
        )
        for m in (row.media or [])
        if isinstance(m, dict) and m.get("url")
    )
    return PostContent(text=row.text, title=row.title, media=media)


class Publisher:
    """One per worker process: the limiter, the connectors, and per platform a gate on the
    publishes in flight (``publish_concurrency_per_platform``) and one on the reconciliation
    lookups (``reconcile_concurrency_per_platform``)."""

    def __init__(self, db: Database, limiter: AccountLimiter, settings: Settings) -> None:
        self.db = db
        self.limiter = limiter
        self.settings = settings
        self.keyring: KeyRing = keyring_from_settings(settings)
        self._gates: dict[str, Gate] = {}
        self._lookup_gates: dict[str, asyncio.Semaphore] = {}
        self._stopping = asyncio.Event()
        self._carrying: set[asyncio.Task[None]] = set()

    @property
    def attempt_timeout(self) -> float:
        return self.settings.publish_attempt_timeout_seconds

    @property
    def attempt_lease(self) -> timedelta:
        """How long a sent post's lease lasts: its request's whole life, then the time the
        platform may still apply it. Only after that may anyone look it up."""
        return timedelta(seconds=self.attempt_timeout + self.settings.reconcile_delay_seconds)

    def gate(self, platform: str) -> Gate:
        gate = self._gates.get(platform)
        if gate is None:
            gate = Gate(self.settings.publish_concurrency_per_platform)
            self._gates[platform] = gate
        return gate

    def _lookup_gate(self, platform: str) -> asyncio.Semaphore:
        gate = self._lookup_gates.get(platform)
        if gate is None:
            gate = asyncio.Semaphore(self.settings.reconcile_concurrency_per_platform)
            self._lookup_gates[platform] = gate
        return gate

    def stop(self) -> None:
        """The worker is stopping: hand back what waits, finish only what is in flight."""
        self._stopping.set()

    async def submit(self, lease: Lease) -> BatchResult:
        """Claims the batch and carries it on in this process, in the background: the publish
        job returns at once, so posts waiting behind a slow platform never hold a job slot
        another platform's batch needs. The result counts what the claim decided."""
        result = BatchResult()
        held = await self._claim(lease, result)
        if held:
            task = asyncio.create_task(self._carry(lease, held, result))
            self._carrying.add(task)
            task.add_done_callback(self._carried)
        return result

    async def run(self, lease: Lease) -> BatchResult:
        """Claims and carries the batch to its end (tests, and whoever wants the outcome)."""
        result = BatchResult()
        held = await self._claim(lease, result)
        if held:
            await self._carry(lease, held, result)
        return result

    async def drain(self) -> None:
        """Waits for the batches carried in the background (after :meth:`stop`: only for the
        requests in flight, each bounded by its attempt timeout)."""
        while self._carrying:
            await asyncio.gather(*self._carrying, return_exceptions=True)

    def _carried(self, task: asyncio.Task[None]) -> None:
        self._carrying.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.error("publish.batch_failed", exc_info=task.exception())

    async def _carry(self, lease: Lease, held: list[Work], result: BatchResult) -> None:
        keeper = LeaseKeeper(
            self.db,
            lease,
            (w.post_id for w in held),
            every=max(0.5, self.settings.queue_lease_seconds / 3),
            extend_by=timedelta(seconds=self.settings.queue_lease_seconds),
        )
        async with keeper.running():
            held = await self._with_media(lease, held, keeper, result)
            by_platform: dict[str, list[Work]] = defaultdict(list)
            lookups: list[Work] = []
            for w in held:
                (lookups if w.status == "unconfirmed" else by_platform[w.platform]).append(w)
            await asyncio.gather(
                *(self._publish(lease, works, keeper, result) for works in by_platform.values()),
                *([self._reconcile(lease, lookups, keeper, result)] if lookups else []),
            )

    # -- library media ------------------------------------------------------------------------

    async def _with_media(
        self, lease: Lease, held: list[Work], keeper: LeaseKeeper, result: BatchResult
    ) -> list[Work]:
        """The posts that may go, their library media turned into signed links to the files
        their platform takes; a post whose media cannot be sent (deleted, not ready, usage
        rights ended, refused by the placement) fails now, saying why, before anything is
        sent. A failure to reach the storage hands the posts back to try again later."""
        sending = [w for w in held if w.status == "queued" and post_media.library_ids(w.media)]
        if not sending:
            return held
        now = clock.now()
        changes: list[Change] = []
        try:
            async with (
                storage_from_settings(self.settings) as storage,
                self.db.transaction(lease.agency_id) as session,
            ):
                prepared = await post_media.prepare(
                    session,
                    storage,
                    self.settings,
                    lease.agency_id,
                    [
                        post_media.PostToSend(w.post_id, w.platform, w.media, w.content)
                        for w in sending
                    ],
                    now,
                )
                for w in sending:
                    outcome = prepared.get(w.post_id)
                    if isinstance(outcome, post_media.Refused):
                        reason = f"not published: {outcome.reason}"
                        changes.append(Change(w.post_id, "queued", "failed", reason, error=reason))
                        result.failed += 1
                    elif outcome is not None:
                        w.content = outcome
                await _apply(session, lease, changes)
        except Exception as exc:
            log.warning("publish.media_unavailable", posts=len(sending), exc_info=True)
            error = PlatformError(
                ErrorKind.TRANSIENT,
                sending[0].platform,
                "Chorus could not prepare this post's media",
                detail=type(exc).__name__,
            )
            again = [self._again(w, "queued", now, error, error.message) for w in sending]
            async with self.db.transaction(lease.agency_id) as session:
                await _apply(session, lease, again)
            changes = again
        gone = {c.post_id for c in changes}
        keeper.let_go(gone)
        return [w for w in held if w.post_id not in gone]

    # -- 1. claim -------------------------------------------------------------------------------

    async def _claim(self, lease: Lease, result: BatchResult) -> list[Work]:
        """Ends what cannot go out; holds the rest (nothing is sent yet)."""
        now = clock.now()
        changes: list[Change] = []
        held: list[Work] = []
        async with self.db.transaction(lease.agency_id) as session:
            rows = (
                await session.execute(
                    _CLAIM,
                    {
                        "agency_id": lease.agency_id,
                        "ids": list(lease.post_ids),
                        "token": lease.token,
                    },
                )
            ).all()
            for row in rows:
                account = (
                    AccountRef(
                        lease.agency_id,
                        row.account_id,
                        row.account_status,
                        row.account_token,
                        row.account_external_id,
                        row.account_extra or {},
                    )
                    if row.account_id
                    else None
                )
                ending = _ending(row, account, now)
                if ending is not None:
                    changes.append(ending)
                    if ending.status == "skipped":
                        result.skipped += 1
                    else:
                        result.failed += 1
                    continue
                assert account is not None
                held.append(_work(row, account))
            await _apply(session, lease, changes)
            # The job may have waited in the queue: if the lease would end before the keeper's
            # first beat, it runs from now.
            lease_for = timedelta(seconds=self.settings.queue_lease_seconds)
            if held and min(w.lease_ends for w in held) - now < lease_for / 2:
                await extend(session, lease, [w.post_id for w in held], now + lease_for)
        return held

    # -- 2. start, 3. network, 4. outcome: publishes ------------------------------------------

    async def _publish(
        self, lease: Lease, works: list[Work], keeper: LeaseKeeper, result: BatchResult
    ) -> None:
        """Sends the batch's posts of one platform, a group at a time as the gate allows."""
        gate = self.gate(works[0].platform)
        waiting = deque(works)
        groups: list[asyncio.Task[None]] = []
        try:
            while waiting and not self._stopping.is_set():
                granted = await self._acquire(gate, len(waiting))
                if granted == 0:
                    break
                group = [waiting.popleft() for _ in range(granted)]
                groups.append(
                    asyncio.create_task(self._send_group(lease, group, gate, keeper, result))
                )
        finally:
            if groups:
                await asyncio.gather(*groups, return_exceptions=True)
        if waiting:
            await self._hand_back(lease, list(waiting), keeper)

    async def _acquire(self, gate: Gate, want: int) -> int:
        """Permits for up to ``want`` posts, or 0 once the worker is stopping."""
        acquire = asyncio.ensure_future(gate.acquire(want))
        stopping = asyncio.ensure_future(self._stopping.wait())
        try:
            await asyncio.wait({acquire, stopping}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            stopping.cancel()
        if acquire.done():
            granted = acquire.result()
            if not self._stopping.is_set():
                return granted
            gate.release(granted)
            return 0
        acquire.cancel()
        try:
            granted = await acquire
        except asyncio.CancelledError:
            return 0
        gate.release(granted)  # granted just as it was cancelled
        return 0

    async def _send_group(
        self,
        lease: Lease,
        group: list[Work],
        gate: Gate,
        keeper: LeaseKeeper,
        result: BatchResult,
    ) -> None:
        permits = len(group)
        try:
            started = await self._start(lease, group, keeper, result)
            gate.release(permits - len(started))
            permits = len(started)
            if not started:
                return
            permits = 0  # from here each send gives its permit back as it ends
            outcomes = await asyncio.gather(*(self._send(w, gate) for w in started))
            await self._settle(lease, list(zip(started, outcomes, strict=True)), result)
        except Exception:
            # The database went away between start and outcome: posts marked publishing keep
            # the lease their attempt set, and are reconciled after it; posts not started
            # lose their lease in a while and go again. Either way nothing is sent twice.
            log.warning("publish.group_failed", posts=len(group), exc_info=True)
        finally:
            if permits:
                gate.release(permits)

    async def _start(
        self, lease: Lease, group: list[Work], keeper: LeaseKeeper, result: BatchResult
    ) -> list[Work]:
        """Turns the group ``publishing`` (committed before anything is sent); returns what
        may go now."""
        group = [w for w in group if w.post_id not in keeper.lost]
        if not group:
            return []
        now = clock.now()
        changes: list[Change] = []
        eligible: list[Work] = []
        for w in group:
            if w.deadline is not None and now > w.deadline:
                changes.append(
                    Change(
                        w.post_id,
                        "queued",
                        "failed",
                        "not published by its deadline; Chorus does not post late",
                    )
                )
                result.failed += 1
            else:
                eligible.append(w)
        limits = registry.connector(group[0].platform, self.settings).limits
        verdicts = await self.limiter.take_many(
            [(w.account.id, w.platform, limits) for w in eligible]
        )
        starting: list[Work] = []
        for w, verdict in zip(eligible, verdicts, strict=True):
            if not verdict.allowed:
                wait = timedelta(seconds=verdict.retry_after + random.uniform(0, 0.5))
                changes.append(
                    Change(
                        w.post_id,
                        "queued",
                        "scheduled",
                        "waiting for the account's publishing limits",
                        due_at=now + wait,
                    )
                )
                result.deferred += 1
                continue
            changes.append(
                Change(
                    w.post_id,
                    "queued",
                    "publishing",
                    f"attempt {w.attempts}",
                    due_at=now + self.attempt_lease,
                    attempt=1,
                    started_at=now,
                    account_id=w.account.id,
                    keep_lease=True,
                    sent_as=w.account.external_id,
                )
            )
            w.started_at = now
            starting.append(w)
        async with self.db.transaction(lease.agency_id) as session:
            applied = await _apply(session, lease, changes)
        keeper.let_go(w.post_id for w in group)
        return [w for w in starting if w.post_id in applied]

    async def _send(self, work: Work, gate: Gate) -> Published | PlatformError:
        try:
            connector = registry.connector(work.platform, self.settings)
            async with asyncio.timeout(self.attempt_timeout):
                return await connector.publish(self._auth(work), work.content, str(work.post_id))
        except PlatformError as exc:
            return exc
        except TimeoutError:
            return PlatformError(
                ErrorKind.AMBIGUOUS,
                work.platform,
                f"{work.platform} did not answer within {self.attempt_timeout:g} s; Chorus "
                "checks whether the post went out before trying again",
                code="attempt_timeout",
            )
        except Exception as exc:  # a bug, or a failure the connector did not classify
            log.exception("publish.unexpected_error", post_id=str(work.post_id))
            return PlatformError(
                ErrorKind.AMBIGUOUS,  # it may have gone out: look before sending again
                work.platform,
                "Chorus hit an unexpected error publishing this post; it checks whether the "
                "post went out before trying again",
                detail=type(exc).__name__,
            )
        finally:
            gate.release(1)

    def _auth(self, work: Work) -> Any:
        ref = work.account
        assert ref.access_token is not None
        return sealing.auth_from(
            ref.agency_id, ref.id, ref.access_token, ref.external_id, ref.extra, self.keyring
        )

    async def _hand_back(self, lease: Lease, works: list[Work], keeper: LeaseKeeper) -> None:
        """Posts this job will not send (the worker is stopping): due now, for anyone."""
        keeper.let_go(w.post_id for w in works)
        now = clock.now()
        changes = [
            Change(
                w.post_id,
                w.status,
                w.status,
                "handed back by a stopping worker; another takes it",
                due_at=now,
            )
            for w in works
        ]
        try:
            async with self.db.transaction(lease.agency_id) as session:
                await _apply(session, lease, changes)
        except Exception:  # their lease runs out soon and the dispatcher hands them on
            log.warning("publish.hand_back_failed", posts=len(works), exc_info=True)

    # -- reconciliation -------------------------------------------------------------------------

    async def _reconcile(
        self, lease: Lease, works: list[Work], keeper: LeaseKeeper, result: BatchResult
    ) -> None:
        """Asks the platform about posts whose earlier attempt ended without an answer."""
        outcomes = await asyncio.gather(*(self._look_up(w) for w in works))
        asked = [(w, o) for w, o in zip(works, outcomes, strict=True) if o is not _NOT_ASKED]
        keeper.let_go(w.post_id for w, _ in asked)
        unasked = [w for w in works if w.post_id in keeper.held]
        if asked:
            await self._settle(lease, asked, result)
        if unasked:
            await self._hand_back(lease, unasked, keeper)

    async def _look_up(self, work: Work) -> Any:
        if self._stopping.is_set():
            return _NOT_ASKED
        async with self._lookup_gate(work.platform):
            if self._stopping.is_set():
                return _NOT_ASKED
            connector = registry.connector(work.platform, self.settings)
            try:
                async with asyncio.timeout(self.attempt_timeout):
                    return await connector.fetch_post_status(
                        self._auth(work),
                        PublishAttempt(
                            client_ref=str(work.post_id),
                            content=work.content,
                            started_at=work.started_at,
                            external_id=work.external_id,
                        ),
                    )
            except PlatformError as exc:
                return exc
            except TimeoutError:
                return PlatformError(
                    ErrorKind.TRANSIENT,
                    work.platform,
                    f"{work.platform} did not answer within {self.attempt_timeout:g} s",
                    code="attempt_timeout",
                )
            except Exception as exc:  # still unknown: asked again later
                log.exception("publish.lookup_unexpected_error", post_id=str(work.post_id))
                return PlatformError(
                    ErrorKind.TRANSIENT,
                    work.platform,
                    "Chorus hit an unexpected error checking this post",
                    detail=type(exc).__name__,
                )

    # -- outcome --------------------------------------------------------------------------------

    async def _settle(
        self,
        lease: Lease,
        outcomes: list[tuple[Work, Any]],
        result: BatchResult,
    ) -> None:
        now = clock.now()
        changes: list[Change] = []
        reconnect: dict[uuid.UUID, tuple[AccountRef, PlatformError]] = {}
        pauses: dict[uuid.UUID, float] = {}
        for work, outcome in outcomes:
            before = "unconfirmed" if work.status == "unconfirmed" else "publishing"
            if isinstance(outcome, (Published, RemotePost)):
                changes.append(
                    Change(
                        work.post_id,
                        before,
                        "published",
                        "published"
                        if before == "publishing"
                        else "found at the platform: it had gone out",
                        external_id=outcome.external_id,
                        permalink=outcome.permalink,
                        published_at=outcome.published_at or now,
                        account_id=work.account.id,
                    )
                )
                result.published += 1
            elif isinstance(outcome, PlatformError) and before == "unconfirmed":
                # The check itself failed: still unknown. Ask again later; never publish
                # again before knowing. A refused token will not heal by itself: the
                # location is asked to reconnect, and the next check uses the new one.
                changes.append(self._unknown(work, now, outcome))
                if outcome.kind is ErrorKind.AUTH:
                    reconnect[work.account.id] = (work.account, outcome)
                result.unconfirmed += 1
            elif outcome is None:  # reconciled: not there, so it never went out
                changes.append(self._again(work, before, now, None, "not found at the platform"))
                result.retried += 1
            elif outcome.kind is ErrorKind.AMBIGUOUS:
                # The attempt is over on our side; the platform may still apply it for a
                # while. Look it up only after that.
                delay = timedelta(seconds=self.settings.reconcile_delay_seconds)
                changes.append(
                    Change(
                        work.post_id,
                        before,
                        "unconfirmed",
                        outcome.message,
                        due_at=now + delay,
                        error=outcome.message,
                    )
                )
                result.unconfirmed += 1
            elif outcome.kind in (ErrorKind.TRANSIENT, ErrorKind.RATE_LIMITED):
                if outcome.kind is ErrorKind.RATE_LIMITED:
                    pauses[work.account.id] = max(
                        pauses.get(work.account.id, 0.0), outcome.retry_after or 60.0
                    )
                change = self._again(work, before, now, outcome, outcome.message)
                changes.append(change)
                if change.status == "failed":
                    result.failed += 1
                else:
                    result.retried += 1
            elif outcome.kind is ErrorKind.AUTH:
                changes.append(
                    Change(
                        work.post_id,
                        before,
                        "failed",
                        outcome.message,
                        error=outcome.detail or outcome.message,
                    )
                )
                reconnect[work.account.id] = (work.account, outcome)
                result.failed += 1
            else:
                changes.append(
                    Change(
                        work.post_id,
                        before,
                        "failed",
                        outcome.message,
                        error=outcome.detail or outcome.message,
                    )
                )
                result.failed += 1
        for account_id, seconds in pauses.items():
            await self.limiter.pause(account_id, seconds)
        async with self.db.transaction(lease.agency_id) as session:
            await _apply(session, lease, changes)
            for account, error in reconnect.values():
                await mark_needs_reconnect(session, account.agency_id, account.id, error)
            campaigns = list({w.campaign_id for w, _ in outcomes if w.campaign_id})
            if campaigns:
                result.campaigns_completed += await complete_campaigns(
                    session, lease.agency_id, campaigns
                )

    def _unknown(self, work: Work, now: datetime, error: PlatformError) -> Change:
        """A reconciliation that got no answer. Gives up (failed, saying so) only long
        after the deadline: a post that may be out must not be sent again."""
        give_up = (work.deadline or now) + timedelta(
            seconds=self.settings.reconcile_give_up_seconds
        )
        if now > give_up:
            return Change(
                work.post_id,
                "unconfirmed",
                "failed",
                "Chorus could not find out from the platform whether this post went out; "
                "check the account before posting it again",
                error=error.detail or error.message,
            )
        wait = timedelta(seconds=backoff(work.attempts, error.retry_after))
        reason = f"could not check with the platform yet ({error.kind.value}); asking again"
        if error.kind is ErrorKind.AUTH:
            reason = (
                f"the {work.platform} account refused Chorus's check ({error.kind.value}); "
                "reconnect it so Chorus can find out whether this post went out"
            )
        return Change(
            work.post_id,
            "unconfirmed",
            "unconfirmed",
            reason,
            due_at=now + wait,
            error=error.detail or error.message,
        )

    def _again(
        self,
        work: Work,
        before: str,
        now: datetime,
        error: PlatformError | None,
        reason: str,
    ) -> Change:
        retry_after = error.retry_after if error else None
        when = now + timedelta(seconds=backoff(work.attempts, retry_after))
        detail = (error.detail or error.message) if error else None
        if work.deadline is not None and when > work.deadline:
            return Change(
                work.post_id,
                before,
                "failed",
                f"{reason}; retries stopped at its deadline",
                error=detail,
            )
        return Change(
            work.post_id,
            before,
            "scheduled",
            f"{reason}; trying again",
            due_at=when if error else now,
            error=detail,
        )


_NOT_ASKED: Any = object()
"""A lookup the stopping worker did not make."""


def _ending(row: Any, account: AccountRef | None, now: datetime) -> Change | None:
    """What a claimed post ends as before anything is sent, or None: it may go."""
    deadline = _deadline(row)
    if row.status == "unconfirmed":
        if account is None or account.access_token is None:
            return Change(
                row.id,
                row.status,
                "failed",
                "the account was disconnected before Chorus could check whether the post went out",
            )
        if row.sent_as is not None and row.sent_as != account.external_id:
            # Looking it up through another platform account proves nothing: "not found"
            # there would send it a second time.
            return Change(
                row.id,
                row.status,
                "failed",
                f"the location's {row.platform} account was replaced by another before Chorus "
                f"could check whether the post went out on the old one ({row.sent_as}); "
                "check that account before posting it again",
            )
        return None
    if account is None or account.status == "revoked" or account.access_token is None:
        return Change(
            row.id, row.status, "skipped", f"no connected {row.platform} account for this location"
        )
    if account.status == "needs_reconnect":
        return Change(
            row.id, row.status, "failed", f"the {row.platform} account needs reconnecting"
        )
    if deadline is not None and now > deadline:
        return Change(
            row.id,
            row.status,
            "failed",
            "not published by its deadline; Chorus does not post late",
        )
    return None


def _work(row: Any, account: AccountRef) -> Work:
    unconfirmed = row.status == "unconfirmed"
    return Work(
        post_id=row.id,
        status=row.status,
        platform=row.platform,
        account=account,
        content=_content(row),
        media=list(row.media or []),
        attempts=row.attempts + (0 if unconfirmed else 1),
        deadline=_deadline(row),
        started_at=row.publish_started_at if unconfirmed else clock.now(),
        campaign_id=row.campaign_id,
        lease_ends=row.due_at,
        external_id=row.external_id,
    )


async def _apply(session: AsyncSession, lease: Lease, changes: list[Change]) -> set[uuid.UUID]:
    """Write the changes to the rows still holding the lease; record their history."""
    if not changes:
        return set()
    applied = {
        row[0]
        for row in (
            await session.execute(
                _APPLY,
                {
                    "agency_id": lease.agency_id,
                    "token": lease.token,
                    "ids": [c.post_id for c in changes],
                    "statuses": [c.status for c in changes],
                    "reasons": [c.reason for c in changes],
                    "due": [c.due_at for c in changes],
                    "attempt": [c.attempt for c in changes],
                    "started": [c.started_at for c in changes],
                    "accounts": [c.account_id for c in changes],
                    "external": [c.external_id for c in changes],
                    "permalinks": [c.permalink for c in changes],
                    "published": [c.published_at for c in changes],
                    "errors": [c.error for c in changes],
                    "keep": [c.keep_lease for c in changes],
                    "sent_as": [c.sent_as for c in changes],
                },
            )
        ).all()
    }
    moves = [
        Moved(c.post_id, c.before, c.status, c.reason) for c in changes if c.post_id in applied
    ]
    await record_many(session, lease.agency_id, moves, actor=SYSTEM)
    return applied


async def complete_campaigns(
    session: AsyncSession, agency_id: uuid.UUID, campaign_ids: list[uuid.UUID]
) -> list[uuid.UUID]:
    """Campaigns of which every post has reached an ending become ``completed``."""
    done = (await session.execute(_COMPLETE, {"agency_id": agency_id, "ids": campaign_ids})).all()
    for campaign_id, brand_id in done:
        events.emit(
            session,
            agency_id=agency_id,
            type="campaign.completed",
            subject_type="campaign",
            subject_id=campaign_id,
            brand_id=brand_id,
        )
    return [c for c, _ in done]
