"""How the web app names a post's platform and status, and explains why a post is where it
is, in the reader's language (marked here, translated where shown)."""

from __future__ import annotations

from datetime import datetime

from services.web.i18n import N_, Translator
from shared.approvals import service as approvals
from shared.campaigns import fanout
from shared.content.platforms import PLATFORMS
from shared.posts.models import POST_STATUSES

PLATFORM_NAMES: dict[str, str] = {
    "x": N_("X"),
    "instagram": N_("Instagram"),
    "facebook": N_("Facebook"),
    "linkedin": N_("LinkedIn"),
    "google_business": N_("Google Business Profile"),
    "pinterest": N_("Pinterest"),
    "tiktok": N_("TikTok"),
    "youtube": N_("YouTube"),
}
assert set(PLATFORM_NAMES) == set(PLATFORMS)

STATUS_NAMES: dict[str, str] = {
    "draft": N_("Draft"),
    "needs_approval": N_("Waiting for approval"),
    "approved": N_("Approved"),
    "scheduled": N_("Scheduled"),
    "queued": N_("About to go out"),
    "publishing": N_("Going out"),
    "unconfirmed": N_("Being checked"),
    "published": N_("Published"),
    "failed": N_("Failed"),
    "cancelled": N_("Cancelled"),
    "skipped": N_("Skipped"),
}
assert set(STATUS_NAMES) == set(POST_STATUSES)

STATUS_MEANINGS: dict[str, str] = {
    "draft": N_("Not ready yet: it will not go out until it is scheduled."),
    "needs_approval": N_("It goes out only once someone approves it before its time."),
    "approved": N_("Approved; it goes out at its time."),
    "scheduled": N_("It goes out at its time."),
    "queued": N_("Chorus is about to send it."),
    "publishing": N_("Chorus is sending it to the platform now."),
    "unconfirmed": N_(
        "Chorus sent it but the platform did not answer; Chorus is checking whether it is "
        "there before doing anything else."
    ),
    "published": N_("It is on the platform."),
    "failed": N_("It did not go out."),
    "cancelled": N_("It was cancelled and will not go out."),
    "skipped": N_("It was not sent."),
}
assert set(STATUS_MEANINGS) == set(POST_STATUSES)

ACTOR_KINDS: dict[str, str] = {
    "system": N_("Chorus"),
    "api_key": N_("An API key"),
    "user": N_("Someone no longer in the agency"),
}
"""Who moved a post when it was not a person we can still name."""

MEDIA_KINDS: dict[str, str] = {
    "image": N_("Image"),
    "video": N_("Video"),
    "gif": N_("GIF"),
    "": N_("Media file"),
}

REASONS: dict[str, str] = {
    "the brand does not require approval of location edits": N_(
        "The brand does not require approval of location edits."
    ),
    "the brand requires approval of location edits": N_(
        "The brand requires approval of location edits."
    ),
    "edited; the brand requires approval of location edits": N_(
        "Edited; the brand requires approval of location edits."
    ),
    "edited": N_("Edited."),
    "cancelled": N_("Cancelled."),
    "retried": N_("Tried again."),
    "retried (the caller confirmed it is not at the platform)": N_(
        "Tried again (someone checked it was not at the platform)."
    ),
    "its time has come": N_("Its time came."),
    "published": N_("Published."),
    "found at the platform: it had gone out": N_("Found at the platform: it had gone out."),
    approvals.APPROVED: N_("Approved."),
    approvals.APPROVED_LATE: N_("Approved after its time."),
    approvals.NOT_DECIDED_IN_TIME: N_("Not approved before its time."),
    approvals.APPROVED_AFTER_DEADLINE: N_("Approved after the campaign's deadline."),
    approvals.NOT_DECIDED_BY_DEADLINE: N_("Not approved by the campaign's deadline."),
    fanout.NO_ACCOUNT: N_("No account of this platform is connected here."),
    fanout.NOT_ALLOWED: N_("The brand does not allow this platform."),
    fanout.TOO_LATE: N_("Its time had passed when the campaign started."),
    fanout.SCHEDULED: N_("Scheduled by the campaign."),
    fanout.LOCATION_CONFIRM: N_("Waiting for the location to confirm."),
}
"""The reasons Chorus itself gives for a post's status, in the reader's language; any other
(a platform's own words) is shown as it came."""

_CANCELLED = "cancelled: "
_REJECTED = "rejected: "
_RESCHEDULED = "rescheduled to "
_ATTEMPT = "attempt "


def explain(reason: str, t: Translator, zone: str) -> str:
    """A post's status reason for the reader: Chorus's own reasons translated (with what
    they carry: a comment, a time in the location's zone), anything else as it is."""
    if reason in REASONS:
        return t.gettext(REASONS[reason])
    if reason.startswith(_CANCELLED):
        return t.gettext("Cancelled: %(reason)s", reason=reason.removeprefix(_CANCELLED))
    if reason.startswith(_REJECTED):
        return t.gettext("Rejected: %(comment)s", comment=reason.removeprefix(_REJECTED))
    if reason.startswith(_RESCHEDULED):
        try:
            when = datetime.fromisoformat(reason.removeprefix(_RESCHEDULED))
        except ValueError:
            return reason
        return t.gettext("Moved to %(when)s.", when=t.format_datetime(when, zone, "short"))
    if reason.startswith(_ATTEMPT) and reason.removeprefix(_ATTEMPT).isdigit():
        return t.gettext("Attempt %(number)s.", number=reason.removeprefix(_ATTEMPT))
    return reason
