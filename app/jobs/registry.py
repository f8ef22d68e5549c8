"""The registry of job functions and crons, shared by the arq worker and the in-process runner."""

from __future__ import annotations

from app.accounts.tasks import purge_oauth_states, refresh_tokens
from app.events.tasks import deliver_webhook, sweep_webhooks
from app.inbound.tasks import process_inbound_delivery, sweep_inbound_deliveries
from app.insights.tasks import refresh_insights
from app.jobs.crons import EVERY_FIVE_SECONDS, CronSpec
from app.jobs.queue import JobSpec
from app.publishing.tasks import post_first_comment, publish_post, recover_posts, sweep_posts
from app.uploads.tasks import expire_uploads

JOBS: list[JobSpec] = [
    # Deferrals (video processing, schedules, quota) are retries in arq's count; the state machine bounds
    # the real attempts itself, so arq's cap only stops a job that could never finish.
    JobSpec(publish_post, max_tries=1000),
    # The first-comment step bounds its own attempts too (PUBLISH_MAX_ATTEMPTS); its waits are deferrals.
    JobSpec(post_first_comment, max_tries=100),
    JobSpec(refresh_insights, max_tries=1),
    JobSpec(refresh_tokens, max_tries=1),
    JobSpec(deliver_webhook, max_tries=3),
    # Also asked for at once by a data deletion (app/inbound), so the erased user's upload files go now.
    JobSpec(expire_uploads, max_tries=1),
    # It records its own failures for the sweeper; arq's tries only cover a worker killed while it ran.
    JobSpec(process_inbound_delivery, max_tries=5),
]

CRONS: list[CronSpec] = [
    CronSpec(sweep_posts, run_at_startup=True),
    # A post whose runner died is published within seconds, not after arq's in-progress timeout.
    CronSpec(recover_posts, seconds=EVERY_FIVE_SECONDS, quiet=True),
    CronSpec(sweep_webhooks, run_at_startup=True),
    # Instagram's deliveries a killed worker left pending are processed within seconds.
    CronSpec(sweep_inbound_deliveries, seconds=frozenset(range(0, 60, 10)), run_at_startup=True, quiet=True),
    CronSpec(refresh_insights, hours=frozenset({0, 6, 12, 18}), minutes=frozenset({0})),
    CronSpec(refresh_tokens, hours=frozenset({3}), minutes=frozenset({30})),
    CronSpec(purge_oauth_states, minutes=frozenset({45})),
    # Uploads unused for 7 days, or published and not kept: their rows, then their files.
    CronSpec(expire_uploads, minutes=frozenset(range(0, 60, 10)), run_at_startup=True),
]
