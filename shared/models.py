"""Imports every model so ``Base.metadata`` is complete (Alembic, tests)."""

from shared.access.models import ApiKey, Invitation, Membership
from shared.agencies.models import Agency
from shared.audit.models import AuditEvent
from shared.billing.models import BillingAccount, StripeEvent
from shared.brand_rules.models import BrandRules
from shared.brands.models import Brand
from shared.campaigns.models import Campaign, IdempotentRequest
from shared.events.models import OutboxEvent
from shared.identity.models import RefreshToken, User
from shared.locations.models import Location, LocationGroup, LocationGroupMember
from shared.mail.models import OutboundEmail
from shared.media.models import Media, MediaBlob, MediaDerivative, MediaUpload
from shared.metrics.models import DailyMetric, MetricRollup, PostMetric
from shared.posts.models import Post, PostStatusChange
from shared.reviews.models import AutoReplyRule, Review, ReviewSettings, ReviewSource
from shared.social_accounts.models import SocialAccount
from shared.templates.models import Template, TemplateVersion

__all__ = [
    "Agency",
    "ApiKey",
    "AuditEvent",
    "AutoReplyRule",
    "BillingAccount",
    "Brand",
    "BrandRules",
    "Campaign",
    "IdempotentRequest",
    "Invitation",
    "Location",
    "LocationGroup",
    "LocationGroupMember",
    "Media",
    "MediaBlob",
    "MediaDerivative",
    "MediaUpload",
    "Membership",
    "DailyMetric",
    "MetricRollup",
    "OutboundEmail",
    "OutboxEvent",
    "Post",
    "PostMetric",
    "PostStatusChange",
    "RefreshToken",
    "Review",
    "ReviewSettings",
    "ReviewSource",
    "SocialAccount",
    "StripeEvent",
    "Template",
    "TemplateVersion",
    "User",
]
