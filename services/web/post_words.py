"""How the web app names a post's platform and status, and explains why a post is where it
is, in the reader's language (marked here, translated where shown)."""

from __future__ import annotations

from services.web.i18n import N_
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
