"""What a user is told when a background job fails (never a traceback: that goes to the log).

Bad input does not come here: ``components.job.run_job`` shows the message of an ``InputError`` (or a
config's ``ValueError``) inside the job itself; what reaches ``job_error_message`` is a bug or a lost process.
"""

from __future__ import annotations

import logging

__all__ = ["LOST_MESSAGE", "job_error_message"]

log = logging.getLogger(__name__)

#: What a user sees when the process running their job was lost (a Celery worker, or a job subprocess).
LOST_MESSAGE = ("the process running this job stopped before it finished (killed, out of memory, or its "
                "worker restarted); nothing was saved. Press Run to start it again.")


def job_error_message(err: Exception) -> str:
    """What to tell a user about a failed background job (never a traceback: that goes to the log)."""
    if LOST_MESSAGE in str(err):
        return LOST_MESSAGE
    log.error("background job failed: %s", err)
    return "the job failed with an internal error (the server log has details). Press Run to try again."

