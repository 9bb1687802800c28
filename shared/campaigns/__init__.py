"""Campaigns: a published template version sent to an audience of locations on channels at a
schedule; fanned out into one post per location and channel."""
