"""Reviews: collection per source, sentiment, needs-attention, replies and auto-replies."""

SWEEP_JOB = "reviews.sweep"
COLLECT_JOB = "reviews.collect"
SEND_REPLY_JOB = "reviews.send_reply"
