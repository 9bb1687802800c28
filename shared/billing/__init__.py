"""Billing and entitlements: plans, the agency's subscription as Stripe reports it, the Stripe
webhook inbox, and the one entitlement check every edge asks."""
